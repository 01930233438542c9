"""Batched sweeps: every member equals the same member trained alone."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subspace
from experiments import toy
from subspace.sweep import Member, make_sweep, member_subspace

DIMS, SEEDS, STEPS = [3, 7, 12], [0, 1], 15


@pytest.mark.parametrize("projection", ["dense", "sparse", "fastfood", "kronqr"])
def test_each_member_equals_the_member_trained_alone(projection):
    opt = optax.adamw(0.05, weight_decay=0.1)
    sweep = make_sweep(toy.TASK, opt, projection=projection, width=max(DIMS))
    ds = np.repeat(DIMS, len(SEEDS))
    seeds = np.tile(SEEDS, len(DIMS))

    @jax.jit
    def run(ds, seeds):
        state = sweep.init(ds, seeds)
        state, metrics = jax.lax.scan(lambda s, _: sweep.update(s, None), state, None, STEPS)
        return state, metrics["loss"][-1]

    state, losses = run(jnp.asarray(ds), jnp.asarray(seeds))
    z = np.asarray(state.train.z)
    for i, (d, seed) in enumerate(zip(ds, seeds, strict=True)):
        # Masked coordinates stay exactly zero, in z and in the optimiser's moments.
        assert (z[i, d:] == 0).all()
        mu = state.train.opt_state[0].mu
        assert (np.asarray(mu)[i, d:] == 0).all()

        sub, model_state, train_key = member_subspace(
            toy.TASK, Member(int(d), int(seed)), projection=projection, width=max(DIMS)
        )

        def loss_fn(z, ms, batch, key, sub=sub):
            return toy.TASK.loss_fn(sub.params(z), ms, batch, key)

        trainer = subspace.make_trainer(loss_fn, opt)
        alone = trainer.init(sub.zeros(), key=train_key, model_state=model_state)
        alone, metrics = jax.jit(lambda s, t=trainer: t.scan(s, None, STEPS))(alone)
        np.testing.assert_allclose(z[i, :d], alone.z, rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(losses[i], metrics["loss"][-1], rtol=1e-5)


def test_shared_theta0_and_per_member_theta0():
    sweep = make_sweep(toy.TASK, optax.sgd(0.1), projection="sparse", width=4)
    own = sweep.init(jnp.array([2, 4]), jnp.array([0, 1]))
    assert not np.array_equal(own.subspace.theta0[0], own.subspace.theta0[1])
    shared = make_sweep(toy.TASK, optax.sgd(0.1), projection="sparse", width=4, theta0_seed=9)
    st = shared.init(jnp.array([2, 4]), jnp.array([0, 1]))
    np.testing.assert_array_equal(st.subspace.theta0[0], st.subspace.theta0[1])


def test_bad_sweep_arguments():
    with pytest.raises(ValueError, match="projection must be one of"):
        make_sweep(toy.TASK, optax.sgd(0.1), projection="nope", width=4)
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        make_sweep(toy.TASK, optax.sgd(0.1), projection="dense", width=0)
