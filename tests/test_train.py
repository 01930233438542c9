import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subspace

A = jax.random.normal(jax.random.key(0), (20, 5))
TARGET = jnp.arange(20.0) / 10


def quadratic(w, model_state, batch, key):
    del batch, key
    r = A @ w["w"] - TARGET
    return jnp.sum(r**2), (model_state, {"residual": jnp.linalg.norm(r)})


def test_step_decreases_loss_and_counts_steps():
    trainer = subspace.make_trainer(quadratic, optax.adam(0.1))
    state = trainer.init({"w": jnp.zeros(5)}, key=jax.random.key(1))
    state, history = trainer.fit(state, [None] * 50)
    assert int(state.step) == 50
    w_star = np.linalg.lstsq(np.asarray(A), np.asarray(TARGET), rcond=None)[0]
    best = float(np.sum((np.asarray(A) @ w_star - np.asarray(TARGET)) ** 2))
    first, last = float(history[0]["loss"]), float(history[-1]["loss"])
    assert last - best < 0.1 * (first - best)
    assert set(history[0]) == {"loss", "residual"}


def test_step_donates_its_input_but_not_the_callers_arrays():
    trainer = subspace.make_trainer(quadratic, optax.sgd(0.01))
    w0 = {"w": jnp.zeros(5)}
    state = trainer.init(w0, key=jax.random.key(1))
    new, _ = trainer.step(state, None)
    assert state.z["w"].is_deleted()  # donated
    assert not w0["w"].is_deleted()  # init copied the caller's z
    key = jax.random.key(5)
    trainer.step(trainer.init(w0, key=key), None)
    assert not key.is_deleted()  # nor the caller's key
    raw = jax.random.PRNGKey(5)
    trainer.step(trainer.init(w0, key=raw), None)
    assert not raw.is_deleted()
    trainer.step(new, None)


def test_same_keys_same_numbers_and_no_retrace():
    trainer = subspace.make_trainer(quadratic, optax.adam(0.1))
    runs = []
    for _ in range(2):
        state = trainer.init({"w": jnp.zeros(5)}, key=jax.random.key(1))
        runs.append(trainer.fit(state, [None] * 5)[0].z["w"])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert trainer.step._cache_size() == 1


def test_lbfgs_through_the_same_path_reaches_the_least_squares_solution():
    trainer = subspace.make_trainer(quadratic, optax.lbfgs())
    state = trainer.init({"w": jnp.zeros(5)}, key=jax.random.key(1))
    state, metrics = jax.jit(lambda s: trainer.scan(s, None, 50))(state)
    expected = np.linalg.lstsq(np.asarray(A), np.asarray(TARGET), rcond=None)[0]
    np.testing.assert_allclose(state.z["w"], expected, rtol=1e-4, atol=1e-4)
    assert metrics["loss"].shape == (50,)


def test_dropout_key_changes_every_step():
    def loss(w, ms, batch, key):
        return jnp.sum(w * jax.random.normal(key, w.shape)), (ms, {"draw": jax.random.normal(key)})

    trainer = subspace.make_trainer(loss, optax.sgd(0.0))
    state = trainer.init(jnp.ones(3), key=jax.random.key(0))
    _, history = trainer.fit(state, [None] * 3)
    draws = [float(m["draw"]) for m in history]
    assert len(set(draws)) == 3
    expected = float(jax.random.normal(jax.random.fold_in(jax.random.key(0), 2)))
    assert draws[2] == pytest.approx(expected)


def test_evaluate_and_bad_arguments():
    def eval_fn(w, ms, batch):
        return {"loss": quadratic(w, ms, batch, None)[0]}

    trainer = subspace.make_trainer(quadratic, optax.adam(0.1), eval_fn=eval_fn)
    state = trainer.init({"w": jnp.zeros(5)}, key=jax.random.key(1))
    chex.assert_trees_all_close(trainer.evaluate(state, None)["loss"], jnp.sum(TARGET**2))
    with pytest.raises(TypeError, match="optax.GradientTransformation"):
        subspace.make_trainer(quadratic, "adam")
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        subspace.make_trainer(None, optax.adam(0.1))
    with pytest.raises(TypeError, match="key is required"):
        trainer.init({"w": jnp.zeros(5)})
    with pytest.raises(ValueError, match="no eval_fn"):
        no_eval = subspace.make_trainer(quadratic, optax.adam(0.1))
        no_eval.evaluate(state, None)
    with pytest.raises(ValueError, match="num_steps must be an integer >= 1"):
        trainer.scan(state, None, 0)
