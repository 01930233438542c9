"""Evolution strategies in random subspaces (subspace.es) on a quadratic fitness."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subspace
from subspace.es import ESTask, _es_gradient, make_es_baseline, make_es_sweep
from subspace.sweep import member_keys

D = 10
C = jnp.linspace(-1.0, 1.0, D)


def _init(key):
    return {"w": jax.random.normal(key, (D - 4,)), "b": jax.random.normal(key, (4,))}


def _fitness(params, key):
    del key
    theta, _ = subspace.ravel(params)
    return -jnp.sum((theta - C) ** 2)


TASK = ESTask(init=_init, fitness=_fitness)


def test_es_gradient_agrees_with_the_true_gradient_in_the_subspace():
    theta0 = _init(jax.random.key(1))
    sub = subspace.wrap(theta0, 5, projection="dense", key=jax.random.key(2))
    z = jnp.full(5, 0.3)

    def f(z, key):
        return _fitness(sub.params(z), key)

    true = jax.grad(f)(z, None)  # = Pᵀ ∇f(θ0 + P z)
    estimate = jax.jit(
        lambda key: _es_gradient(f, z, None, key, population=2000, sigma=0.01, antithetic=True)
    )
    g, fit = estimate(jax.random.key(3))
    assert fit.shape == (2000,)
    cos = float(g @ true / (jnp.linalg.norm(g) * jnp.linalg.norm(true)))
    # 1000 mirrored pairs in d = 5 (σ small, so f is nearly linear over ±σε and the ranks
    # follow ∇f·ε): the cosine is about 0.998 for keys 0-4; 0.95 leaves a wide margin.
    assert cos > 0.95, cos
    # A mask keeps the estimate exactly zero past d.
    mask = (jnp.arange(5) < 3).astype(z.dtype)
    g, _ = _es_gradient(f, z, mask, jax.random.key(3), population=8, sigma=0.1, antithetic=False)
    assert (g[3:] == 0).all()


def test_masked_coordinates_stay_exactly_zero():
    sweep = make_es_sweep(
        TASK,
        optax.adamw(0.1, weight_decay=0.1),
        projection="fastfood",
        width=8,
        population=16,
        sigma=0.1,
        weight_decay=0.01,
    )
    state = sweep.init(jnp.array([3]), jnp.array([0]))
    run = jax.jit(lambda s: jax.lax.scan(lambda s, _: sweep.update(s, None), s, None, 5))
    state, metrics = run(state)
    z = np.asarray(state.train.z)
    assert (z[0, 3:] == 0).all() and (z[0, :3] != 0).all()
    assert (np.asarray(state.train.opt_state[0].mu)[0, 3:] == 0).all()
    assert set(metrics) == {"loss", "fitness_mean", "fitness_max"}
    assert metrics["loss"].shape == (5, 1)


def test_member_in_a_sweep_equals_the_member_alone():
    sweep = make_es_sweep(
        TASK, optax.adam(0.05), projection="dense", width=6, population=10, sigma=0.1
    )
    both = subspace.train_group(sweep, (np.array([3, 6]), np.array([0, 1])), steps=20)
    alone = subspace.train_group(sweep, (np.array([3]), np.array([0])), steps=20)
    np.testing.assert_allclose(both["z"][0], alone["z"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both["final_fitness"][0], alone["final_fitness"][0], rtol=1e-5)
    assert both["finite"].all()
    # And the member's θ is θ0 + P z of its own seed's keys.
    init_key, proj_key, _ = member_keys(0)
    sub = subspace.wrap(_init(init_key), 3, projection="dense", key=proj_key)
    expected = float(_fitness(sub.params(jnp.asarray(alone["z"][0, :3])), None))
    np.testing.assert_allclose(alone["final_fitness"][0], expected, rtol=1e-5)


def test_es_improves_the_fitness_in_the_subspace_and_in_the_baseline():
    opt = optax.adam(0.1)
    sweep = make_es_sweep(TASK, opt, projection="dense", width=D, population=20, sigma=0.1)
    out = subspace.train_group(sweep, (np.array([D]), np.array([0])), steps=50)
    assert out["final_fitness"][0] > 0.2 * out["initial_fitness"][0], out
    base = make_es_baseline(TASK, opt, population=20, sigma=0.1, eval_episodes=1)
    assert base.width == D
    out = subspace.train_group(base, (np.array([D]), np.array([0])), steps=50)
    assert out["final_fitness"][0] > 0.2 * out["initial_fitness"][0], out
    assert "z" not in out


def test_same_seeds_give_identical_z():
    sweep = make_es_sweep(
        TASK,
        optax.sgd(0.05),
        projection="sparse",
        width=4,
        population=6,
        sigma=0.2,
        antithetic=False,
    )
    a = subspace.train_group(sweep, (np.array([2, 4]), np.array([5, 6])), steps=5)
    b = subspace.train_group(sweep, (np.array([2, 4]), np.array([5, 6])), steps=5)
    np.testing.assert_array_equal(a["z"], b["z"])
    c = subspace.train_group(sweep, (np.array([2, 4]), np.array([7, 6])), steps=5)
    assert (c["z"][0] != a["z"][0]).any()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"population": 7}, ValueError, "population must be an even integer >= 2"),
        ({"population": 0}, ValueError, "population must be an even integer >= 2"),
        ({"population": 1, "antithetic": False}, ValueError, "population must be an integer >= 2"),
        ({"population": 2.0}, TypeError, "population must be"),
        ({"sigma": 0.0}, ValueError, "sigma must be a finite number > 0"),
        ({"sigma": -1.0}, ValueError, "sigma must be a finite number > 0"),
        ({"sigma": float("nan")}, ValueError, "sigma must be a finite number > 0"),
        ({"sigma": float("inf")}, ValueError, "sigma must be a finite number > 0"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay must be a finite number >= 0"),
        ({"eval_episodes": 0}, ValueError, "eval_episodes must be an integer >= 1"),
        ({"antithetic": 1}, TypeError, "antithetic must be True or False"),
        ({"projection": "gaussian"}, ValueError, "projection must be one of"),
        ({"width": 0}, ValueError, "width must be an integer >= 1"),
        ({"task": "quadratic"}, TypeError, "task must be a subspace.es.ESTask"),
        ({"optimizer": optax.adam}, TypeError, "optimizer must be an optax"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(kwargs, error, match):
    def never(*_):
        raise AssertionError("the task was called")

    args = {
        "task": ESTask(init=never, fitness=never),
        "optimizer": optax.adam(0.1),
        "projection": "dense",
        "width": 4,
        "population": 8,
        "sigma": 0.1,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        make_es_sweep(args.pop("task"), args.pop("optimizer"), **args)
    base_only = {"projection", "width"}
    if not base_only & kwargs.keys():
        args = {k: v for k, v in args.items() if k not in base_only}
        with pytest.raises(error, match=match):
            make_es_baseline(
                kwargs.get("task", ESTask(init=never, fitness=never)),
                kwargs.get("optimizer", optax.adam(0.1)),
                **{k: v for k, v in args.items() if k not in ("task", "optimizer")},
            )


def test_sigma_in_theta_perturbs_z_with_sigma_times_sqrt_D_over_d():
    # Member d with sigma_in_theta=True and σ trains exactly as member d with σ √(D/d).
    task = ESTask(
        init=lambda k: {"w": 0.1 * jax.random.normal(k, (50,))},
        fitness=lambda p, k: -jnp.sum((p["w"] - 0.3) ** 2),
    )
    members = (np.array([8]), np.array([1]))

    def z(sigma, flag):
        sweep = make_es_sweep(
            task,
            optax.adam(0.1),
            projection="dense",
            width=8,
            population=8,
            sigma=sigma,
            sigma_in_theta=flag,
        )
        return subspace.train_group(sweep, members, steps=5)["z"]

    scaled = z(0.02, True)
    np.testing.assert_allclose(scaled, z(0.02 * np.sqrt(50 / 8), False), rtol=1e-5, atol=1e-7)
    assert not np.allclose(scaled, z(0.02, False))  # the flag changes the training
