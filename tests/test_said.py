"""SAID's per-tensor scales (wrap(said=True)): the definition, every derivative, sweeps,
files and measurements."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

import subspace
from subspace.sweep import Member, make_sweep, member_subspace
from tests.test_projections import hvp, materialise
from tests.test_study import CNN_TASK, _images

PARAMS = {"w": jax.random.normal(jax.random.key(0), (3, 4)), "b": jnp.full((4,), 0.1)}
X = jax.random.normal(jax.random.key(1), (6, 3))


def _loss(p):
    return jnp.mean(jnp.tanh(X.astype(p["w"].dtype) @ p["w"] + p["b"]) ** 2)


@pytest.mark.parametrize("kind", ["dense", "fastfood", "kronqr"])
def test_said_is_its_definition_with_every_derivative_in_float64(kind):
    with jax.enable_x64(True):
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), PARAMS)
        d = 7  # m = 2 scales (b, then w in tree order) and 5 coordinates through P
        sub = subspace.wrap(params, d, projection=kind, key=jax.random.key(2), said=True)
        assert sub.m == 2 and sub.said and sub.zeros().shape == (7,)
        P = materialise(sub.projection, sub.state, 5)  # P of d - m = 5 columns
        assert P.shape == (16, 5)
        flat0, unravel = jax.flatten_util.ravel_pytree(params)  # b (4), then w (12)

        def reference(z):  # θ = θ0 + diag(1 + z_l per tensor) P z'
            scales = jnp.concatenate([jnp.full(4, 1 + z[0]), jnp.full(12, 1 + z[1])])
            return _loss(unravel(flat0 + scales * (P @ z[2:])))

        def ours(z):
            return _loss(sub.params(z))

        z, v = jax.random.normal(jax.random.key(3), (2, d), jnp.float64)
        tight = {"rtol": 1e-10, "atol": 1e-12}
        np.testing.assert_allclose(ours(z), reference(z), **tight)
        np.testing.assert_allclose(
            jax.jvp(ours, (z,), (v,))[1], jax.jvp(reference, (z,), (v,))[1], **tight
        )
        np.testing.assert_allclose(jax.grad(ours)(z), jax.grad(reference)(z), **tight)
        np.testing.assert_allclose(
            jax.jit(jax.hessian(ours))(z), jax.hessian(reference)(z), **tight
        )
        np.testing.assert_allclose(hvp(ours, z, v), hvp(reference, z, v), **tight)
        # z = 0 on the scales is the plain subspace of d - m with the same key.
        plain = subspace.wrap(params, 5, projection=kind, key=jax.random.key(2))
        z0 = z.at[:2].set(0.0)
        np.testing.assert_allclose(sub.flat(z0), plain.flat(z[2:]), **tight)
        np.testing.assert_array_equal(sub.flat(jnp.zeros(d)), flat0)  # z = 0 is θ0


@pytest.mark.parametrize("kind", ["fastfood", "kronqr"])
def test_a_said_sweep_member_equals_the_member_alone(kind):
    import optax

    data = _images()
    sweep = make_sweep(CNN_TASK, optax.sgd(0.5), projection=kind, width=12, said=True)
    members = [(8, 0), (12, 1)]
    ds, seeds = np.array(members).T
    out = subspace.train_group(sweep, (ds, seeds), steps=5, data=data, batch_size=50)
    m = len(jax.tree_util.tree_leaves(CNN_TASK.init(jax.random.key(0))[0]))
    assert m == 6 and (out["z"][0, 8:] == 0).all() and (out["z"][:, :m] != 0).all()
    for i, (d, seed) in enumerate(members):
        sub, state, key = member_subspace(
            CNN_TASK, Member(d, seed), projection=kind, width=12, said=True
        )
        trainer = subspace.make_trainer(
            lambda z, s, b, k, sub=sub: CNN_TASK.loss_fn(sub.params(z), s, b, k),
            optax.sgd(0.5),  # not Adam: the conv bias before BatchNorm has a 0 gradient
        )
        train = trainer.init(sub.zeros(), key=key, model_state=state)
        update = jax.jit(trainer.update)
        rows = subspace.data.step_indices(500, 50, 5, 0)
        for r in rows:
            train, _ = update(train, (data.train_x[r], data.train_y[r]))
        assert np.abs(out["z"][i, :d]).max() > 1e-3  # it moved; the same to float rounding
        np.testing.assert_allclose(np.asarray(train.z), out["z"][i, :d], rtol=1e-4, atol=1e-5)


def test_said_files_round_trip_and_are_checked(tmp_path):
    sub = subspace.wrap(PARAMS, 6, projection="kronqr", key=jax.random.key(4), said=True)
    z = jnp.linspace(-0.5, 0.5, 6)
    path = subspace.save_compressed(tmp_path / "s.npz", sub, z, key=jax.random.key(4))
    assert subspace.compress.compressed_header(path)["said"] is True
    back = subspace.load_compressed(path, theta0=PARAMS)
    assert back.subspace.said and back.subspace.m == 2
    jax.tree_util.tree_map(np.testing.assert_array_equal, back.params, sub.params(z))


def test_said_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match="said=True needs a model with at least 2 parameter"):
        subspace.wrap({"w": jnp.ones(5)}, 3, key=jax.random.key(0), said=True)
    with pytest.raises(ValueError, match=r"d must be > m = 2 \(the model's parameter tensors"):
        subspace.wrap(PARAMS, 2, key=jax.random.key(0), said=True)
    with pytest.raises(TypeError, match="said must be"):
        subspace.wrap(PARAMS, 4, key=jax.random.key(0), said="yes")
    with pytest.raises(ValueError, match="said-fastfood"):
        subspace.Grid(dims=(5,), projections=("said-gaussian",))
    with pytest.raises(ValueError, match=r"measure \(said-fastfood\).*d must be > m = 6"):
        subspace.measure(
            CNN_TASK,
            dims=(4, 20),
            projections=("said-fastfood",),
            steps=2,
            batch_size=50,
            optimizer=subspace.Optimizer("adam", 1e-2),
            threshold=0.5,
            data=_images(),
            progress=False,
        )


def test_a_measurement_compares_said_with_the_plain_subspace(tmp_path):
    result = subspace.measure(
        CNN_TASK,
        dims=(8, 16),
        seeds=1,
        projections=("fastfood", "said-fastfood"),
        steps=10,
        batch_size=50,
        optimizer=subspace.Optimizer("adam", 1e-2),
        threshold=0.6,
        data=_images(),
        out=str(tmp_path),
        progress=False,
    )
    assert set(result.d_int) == {"fastfood", "said-fastfood"}
    member = result.member(d=16, seed=0, projection="said-fastfood", task=CNN_TASK)
    assert member.subspace.said and member.subspace.m == 6
    alone = result.member(d=16, seed=0, projection="fastfood", task=CNN_TASK)
    assert not alone.subspace.said
