"""Lottery subspaces (subspace.lottery): P from a training trajectory's principal directions."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subspace
from subspace.flatten import ravel
from subspace.lottery import LotteryState, principal_directions, trajectory
from tests.test_projections import hvp, materialise
from tests.test_study import CNN_TASK, _images


def test_the_trajectory_is_the_baselines_training_and_its_directions_span_it():
    data = _images()
    moves = trajectory(
        CNN_TASK, optax.sgd(0.5), steps=24, every=3, data=data, batch_size=50, seed=1
    )
    baseline = subspace.make_baseline(CNN_TASK, optax.sgd(0.5))
    out = subspace.train_group(
        baseline, (np.array([baseline.width]), np.array([1])), steps=24, data=data, batch_size=50
    )
    start = ravel(CNN_TASK.init(subspace.sweep.member_keys(1)[0])[0])[0]
    end = ravel(jax.tree_util.tree_map(lambda a: a[0], out["params"]))[0]
    assert moves.shape == (8, baseline.width)
    np.testing.assert_allclose(moves.sum(0), end - start, rtol=1e-4, atol=1e-5)  # θ_24 − θ_0
    U = principal_directions(moves, 5)
    assert U.shape == (baseline.width, 5) and U.dtype == np.float32
    np.testing.assert_allclose(U.T @ U, np.eye(5), atol=1e-5)
    full = principal_directions(moves, 8)  # all 8: every move lies in their span
    residual = moves - (moves @ full) @ full.T
    assert np.abs(residual).max() < 1e-4 * np.abs(moves).max()
    energy = np.linalg.norm(moves @ full, axis=0)
    assert (np.diff(energy) <= 1e-4).all()  # the strongest direction first


def test_a_lottery_subspace_has_every_derivative_of_its_matrix():
    with jax.enable_x64(True):
        D, d = 30, 4
        U = jnp.linalg.qr(jax.random.normal(jax.random.key(0), (D, 6), jnp.float64))[0]
        proj = subspace.projections.lottery(D, d, width=6, dtype=jnp.float64)
        state = LotteryState(U)
        P = materialise(proj, state, d)
        np.testing.assert_allclose(P, U[:, :d], rtol=1e-12)
        w = jax.random.normal(jax.random.key(1), (D,), jnp.float64)

        def f(z):
            return jnp.sum(jnp.sin(proj.apply(state, z) + w) ** 2)

        def g(z):
            return jnp.sum(jnp.sin(P @ z + w) ** 2)

        z, v = jax.random.normal(jax.random.key(2), (2, d), jnp.float64)
        tight = {"rtol": 1e-10, "atol": 1e-12}
        np.testing.assert_allclose(jax.grad(f)(z), jax.grad(g)(z), **tight)
        np.testing.assert_allclose(jax.jvp(f, (z,), (v,))[1], jax.jvp(g, (z,), (v,))[1], **tight)
        np.testing.assert_allclose(jax.hessian(f)(z), jax.hessian(g)(z), **tight)
        np.testing.assert_allclose(hvp(f, z, v), hvp(g, z, v), **tight)


def test_a_lottery_subspace_wraps_saves_and_loads_with_its_stored_columns(tmp_path):
    params, _ = CNN_TASK.init(jax.random.key(0))
    D = ravel(params)[0].shape[0]
    U = np.linalg.qr(np.random.default_rng(0).normal(size=(D, 6)))[0].astype(np.float32)
    sub = subspace.wrap(
        params, 4, projection="lottery", state=LotteryState(jnp.asarray(U)), width=6
    )
    z = jnp.array([0.3, -0.1, 0.2, 0.05])
    np.testing.assert_allclose(sub.flat(z) - sub.theta0, U[:, :4] @ np.asarray(z), atol=1e-6)
    path = subspace.save_compressed(tmp_path / "l.npz", sub, z, key=jax.random.key(0))
    header = subspace.compress.compressed_header(path)
    assert header["projection"] == "lottery" and header["options"] == {"width": 4}
    back = subspace.load_compressed(path, theta0=params)
    jax.tree_util.tree_map(np.testing.assert_array_equal, back.params, sub.params(z))
    assert back.subspace.state.U.shape == (D, 4)
    # The stored columns count: the file is at least their size (float32, deflated noise).
    assert path.stat().st_size > 0.8 * D * 4 * 4
    with pytest.raises(ValueError, match="P's lottery state would take"):
        subspace.load_compressed(path, theta0=params, max_state_bytes=1000)


def test_lottery_bad_input_is_one_clear_error():
    params, _ = CNN_TASK.init(jax.random.key(0))
    D = ravel(params)[0].shape[0]
    good = LotteryState(jnp.zeros((D, 4)))
    with pytest.raises(TypeError, match="state= is given for projection"):
        subspace.wrap(params, 4, projection="fastfood", key=jax.random.key(0), state=good)
    with pytest.raises(TypeError, match="state= is given for projection"):
        subspace.wrap(params, 4, projection="lottery", key=jax.random.key(0))
    with pytest.raises(ValueError, match=rf"U must be float32\({D}, 6\)"):
        subspace.wrap(params, 4, projection="lottery", state=good, width=6)
    with pytest.raises(ValueError, match="said=True is for a drawn projection"):
        subspace.wrap(params, 10, projection="lottery", state=good, said=True)
    moves = np.ones((3, D))
    with pytest.raises(ValueError, match="a trajectory of 3 displacements spans at most 3"):
        principal_directions(moves, 5)
    with pytest.raises(ValueError, match="the trajectory spans only 1 directions; width is 2"):
        principal_directions(moves, 2)
    with pytest.raises(ValueError, match="steps must be a multiple of every = 3; got 10"):
        trajectory(CNN_TASK, optax.sgd(0.1), steps=10, every=3, data=_images(), batch_size=50)
    with pytest.raises(ValueError, match="not drawn from a key"):
        subspace.projections.lottery(D, 4).init(jax.random.key(0))
    labels = subspace.sweep.projection_labels()
    assert "lottery" in labels and "said-lottery" not in labels  # a grid takes U from data
    sweep_args = (CNN_TASK, optax.adam(1e-2))
    with pytest.raises(TypeError, match=r"needs bases=\{seed: U\}"):
        subspace.make_sweep(*sweep_args, projection="lottery", width=4)
    with pytest.raises(ValueError, match="bases= is for a stored projection"):
        subspace.make_sweep(*sweep_args, projection="fastfood", width=4, bases={0: U6(D)})
    with pytest.raises(ValueError, match=r"W >= width = 8"):
        subspace.make_sweep(*sweep_args, projection="lottery", width=8, bases={0: U6(D)})
    sweep = subspace.make_sweep(*sweep_args, projection="lottery", width=4, bases={0: U6(D)})
    with pytest.raises(ValueError, match=r"no basis for seeds \[3\]; bases has \[0\]"):
        sweep.init(np.array([2, 4]), np.array([0, 3]))
    lottery = {"projections": ("lottery",), "optimizer": subspace.Optimizer("adam", 1e-2)}
    sgd = subspace.Optimizer("sgd", 0.1)
    data = _images()
    with pytest.raises(ValueError, match="'lottery', which needs a baseline"):
        subspace.measure(
            CNN_TASK,
            dims=(2,),
            steps=4,
            batch_size=50,
            threshold=0.5,
            data=data,
            progress=False,
            baseline=None,
            **lottery,
        )
    with pytest.raises(ValueError, match="'lottery', which needs per_member_shuffle = False"):
        subspace.measure(
            CNN_TASK,
            dims=(2,),
            steps=4,
            batch_size=50,
            data=data,
            per_member_shuffle=True,
            baseline=sgd,
            progress=False,
            **lottery,
        )
    with pytest.raises(ValueError, match="at least as many training steps as its largest d"):
        subspace.measure(
            CNN_TASK, dims=(2, 9), steps=8, batch_size=50, data=data, baseline=sgd, **lottery
        )


def U6(D):  # noqa: N802 -- a (D, 6) basis of orthonormal columns
    return np.linalg.qr(np.random.default_rng(0).normal(size=(D, 6)))[0].astype(np.float32)


def test_a_measurement_takes_each_seeds_lottery_subspace_from_its_baseline(tmp_path):
    data, adam = _images(), subspace.Optimizer("adam", 1e-2)
    run = {
        "dims": (2, 6),
        "seeds": 2,
        "projections": ("fastfood", "lottery"),
        "steps": 13,  # records every 13 // 6 = 2 steps, 6 of them: steps 1-12
        "batch_size": 50,
        "optimizer": adam,
        "baseline": subspace.Optimizer("sgd", 0.5),
        "data": data,
        "out": str(tmp_path),
        "progress": False,
    }
    result = subspace.measure(CNN_TASK, **run)
    assert set(result.d_int) == {"fastfood", "lottery"}
    moves = trajectory(
        CNN_TASK, optax.sgd(0.5), steps=12, every=2, data=data, batch_size=50, seed=1
    )
    U = principal_directions(moves, 6)
    kept = tmp_path / "networks" / "lottery" / "basis-s1.npz"
    with np.load(kept) as f:
        np.testing.assert_array_equal(f["projection_state"], U)
    member = result.member(CNN_TASK, d=6, seed=1, projection="lottery")
    np.testing.assert_allclose(
        member.subspace.flat(member.z) - member.subspace.theta0,
        U @ np.asarray(member.z),
        atol=1e-6,
    )
    again = subspace.sweep.member_subspace(
        CNN_TASK, subspace.sweep.Member(6, 1), projection="lottery", width=6, bases={1: U}
    )[0]
    np.testing.assert_array_equal(again.theta0, member.subspace.theta0)  # θ0: seed 1's init
    # Kept with the networks: a lost basis is recomputed bitwise on resume.
    kept.unlink()
    with pytest.raises(FileNotFoundError, match="measure again with resume=True"):
        subspace.results.load_results(tmp_path).member(CNN_TASK, d=6, seed=1, projection="lottery")
    subspace.measure(CNN_TASK, resume=True, **run)
    with np.load(kept) as f:
        np.testing.assert_array_equal(f["projection_state"], U)
    kept.write_bytes(kept.read_bytes()[:-40])  # hostile: refused, not read
    with pytest.raises(ValueError, match="lottery basis"):
        subspace.results.load_results(tmp_path).member(CNN_TASK, d=6, seed=1, projection="lottery")
    subspace.measure(CNN_TASK, overwrite=True, **{**run, "projections": ("fastfood",)})
    assert not (tmp_path / "networks" / "lottery").exists()  # an overwrite clears it


def test_ctrl_c_stops_a_trajectory_at_its_next_record():
    from subspace import _interrupt

    with _interrupt.deferred():
        _interrupt._state["requested"] = True  # as the deferred SIGINT handler sets it
        with pytest.raises(_interrupt.Interrupted, match=r"seed 2's trajectory \(step 0 of 6\)"):
            trajectory(
                CNN_TASK, optax.sgd(0.1), steps=6, every=3, data=_images(), batch_size=50, seed=2
            )
    assert not _interrupt.requested()
