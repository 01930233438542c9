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
    assert "lottery" not in subspace.sweep.projection_labels()  # a grid cannot draw it
