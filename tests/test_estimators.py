"""The gradient sources (subspace.estimators): backprop and evolution strategies through the
one trainer and the one sweep, on a quadratic task; an estimator with state of its own."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subspace
from subspace import estimators
from subspace.estimators import _es_gradient
from subspace.sweep import member_keys

D = 10
C = jnp.linspace(-1.0, 1.0, D)


def _init(key):
    return {"w": jax.random.normal(key, (D - 4,)), "b": jax.random.normal(key, (4,))}, ()


def _distance(params):
    theta, _ = subspace.flatten.ravel(params)
    return jnp.sum((theta - C) ** 2)


def _loss_fn(params, state, batch, key):
    del batch, key
    return _distance(params), (state, {})


def _eval_fn(params, state, batch, key):
    del state, batch, key
    return {"fitness": -_distance(params)}


TASK = subspace.Task(init=_init, loss_fn=_loss_fn, eval_fn=_eval_fn)


def _es(population, sigma, **kw):
    return estimators.es(population, sigma, **kw)


def _scan(sweep, state, steps):
    return jax.jit(lambda s: jax.lax.scan(lambda s, _: sweep.update(s, None), s, None, steps))(
        state
    )


def test_es_gradient_agrees_with_the_true_gradient_in_the_subspace():
    theta0, _ = _init(jax.random.key(1))
    sub = subspace.wrap(theta0, 5, projection="dense", key=jax.random.key(2))
    z = jnp.full(5, 0.3)

    def f(z, key):
        return -_distance(sub.params(z))

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


def test_es_gives_minus_the_ascent_direction_of_the_fitness_minus_the_loss():
    # The estimator's grad is what an optimiser that minimises steps on: -ĝ, where ĝ
    # estimates the gradient of the fitness -loss; its loss is the population's mean.
    z = jnp.full(D, 0.5)
    key = jax.random.key(4)

    def loss_fn(p, s, b, k):
        return _distance({"all": p["all"]}), (s, {})

    found = _es(2000, 0.01).estimate(loss_fn, {"all": z}, (), None, key, ())
    true = jax.grad(lambda x: _distance({"all": x}))(z)
    g = found.grad["all"]
    assert float(g @ true / (jnp.linalg.norm(g) * jnp.linalg.norm(true))) > 0.95
    ghat, fit = _es_gradient(
        lambda x, k: -_distance({"all": x}),
        z,
        None,
        key,
        population=2000,
        sigma=0.01,
        antithetic=True,
    )
    np.testing.assert_array_equal(g, -ghat)
    assert float(found.loss) == float(-fit.mean())
    assert float(found.metrics["loss_min"]) == float(-fit.max())


def test_backprop_is_the_default_and_equals_value_and_grad():
    params, _ = _init(jax.random.key(0))
    found = estimators.backprop().estimate(_loss_fn, params, (), None, jax.random.key(1), ())
    loss, grad = jax.value_and_grad(_distance)(params)
    assert float(found.loss) == float(loss)
    jax.tree_util.tree_map(np.testing.assert_array_equal, found.grad, grad)
    default = subspace.make_trainer(_loss_fn, optax.sgd(0.1))
    explicit = subspace.make_trainer(_loss_fn, optax.sgd(0.1), estimator=estimators.backprop())
    a, b = (t.init(params, key=jax.random.key(2)) for t in (default, explicit))
    for _ in range(3):
        (a, _), (b, _) = default.update(a, None), explicit.update(b, None)
    jax.tree_util.tree_map(np.testing.assert_array_equal, a.z, b.z)


def test_masked_coordinates_stay_exactly_zero():
    sweep = subspace.make_sweep(
        TASK,
        optax.chain(optax.add_decayed_weights(0.01), optax.adamw(0.1, weight_decay=0.1)),
        projection="fastfood",
        width=8,
        estimator=_es(16, 0.1),
    )
    state, metrics = _scan(sweep, sweep.init(jnp.array([3]), jnp.array([0])), 5)
    z = np.asarray(state.train.z)
    assert (z[0, 3:] == 0).all() and (z[0, :3] != 0).all()
    assert (np.asarray(state.train.opt_state[1][0].mu)[0, 3:] == 0).all()
    assert set(metrics) == {"loss", "loss_min"}
    assert metrics["loss"].shape == (5, 1)


def test_member_in_a_sweep_equals_the_member_alone():
    sweep = subspace.make_sweep(
        TASK, optax.adam(0.05), projection="dense", width=6, estimator=_es(10, 0.1)
    )
    both = subspace.train_group(sweep, (np.array([3, 6]), np.array([0, 1])), steps=20)
    alone = subspace.train_group(sweep, (np.array([3]), np.array([0])), steps=20)
    np.testing.assert_allclose(both["z"][0], alone["z"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both["final_fitness"][0], alone["final_fitness"][0], rtol=1e-5)
    assert both["finite"].all()
    # And the member's θ is θ0 + P z of its own seed's keys.
    init_key, proj_key, _ = member_keys(0)
    sub = subspace.wrap(_init(init_key)[0], 3, projection="dense", key=proj_key)
    expected = float(-_distance(sub.params(jnp.asarray(alone["z"][0, :3]))))
    np.testing.assert_allclose(alone["final_fitness"][0], expected, rtol=1e-5)


def test_es_improves_the_fitness_in_the_subspace_and_in_the_baseline():
    opt = optax.adam(0.1)
    sweep = subspace.make_sweep(TASK, opt, projection="dense", width=D, estimator=_es(20, 0.1))
    out = subspace.train_group(sweep, (np.array([D]), np.array([0])), steps=50)
    assert out["final_fitness"][0] > 0.2 * out["initial_fitness"][0], out
    base = subspace.make_baseline(TASK, opt, estimator=_es(20, 0.1))
    assert base.width == D
    out = subspace.train_group(base, (np.array([D]), np.array([0])), steps=50)
    assert out["final_fitness"][0] > 0.2 * out["initial_fitness"][0], out
    assert "z" not in out


def test_same_seeds_give_identical_z():
    sweep = subspace.make_sweep(
        TASK,
        optax.sgd(0.05),
        projection="sparse",
        width=4,
        estimator=_es(6, 0.2, antithetic=False),
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
        ({"antithetic": 1}, TypeError, "antithetic must be True or False"),
        ({"sigma_in_theta": "yes"}, TypeError, "sigma_in_theta must be True or False"),
    ],
)
def test_bad_es_arguments_are_refused_where_the_estimator_is_built(kwargs, error, match):
    args = {"population": 8, "sigma": 0.1, **kwargs}
    with pytest.raises(error, match=f"es: {match}"):
        estimators.es(args.pop("population"), args.pop("sigma"), **args)


@pytest.mark.parametrize("maker", ["make_sweep", "make_baseline", "make_trainer"])
def test_a_non_estimator_is_refused(maker):
    def never(*_):
        raise AssertionError("the task was called")

    task = subspace.Task(init=never, loss_fn=never)
    first = never if maker == "make_trainer" else task
    kw = {"projection": "dense", "width": 4} if maker == "make_sweep" else {}
    with pytest.raises(TypeError, match=f"{maker}: estimator must be a subspace.estimators"):
        getattr(subspace, maker)(first, optax.adam(0.1), estimator="es", **kw)


def test_sigma_in_theta_perturbs_z_with_sigma_times_sqrt_D_over_d():
    # Member d with sigma_in_theta=True and σ trains exactly as member d with σ √(D/d).
    task = subspace.Task(
        init=lambda k: ({"w": 0.1 * jax.random.normal(k, (50,))}, ()),
        loss_fn=lambda p, s, b, k: (jnp.sum((p["w"] - 0.3) ** 2), (s, {})),
        eval_fn=lambda p, s, b, k: {"loss": jnp.sum((p["w"] - 0.3) ** 2)},
    )
    members = (np.array([8]), np.array([1]))

    def z(sigma, flag):
        estimator = _es(8, sigma, sigma_in_theta=flag)
        sweep = subspace.make_sweep(
            task, optax.adam(0.1), projection="dense", width=8, estimator=estimator
        )
        return subspace.train_group(sweep, members, steps=5)["z"]

    scaled = z(0.02, True)
    np.testing.assert_allclose(scaled, z(0.02 * np.sqrt(50 / 8), False), rtol=1e-5, atol=1e-7)
    assert not np.allclose(scaled, z(0.02, False))  # the flag changes the training


def test_estimators_are_data_written_and_read_as_json():
    every = (estimators.backprop(), _es(64, 0.5), _es(8, 0.1, sigma_in_theta=True))
    for estimator in (*every, estimators.quantised(7, learning_rate=3e-4)):
        doc = estimator.to_json()
        assert doc["name"] == estimator.name
        assert estimators.from_json(doc) == estimator
    assert _es(64, 0.5) == _es(64, 0.5) and hash(_es(64, 0.5)) == hash(_es(64, 0.5))
    with pytest.raises(
        ValueError, match=r"estimator must be one of \['backprop', 'dqn', 'es', 'quantised'\]"
    ):
        estimators.from_json({"name": "a2c"})
    with pytest.raises(ValueError, match="estimator 'es' has no field 'eval_episodes'"):
        estimators.from_json({"name": "es", "population": 8, "sigma": 0.1, "eval_episodes": 8})


@dataclasses.dataclass(frozen=True)
class _Counting:
    """Backprop that counts its calls in a state of its own (the contract an off-policy
    learner's replay buffer uses)."""

    name = "counting"

    def init(self, z, key):
        del key
        return {"calls": jnp.zeros((), jnp.int32), "size": jnp.asarray(z.shape[0], jnp.int32)}

    def estimate(self, loss_fn, z, model_state, batch, key, state, *, mask=None, D=None):  # noqa: N803
        found = estimators.backprop().estimate(loss_fn, z, model_state, batch, key, ())
        return found._replace(state={**state, "calls": state["calls"] + 1})


def test_an_estimator_carries_its_own_state_through_the_sweep():
    sweep = subspace.make_sweep(
        TASK, optax.sgd(0.01), projection="dense", width=6, estimator=_Counting()
    )
    state = sweep.init(jnp.array([2, 6]), jnp.array([0, 1]))
    assert state.train.estimator_state["size"].tolist() == [6, 6]
    state, _ = _scan(sweep, state, 4)
    assert state.train.estimator_state["calls"].tolist() == [4, 4]
    backprop = subspace.make_sweep(TASK, optax.sgd(0.01), projection="dense", width=6)
    plain, _ = _scan(backprop, backprop.init(jnp.array([2, 6]), jnp.array([0, 1])), 4)
    np.testing.assert_array_equal(state.train.z, plain.train.z)  # the same gradients
