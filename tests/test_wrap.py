"""subspace.wrap as a drop-in for linen (with BatchNorm and Dropout) and NNX models."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import subspace


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Conv(4, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.5)(x)
        x = nn.relu(x).mean(axis=(1, 2))
        x = nn.Dropout(0.5, deterministic=not train)(x)
        return nn.Dense(3)(x)


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(4, 8, rngs=rngs)
        self.l2 = nnx.Linear(8, 3, rngs=rngs)

    def __call__(self, x):
        return self.l2(jax.nn.relu(self.l1(x)))


def _data(n=32, shape=(6, 6, 1)):
    x = jax.random.normal(jax.random.key(0), (n, *shape))
    y = (x.reshape(n, -1).sum(-1) > 0).astype(jnp.int32) + (x.reshape(n, -1)[:, 0] > 1)
    return x, y


def test_linen_cnn_with_batchnorm_and_dropout_trains_only_z():
    model = CNN()
    x, y = _data()
    variables = model.init(jax.random.key(1), x, train=False)
    sub = subspace.wrap(variables["params"], 10, projection="fastfood", key=jax.random.key(2))
    assert sub.D == sum(p.size for p in jax.tree_util.tree_leaves(variables["params"]))
    assert sub.d == 10

    def loss_fn(z, batch_stats, batch, key):
        logits, updates = model.apply(
            {"params": sub.params(z), "batch_stats": batch_stats},
            batch[0],
            train=True,
            mutable=["batch_stats"],
            rngs={"dropout": key},
        )
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()
        return loss, (updates["batch_stats"], {})

    trainer = subspace.make_trainer(loss_fn, optax.adam(0.05))
    state = trainer.init(sub.zeros(), key=jax.random.key(3), model_state=variables["batch_stats"])
    losses = []
    for _ in range(40):
        state, metrics = trainer.step(state, (x, y))
        losses.append(float(metrics["loss"]))
    assert state.z.shape == (10,) and state.z.dtype == jnp.float32
    assert np.mean(losses[-5:]) < np.mean(losses[:5])  # it learns, through z alone
    # Batch statistics are updated by the model, outside the subspace.
    assert not np.allclose(
        state.model_state["BatchNorm_0"]["mean"], variables["batch_stats"]["BatchNorm_0"]["mean"]
    )
    # θ − θ0 lies in the span of P: least squares on the explicit P leaves no residual.
    params = sub.params(state.z)
    delta = subspace.flatten.ravel(params)[0] - sub.theta0
    P = jax.vmap(sub.delta)(jnp.eye(10)).T
    coef, *_ = np.linalg.lstsq(np.asarray(P), np.asarray(delta), rcond=None)
    np.testing.assert_allclose(P @ coef, delta, atol=1e-5)
    np.testing.assert_allclose(coef, state.z, rtol=1e-3, atol=1e-4)
    assert np.linalg.norm(delta) > 1e-2


def test_nnx_mlp_trains_through_split_and_merge():
    model = MLP(nnx.Rngs(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    sub = subspace.wrap(params, 12, projection="sparse", key=jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (64, 4))
    y = (x[:, 0] > 0).astype(jnp.int32) + (x[:, 1] > 0)

    def loss_fn(z, model_state, batch, key):
        del key
        m = nnx.merge(graphdef, sub.params(z), rest)
        logits = m(batch[0])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean(), (
            model_state,
            {"accuracy": (logits.argmax(-1) == batch[1]).mean()},
        )

    trainer = subspace.make_trainer(loss_fn, optax.adam(0.1))
    state = trainer.init(sub.zeros(), key=jax.random.key(3))
    first = None
    for _ in range(60):
        state, metrics = trainer.step(state, (x, y))
        first = first if first is not None else float(metrics["loss"])
    assert float(metrics["loss"]) < 0.8 * first
    # The merged model's parameters are θ0 + P z, same structure and dtypes as before.
    new = sub.params(state.z)
    assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(params)
    chex.assert_trees_all_equal_dtypes(new, params)
    chex.assert_trees_all_equal(sub.params(sub.zeros()), params)  # z = 0 gives θ0 exactly


@pytest.mark.parametrize("projection", ["dense", "sparse", "fastfood", "kronqr"])
def test_subspace_is_a_pytree_jittable_and_vmappable_over_keys(projection):
    params = {"w": jnp.ones((5, 4)), "b": jnp.zeros(4, jnp.bfloat16)}
    subs = jax.jit(jax.vmap(lambda k: subspace.wrap(params, 3, projection=projection, key=k)))(
        jax.random.split(jax.random.key(0), 4)
    )
    assert subs.theta0.shape == (4, 24) and subs.d == 3 and subs.kind == projection
    z = jnp.ones((4, 3))
    out = jax.jit(jax.vmap(lambda s, z: s.params(z)))(subs, z)
    assert out["w"].shape == (4, 5, 4) and out["b"].dtype == jnp.bfloat16
    assert not np.allclose(out["w"][0], out["w"][1])  # another key, another subspace
    single = subspace.wrap(
        params, 3, projection=projection, key=jax.random.split(jax.random.key(0), 4)[2]
    )
    np.testing.assert_allclose(out["w"][2], single.params(z[2])["w"], rtol=1e-6, atol=1e-6)


def test_params_keep_structure_and_dtypes_and_float64():
    with jax.enable_x64(True):
        params = {"a": jnp.ones(3, jnp.float64), "b": jnp.ones(2, jnp.float32)}
        sub = subspace.wrap(params, 2, key=jax.random.key(0))
        assert sub.dtype == jnp.float64
        out = sub.params(jnp.ones(2, jnp.float64))
        assert out["a"].dtype == jnp.float64 and out["b"].dtype == jnp.float32


def test_bad_arguments_are_refused_before_any_work():
    params = {"w": jnp.ones(10)}
    key = jax.random.key(0)
    with pytest.raises(
        ValueError,
        match=r"projection must be one of \['dense', 'fastfood', 'kronqr', 'lottery', 'sparse'\]",
    ):
        subspace.wrap(params, 2, projection="gaussian", key=key)
    with pytest.raises(TypeError, match="key is required"):
        subspace.wrap(params, 2)
    with pytest.raises(ValueError, match=r"\[1, D=10\]"):
        subspace.wrap(params, 11, key=key)
    with pytest.raises(ValueError, match=r"\[1, D=10\]"):
        subspace.wrap(params, 0, key=key)
    with pytest.raises(TypeError, match="d must be an integer"):
        subspace.wrap(params, 2.0, key=key)
    with pytest.raises(TypeError, match="unexpected keyword"):
        subspace.wrap(params, 2, projection="dense", key=key, density=0.1)
    with pytest.raises(TypeError, match="dtype is not an option"):
        subspace.wrap(params, 2, key=key, dtype=jnp.float64)
    sub = subspace.wrap(params, 2, key=key)
    with pytest.raises(ValueError, match=r"z must have shape \(2,\)"):
        sub.params(jnp.ones(3))
    with pytest.raises(TypeError, match="z must have dtype float32"):
        sub.params(jnp.ones(2, jnp.int32))


def test_linen_variables_are_refused_with_the_fix():
    model = CNN()
    x, _ = _data()
    variables = model.init(jax.random.key(1), x, train=False)
    assert set(variables) == {"params", "batch_stats"}
    message = r'pass variables\["params"\].*batch_stats.*stay outside the subspace'
    with pytest.raises(TypeError, match=message):
        subspace.wrap(variables, 10, key=jax.random.key(2))
    with pytest.raises(TypeError, match=r'pass variables\["params"\]'):
        subspace.wrap({"params": variables["params"]}, 10, key=jax.random.key(2))
    # A parameter tree whose top-level module happens to be called "params" is wrapped.
    params = {"params": {"w": jnp.ones(3)}, "Dense_0": {"kernel": jnp.ones((3, 2))}}
    assert subspace.wrap(params, 2, key=jax.random.key(0)).D == 9
    assert subspace.wrap({"params": jnp.ones(4)}, 2, key=jax.random.key(0)).D == 4

    class Holder(nnx.Module):  # NNX: an attribute named params is a parameter tree
        def __init__(self, rngs):
            self.params = nnx.Linear(2, 2, rngs=rngs)

    _, state = nnx.split(Holder(nnx.Rngs(0)), nnx.Param)
    assert set(state) == {"params"}
    assert subspace.wrap(state, 2, key=jax.random.key(0)).D == 6
