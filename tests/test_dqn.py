"""DQN as a gradient source (subspace.dqn) with a Q-network task (subspace.rl.q_task)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subspace
from models import MLPPolicy
from subspace.dqn import sample

pytest.importorskip("gymnax")

TASK = subspace.rl.q_task("CartPole-v1", MLPPolicy(hidden=(8,), outputs=2), eval_episodes=2)
SMALL = {"buffer_size": 64, "batch_size": 16, "learning_starts": 20, "target_interval": 7}


def _estimator(**kw):
    return subspace.estimators.dqn("CartPole-v1", **{**SMALL, "epsilon_steps": 50, **kw})


def test_a_member_trained_in_a_batch_equals_the_member_alone_and_masks_stay_zero():
    sweep = subspace.make_sweep(
        TASK, optax.sgd(0.01), projection="fastfood", width=16, estimator=_estimator(envs=2)
    )
    both = subspace.train_group(sweep, (np.array([4, 16]), np.array([0, 1])), steps=60)
    alone = subspace.train_group(sweep, (np.array([16]), np.array([1])), steps=60)
    np.testing.assert_allclose(both["z"][1], alone["z"][0], rtol=1e-5, atol=1e-7)
    assert (both["z"][0, 4:] == 0).all() and (both["z"][0, :4] != 0).all()
    assert both["finite"].all() and both["final_fitness"].shape == (2,)
    target = both["estimator_state"].target
    assert (np.asarray(target)[0, 4:] == 0).all()  # the target copy is masked too


def test_the_target_lags_z_by_the_interval_and_learning_waits():
    est = _estimator(learning_starts=20)
    sub = subspace.wrap(TASK.init(jax.random.key(0))[0], 6, key=jax.random.key(1))

    def loss(z, s, b, k):
        return TASK.loss_fn(sub.params(z), s, b, k)

    trainer = subspace.make_trainer(loss, optax.sgd(0.05), estimator=est)
    state = trainer.init(sub.zeros(), key=jax.random.key(2))
    update = jax.jit(trainer.update)
    zs = [np.asarray(state.z)]  # z before call c + 1
    for _ in range(30):
        state, _ = update(state, None)
        zs.append(np.asarray(state.z))
        calls = int(state.step)
        refreshed = (calls // 7) * 7  # the last call that refreshed: it saw z_{c - 1}
        want = zs[refreshed - 1] if refreshed else zs[0]
        np.testing.assert_array_equal(np.asarray(state.estimator_state.target), want)
    assert (zs[20] == zs[0]).all() and not (zs[21] == zs[20]).all()  # from step 20 on
    assert int(state.estimator_state.size) == 30 and int(state.estimator_state.position) == 30


def test_replay_sampling_is_a_pure_function_of_the_key():
    a = sample(jax.random.key(3), jnp.int32(40), 16)
    np.testing.assert_array_equal(a, sample(jax.random.key(3), jnp.int32(40), 16))
    assert not np.array_equal(a, sample(jax.random.key(4), jnp.int32(40), 16))
    assert a.shape == (16,) and int(a.min()) >= 0 and int(a.max()) < 40
    assert int(sample(jax.random.key(5), jnp.int32(3), 64).max()) < 3  # only filled rows


def test_the_full_parameter_baseline_runs_the_same_estimator():
    baseline = subspace.make_baseline(TASK, optax.adam(1e-3), estimator=_estimator())
    out = subspace.train_group(baseline, (np.array([baseline.width]), np.array([0])), steps=40)
    assert out["finite"].all()
    target = out["estimator_state"].target  # a copy of θ, structured like it
    assert jax.tree_util.tree_structure(target) == jax.tree_util.tree_structure(out["params"])


def test_the_q_task_answers_a_query_and_a_td_batch():
    params, state = TASK.init(jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (5, 4))
    loss, (_, metrics) = TASK.loss_fn(params, state, {"obs": obs}, None)
    assert float(loss) == 0.0 and metrics["q"].shape == (5, 2)
    q = metrics["q"]
    batch = {"obs": obs, "action": jnp.array([0, 1, 0, 1, 1]), "target": q[:, 0] + 0.5}
    loss, (_, metrics) = TASK.loss_fn(params, state, batch, None)
    chosen = np.asarray(q)[np.arange(5), [0, 1, 0, 1, 1]]
    diff = chosen - np.asarray(batch["target"])
    huber = np.where(np.abs(diff) <= 1, 0.5 * diff**2, np.abs(diff) - 0.5)
    np.testing.assert_allclose(float(loss), huber.mean(), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"buffer_size": 8, "batch_size": 16}, ValueError, "buffer_size must be >= batch_size"),
        ({"epsilon_start": 1.5}, ValueError, r"epsilon_start must be a finite number in \[0, 1\]"),
        ({"epsilon_end": -0.1}, ValueError, r"epsilon_end must be a finite number in \[0, 1\]"),
        ({"target_interval": 0}, ValueError, "target_interval must be an integer >= 1; got 0"),
        ({"env": "NoSuchEnv-v0"}, ValueError, "env must be one of gymnax.registered_envs"),
        ({"env": "Pendulum-v1"}, ValueError, "env must have discrete actions"),
        ({"double": 1}, TypeError, "double must be"),
    ],
)
def test_bad_hyperparameters_are_one_clear_error(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        subspace.estimators.DQN(**kwargs)


def test_a_q_network_must_give_one_value_per_action():
    with pytest.raises(ValueError, match=r"one Q-value per action, \(B, 2\); got \(3,\)"):
        subspace.rl.q_task("CartPole-v1", MLPPolicy(hidden=(8,), outputs=3))


def test_the_estimator_is_data():
    est = _estimator(gamma=0.9)
    doc = subspace.estimators.to_json(est)
    assert doc["name"] == "dqn" and doc["gamma"] == 0.9
    assert subspace.estimators.from_json(doc) == est


def test_a_smoke_run_of_the_cartpole_dqn_config(tmp_path, capsys):
    from experiments import run

    assert run.main(["cartpole_dqn", "--smoke", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["config"]["schedule"]["estimator"]["name"] == "dqn" and doc["steps"] == 60
    assert len(doc["members"]) == 4 and len(doc["baseline"]) == 2  # 2 values of d, 2 seeds
    assert all(m["status"] == "ok" for m in doc["members"] + doc["baseline"])
    assert (tmp_path / "networks" / "fastfood").is_dir()  # every trained network kept
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("fastfood: d_int90")


def test_the_dqn_benchmark_compares_grouped_with_one_at_a_time(tmp_path):
    from experiments.benchmark import dqn as bench

    bench.main(["--steps", "20", "--seeds", "1", "--out", str(tmp_path)])
    r = json.loads((tmp_path / "dqn_batched.json").read_text())
    assert r["members"] == 10 and r["env_steps"] == 10 * 20 and r["same_returns"]
    assert r["speedup"] == pytest.approx(r["one_at_a_time_s"] / r["grouped_s"])
    assert r["group_size"] >= 1
    assert r["members_with_the_same_return"] == 10  # no learning in 20 steps: no divergence
