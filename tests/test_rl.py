"""subspace.rl: episodes, gymnax/brax tasks, the RL configs' smoke runs, and measure with ES."""

import importlib.util
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subspace
from experiments import config, run
from models import ConvPolicy, MLPPolicy
from subspace import rl

HAVE_BRAX = importlib.util.find_spec("brax") is not None


def _counter_env(done_at: int):
    """A pure environment: the state counts steps, reward 1 + step/100 per step (so a
    masked reward would change the sum), done when the count reaches ``done_at``."""

    def reset(key):
        return jnp.zeros(2), jnp.zeros((), jnp.int32)

    def step(key, state, action):
        state = state + 1
        reward = 1.0 + state / 100 + action
        return jnp.zeros(2), state, reward, state >= done_at

    return reset, step


@pytest.mark.parametrize("done_at, max_steps", [(5, 10), (10, 10), (30, 10)])
def test_an_episode_sums_rewards_up_to_and_including_the_first_done(done_at, max_steps):
    reset, step = _counter_env(done_at)
    total = rl.episode_return(reset, step, lambda obs: 0.0, jax.random.key(0), max_steps)
    n = min(done_at, max_steps)
    assert float(total) == pytest.approx(sum(1.0 + t / 100 for t in range(1, n + 1)))


def test_policy_sizes_match_the_papers_D():
    def D(policy, obs):
        params = jax.eval_shape(policy.init, jax.random.key(0), jnp.zeros((1, *obs)))
        return sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))

    assert D(MLPPolicy((20, 20), 2), (4,)) == 562  # the paper's InvertedPendulum
    assert D(MLPPolicy((256, 256), 17), (376,)) == 166_673  # the paper's Humanoid
    assert D(MLPPolicy((256, 256), 17), (244,)) == 132_881  # brax's humanoid observation
    # conv 3×3×4×16 + 16, Dense(8·8·16 → 32), Dense(32 → 3): 592 + 32,800 + 99
    assert D(ConvPolicy(((16, 3, 1),), 32, 3), (10, 10, 4)) == 33_491


@pytest.fixture(scope="module")
def cartpole():
    return rl.gymnax_task("CartPole-v1", MLPPolicy((20, 20), 2), max_steps=100)


def _fitness(task):
    return lambda params, key: -task.loss_fn(params, (), None, key)[0]


def test_rollouts_are_pure_functions_of_their_keys(cartpole):
    params, state = cartpole.init(jax.random.key(1))
    assert state == ()
    fitness = jax.jit(_fitness(cartpole))
    keys = jax.random.split(jax.random.key(2), 8)
    first = np.array([fitness(params, k) for k in keys])
    again = np.array(jax.vmap(fitness, in_axes=(None, 0))(params, keys))
    np.testing.assert_array_equal(first, again)  # same keys, same returns (vmapped too)
    assert len(set(first.tolist())) > 1  # the key draws the episode (CartPole's start)
    assert ((first >= 1) & (first <= 100)).all()  # +1 per step, cut at max_steps


def test_box_actions_are_squashed_into_the_action_space():
    to_action, size = rl._box_action(jnp.array([-2.0]), jnp.array([2.0]), (1,))
    assert size == 1
    out = to_action(jnp.array([-1e3, 7.0]))  # only the first output is used
    np.testing.assert_allclose(out, [-2.0])
    np.testing.assert_allclose(to_action(jnp.array([0.0])), [0.0], atol=1e-7)
    np.testing.assert_allclose(to_action(jnp.array([1e3])), [2.0])


def test_pendulum_returns_are_negative_and_reproducible():
    task = rl.gymnax_task("Pendulum-v1", MLPPolicy((8,), 1), max_steps=50)
    params, _ = task.init(jax.random.key(0))
    a, b = (float(jax.jit(_fitness(task))(params, jax.random.key(3))) for _ in range(2))
    assert a == b and a < 0


def test_the_evaluation_averages_eval_episodes_episodes_of_its_key(cartpole):
    params, _ = cartpole.init(jax.random.key(1))
    key = jax.random.key(5)
    found = jax.jit(cartpole.eval_fn)(params, (), None, key)["fitness"]
    keys = jax.random.split(key, 8)  # eval_episodes = 8 by default
    expected = np.mean([float(_fitness(cartpole)(params, k)) for k in keys])
    assert float(found) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(env="Pong-v0"), ValueError, r"env must be one of gymnax.registered_envs"),
        (dict(env=3), TypeError, "env must be a gymnax environment name or an"),
        (dict(max_steps=501), ValueError, "max_steps must be <= the environment's .* = 500"),
        (dict(max_steps=0), ValueError, "max_steps must be an integer >= 1"),
        (dict(episodes=0), ValueError, "episodes must be an integer >= 1"),
        (dict(eval_episodes=0), ValueError, "eval_episodes must be an integer >= 1"),
        (
            dict(policy=MLPPolicy((4,), 1)),
            ValueError,
            r"policy must map .* with k >= 2 .*got \(1, 1\)",
        ),
        (dict(policy=lambda x: x), TypeError, "policy must be a flax linen module"),
    ],
)
def test_bad_gymnax_tasks_are_refused(kwargs, error, match):
    args = {"env": "CartPole-v1", "policy": MLPPolicy((4,), 2), **kwargs}
    with pytest.raises(error, match="gymnax_task: " + match):
        rl.gymnax_task(args.pop("env"), args.pop("policy"), **args)


def test_a_missing_environment_package_says_how_to_install():
    with pytest.raises(ImportError, match=r'pip install "subspace-intrinsic\[brax\]"'):
        rl._import("no_such_package_for_this_test", "brax")


# --- measure with the ES estimator ------------------------------------------------------


def _quadratic():
    target = jnp.linspace(-1.0, 1.0, 12)

    def distance(p):
        return jnp.sum((p["w"] - target) ** 2)

    return subspace.Task(
        init=lambda k: ({"w": 0.1 * jax.random.normal(k, (12,))}, ()),
        loss_fn=lambda p, s, b, k: (distance(p), (s, {})),
        eval_fn=lambda p, s, b, k: {"fitness": 100.0 - distance(p)},  # > 0: 0.9 of it is a bar
    )


ES = subspace.estimators.es(16, 0.1)


def _measure(tmp_path, **kw):
    return subspace.measure(
        _quadratic(),
        dims=[1, 4, 12],
        seeds=2,
        optimizer=subspace.Optimizer("adam", 0.1),
        baseline=subspace.Optimizer("adam", 0.05),
        estimator=ES,
        steps=60,
        metric="final_fitness",
        out=tmp_path / "m",
        progress=False,
        **kw,
    )


def test_measure_trains_es_members_and_their_baseline(tmp_path):
    result = _measure(tmp_path)
    schedule = result.config["schedule"]
    assert result.complete and schedule["estimator"] == ES.to_json()
    assert schedule["baseline_estimator"] is None  # the baseline trains with the estimator
    assert [r["seed"] for r in result.baseline] == [0, 1]
    ds, means = result.means("fastfood")
    assert list(ds) == [1, 4, 12] and means[2] > means[0]  # more directions, closer
    base = result.baseline_metric
    assert base > np.mean([r["initial_fitness"] for r in result.baseline])  # ES improved
    assert result.threshold == pytest.approx(0.9 * base)
    # Each member equals itself trained alone through the library's one sweep.
    alone = subspace.train_group(
        subspace.make_sweep(
            _quadratic(), optax.adam(0.1), projection="fastfood", width=12, estimator=ES
        ),
        (np.array([4]), np.array([1])),
        steps=60,
    )
    (member,) = [r for r in result.members if (r["d"], r["seed"]) == (4, 1)]
    assert member["final_fitness"] == pytest.approx(float(alone["final_fitness"][0]), rel=1e-6)
    assert result.measurement.schedule.estimator == ES  # rebuilt from the results file
    assert subspace.SweepResult.load(tmp_path / "m").measurement == result.measurement


# --- the RL configs -----------------------------------------------------------------------


RL_CONFIGS = {"cartpole_es": 562, "pendulum_es": 521, "breakout_es": 33_491, "humanoid_es": 132_881}


@pytest.mark.parametrize("name, D", sorted(RL_CONFIGS.items()))
def test_rl_config_smoke_run(name, D, tmp_path, capsys):
    if name == "humanoid_es" and not HAVE_BRAX:
        pytest.skip("humanoid_es needs brax (the [brax] extra, about 1 GB), not installed")
    run.main([name, "--smoke", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["complete"] and results["D"] == D
    assert len(results["baseline"]) == 2 and len(results["members"]) == 4
    assert all(r["status"] == "ok" for r in results["members"] + results["baseline"])
    exp = config.load(name)
    assert results["config"]["schedule"]["estimator"]["population"] == 4  # the smoke size
    assert exp.schedule.estimator.population >= 32 and len(exp.grid.seeds) >= 3
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("fastfood: d_int90 = ")


@pytest.mark.skipif(HAVE_BRAX, reason="brax is installed")
def test_a_config_whose_extra_is_missing_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        run.main(["humanoid_es", "--smoke"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        'error: brax.envs is needed for this task: pip install "subspace-intrinsic[brax]" '
        "(No module named 'brax')"
    ]
