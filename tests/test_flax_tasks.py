"""subspace.flax_tasks: the linen and NNX tasks, user losses and metrics, lazy flax, bad input.

The reference functions below are the code of ``experiments/tasks.py`` before it moved to
the library (verbatim but for their names): the committed experiment results were produced
with it, so the library's tasks must give exactly its losses, gradients, model state and
evaluation metrics.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import subspace
from subspace import Task
from subspace.flax_tasks import linen_task, nnx_task

ROOT = Path(__file__).resolve().parents[1]


# --- the old code (experiments/tasks.py at the move), the reference --------------------------


def _reference_classification_task(model, input_shape, *, l2=0.0):
    input_shape = tuple(int(s) for s in input_shape)

    def init(key):
        variables = model.init(key, jnp.zeros((1, *input_shape)), train=False)
        params = variables["params"]
        return params, {k: v for k, v in variables.items() if k != "params"}

    def loss_fn(params, model_state, batch, key):
        x, y = batch
        variables = {"params": params, **model_state}
        if model_state:
            logits, updates = model.apply(
                variables, x, train=True, mutable=list(model_state), rngs={"dropout": key}
            )
            model_state = {**model_state, **updates}
        else:
            logits = model.apply(variables, x, train=True, rngs={"dropout": key})
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        if l2:
            loss += 0.5 * l2 * sum(jnp.sum(p**2) for p in jax.tree_util.tree_leaves(params))
        accuracy = jnp.mean(jnp.argmax(logits, -1) == y)
        return loss, (model_state, {"accuracy": accuracy})

    def eval_fn(params, model_state, batch, key=None):  # key: the Task contract since 0.5
        x, y = batch
        logits = model.apply({"params": params, **model_state}, x, train=False)
        return {
            "accuracy": (jnp.argmax(logits, -1) == y).astype(jnp.float32),
            "loss": optax.softmax_cross_entropy_with_integer_labels(logits, y),
        }

    return Task(init=init, loss_fn=loss_fn, eval_fn=eval_fn)


def _reference_nnx_classification_task(make_model):
    graphdef, _, _ = nnx.split(nnx.eval_shape(lambda: make_model(nnx.Rngs(0))), nnx.Param, ...)

    def init(key):
        _, params, rest = nnx.split(make_model(nnx.Rngs(key)), nnx.Param, ...)
        return params, rest

    def loss_fn(params, rest, batch, key):
        del key
        x, y = batch
        model = nnx.merge(graphdef, params, rest, copy=True)
        model.train()
        logits = model(x)
        _, _, rest = nnx.split(model, nnx.Param, ...)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, (rest, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == y)})

    def eval_fn(params, rest, batch, key=None):  # key: the Task contract since 0.5
        x, y = batch
        model = nnx.merge(graphdef, params, rest, copy=True)
        model.eval()
        logits = model(x)
        return {
            "accuracy": (jnp.argmax(logits, -1) == y).astype(jnp.float32),
            "loss": optax.softmax_cross_entropy_with_integer_labels(logits, y),
        }

    return Task(init=init, loss_fn=loss_fn, eval_fn=eval_fn)


# --- models and data ----------------------------------------------------------------------------


class _LinenNet(nn.Module):
    """Dense -> BatchNorm -> ReLU -> Dropout -> Dense: model state and a dropout rng."""

    out: int = 3

    @nn.compact
    def __call__(self, x, train=False):
        x = nn.Dense(16)(x.reshape((x.shape[0], -1)))
        x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.5)(x))
        x = nn.Dropout(0.3, deterministic=not train)(x)
        return nn.Dense(self.out)(x)


class _LinenMLP(nn.Module):
    """No collection but params, no dropout."""

    out: int = 3

    @nn.compact
    def __call__(self, x, train=False):
        del train
        return nn.Dense(self.out)(nn.relu(nn.Dense(16)(x.reshape((x.shape[0], -1)))))


class _NNXMLP(nnx.Module):
    def __init__(self, rngs, out=3):
        self.l1 = nnx.Linear(12, 16, rngs=rngs)
        self.bn = nnx.BatchNorm(16, momentum=0.5, rngs=rngs)
        self.drop = nnx.Dropout(0.3, rngs=rngs)
        self.l2 = nnx.Linear(16, out, rngs=rngs)

    def __call__(self, x):
        x = jax.nn.relu(self.bn(self.l1(x.reshape(x.shape[0], -1))))
        return self.l2(self.drop(x))


def _batch(n=32, classes=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3, 4, 1)).astype(np.float32)
    y = rng.integers(0, classes, size=n).astype(np.int32)
    return jnp.asarray(x), jnp.asarray(y)


def _numpy(leaf):
    if jnp.issubdtype(jnp.asarray(leaf).dtype, jax.dtypes.prng_key):  # NNX Rngs state
        leaf = jax.random.key_data(leaf)
    return np.asarray(leaf)


def _tree_equal(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for u, v in zip(la, lb, strict=True):
        np.testing.assert_array_equal(_numpy(u), _numpy(v))


def _same_task(new: Task, old: Task, batch):
    """Same θ0 and state, loss, gradient, new state, train metrics and eval metrics."""
    params, state = new.init(jax.random.key(3))
    _tree_equal((params, state), old.init(jax.random.key(3)))
    key = jax.random.key(7)
    outs = [
        jax.jit(jax.value_and_grad(t.loss_fn, has_aux=True))(params, state, batch, key)
        for t in (new, old)
    ]
    _tree_equal(outs[0], outs[1])
    (_, (new_state, train_metrics)), grads = outs[0]
    assert set(train_metrics) == {"accuracy"}
    assert any(float(jnp.abs(g).sum()) > 0 for g in jax.tree_util.tree_leaves(grads))
    evals = [jax.jit(t.eval_fn)(params, new_state, batch) for t in (new, old)]
    _tree_equal(evals[0], evals[1])
    assert evals[0]["loss"].shape == evals[0]["accuracy"].shape == (len(batch[1]),)
    return state, new_state


# --- same numbers as the old code ---------------------------------------------------------------


@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_linen_task_equals_the_old_classification_task(l2):
    model = _LinenNet()
    new = linen_task(model, (3, 4, 1), l2=l2)
    old = _reference_classification_task(model, (3, 4, 1), l2=l2)
    state, new_state = _same_task(new, old, _batch())
    assert set(state) == {"batch_stats"}
    assert not np.allclose(  # batch statistics moved in training
        jax.tree_util.tree_leaves(state)[0], jax.tree_util.tree_leaves(new_state)[0]
    )
    # Dropout draws from the step's key: another key, another loss.
    params, state = new.init(jax.random.key(3))
    losses = [float(new.loss_fn(params, state, _batch(), jax.random.key(k))[0]) for k in (1, 2)]
    assert losses[0] != losses[1]


def test_linen_task_without_model_state_equals_the_old_one():
    model = _LinenMLP()
    state, _ = _same_task(
        linen_task(model, [3, 4, 1], l2=0.01),
        _reference_classification_task(model, [3, 4, 1], l2=0.01),
        _batch(),
    )
    assert state == {}


def test_nnx_task_equals_the_old_nnx_classification_task():
    _same_task(nnx_task(_NNXMLP), _reference_nnx_classification_task(_NNXMLP), _batch())


def test_nnx_task_l2_adds_half_l2_times_the_squared_norm_of_theta():
    plain, regularised = nnx_task(_NNXMLP), nnx_task(_NNXMLP, l2=0.01)
    params, rest = plain.init(jax.random.key(0))
    batch = _batch()
    loss, _ = plain.loss_fn(params, rest, batch, None)
    with_l2, _ = regularised.loss_fn(params, rest, batch, None)
    norm = sum(jnp.sum(p**2) for p in jax.tree_util.tree_leaves(params))
    assert float(norm) > 0
    np.testing.assert_allclose(with_l2, loss + 0.5 * 0.01 * norm, rtol=1e-6)
    grads = jax.grad(lambda p: regularised.loss_fn(p, rest, batch, None)[0])(params)
    plain_grads = jax.grad(lambda p: plain.loss_fn(p, rest, batch, None)[0])(params)
    for g, g0, p in zip(*map(jax.tree_util.tree_leaves, (grads, plain_grads, params)), strict=True):
        np.testing.assert_allclose(g, g0 + 0.01 * p, rtol=1e-5, atol=1e-7)


def test_same_sweep_trajectory_as_the_old_task():
    model = _LinenNet()
    x, y = _batch()

    def run(task):  # vmapped members: same z, step metrics and evaluation after 2 steps
        sweep = subspace.make_sweep(task, optax.adam(1e-2), projection="dense", width=16)

        @jax.jit
        def steps(ds, seeds):
            state = sweep.init(ds, seeds)
            for _ in range(2):
                state, metrics = sweep.update(state, (x, y))
            return state.train.z, metrics, sweep.evaluate(state, (x, y))

        return steps(jnp.array([4, 16]), jnp.array([0, 1]))

    _tree_equal(
        run(linen_task(model, (3, 4, 1))), run(_reference_classification_task(model, (3, 4, 1)))
    )


# --- the user's own loss and metrics ------------------------------------------------------------


def _regression_data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3, 4, 1)).astype(np.float32)
    y = (x.reshape(400, -1) @ rng.normal(size=12)).astype(np.float32)
    return subspace.Data(x[:300], y[:300], x[300:], y[300:])


def _squared_error(out, y):
    return (out[:, 0] - y) ** 2


def _abs_error(out, y):
    return jnp.abs(out[:, 0] - y)


def test_regression_with_a_custom_loss_trains_in_a_subspace():
    data = _regression_data()
    task = linen_task(
        _LinenMLP(out=1), (3, 4, 1), loss=_squared_error, metrics={"abs_error": _abs_error}
    )
    sweep = subspace.make_sweep(task, optax.adam(3e-2), projection="fastfood", width=64)
    members = (np.array([64, 64]), np.array([0, 1]))
    out = subspace.train_group(sweep, members, steps=150, data=data, batch_size=50)
    metric_names = {k for k in out if k.startswith(("train_", "test_"))}
    assert metric_names == {"train_loss", "train_abs_error", "test_loss", "test_abs_error"}
    assert out["finite"].all()
    variance = float(np.var(data.test_y))
    assert (out["test_loss"] < 0.3 * variance).all(), (out["test_loss"], variance)
    # The metrics are the means of the functions given, over the whole split.
    assert (out["test_abs_error"] ** 2 <= out["test_loss"] + 1e-6).all()  # Jensen

    # Evaluation reports the functions' per-example values.
    params, state = task.init(jax.random.key(0))
    x, y = data.test_x[:10], data.test_y[:10]
    ev = task.eval_fn(params, state, (x, y))
    pred = _LinenMLP(out=1).apply({"params": params}, x)[:, 0]
    np.testing.assert_allclose(ev["loss"], (pred - y) ** 2, rtol=1e-6)
    np.testing.assert_allclose(ev["abs_error"], np.abs(pred - y), rtol=1e-6)
    loss, (_, train_metrics) = task.loss_fn(params, state, (x, y), jax.random.key(1))
    np.testing.assert_allclose(loss, np.mean((pred - y) ** 2), rtol=1e-6)
    np.testing.assert_allclose(train_metrics["abs_error"], np.mean(np.abs(pred - y)), rtol=1e-6)


def test_nnx_task_with_a_custom_loss_and_default_accuracy():
    def squared_on_one_hot(out, y):
        return jnp.sum((out - jax.nn.one_hot(y, out.shape[-1])) ** 2, -1)

    task = nnx_task(_NNXMLP, loss=squared_on_one_hot)
    params, state = task.init(jax.random.key(0))
    x, y = _batch()
    ev = task.eval_fn(params, state, (x, y))
    assert set(ev) == {"accuracy", "loss"}
    model = nnx.merge(nnx.split(_NNXMLP(nnx.Rngs(0)), nnx.Param, ...)[0], params, state, copy=True)
    model.eval()
    out = model(x)
    np.testing.assert_allclose(ev["loss"], squared_on_one_hot(out, y), rtol=1e-6)
    np.testing.assert_array_equal(ev["accuracy"], (jnp.argmax(out, -1) == y).astype(np.float32))
    loss, (_, metrics) = jax.jit(task.loss_fn)(params, state, (x, y), jax.random.key(1))
    assert np.isfinite(loss) and set(metrics) == {"accuracy"}


def test_no_metrics_reports_only_the_loss():
    task = linen_task(_LinenMLP(), (3, 4, 1), metrics={})
    params, state = task.init(jax.random.key(0))
    assert set(task.eval_fn(params, state, _batch())) == {"loss"}
    assert task.loss_fn(params, state, _batch(), jax.random.key(0))[1][1] == {}


def test_a_loss_that_is_not_per_example_is_refused_when_traced():
    task = linen_task(_LinenMLP(), (3, 4, 1), loss=lambda out, y: jnp.mean(out))
    params, state = task.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"linen_task: loss must return one value per example"):
        task.loss_fn(params, state, _batch(), jax.random.key(0))
    task = linen_task(_LinenMLP(), (3, 4, 1), metrics={"m": lambda out, y: out})
    with pytest.raises(ValueError, match=r"metrics\['m'\] must return one value per example"):
        task.eval_fn(params, state, _batch())


# --- flax is imported lazily ------------------------------------------------------------------


def test_module_imports_without_flax_and_nnx_task_says_how_to_install_it():
    code = """
import sys
sys.modules["flax"] = None  # as if flax were not installed
import jax, jax.numpy as jnp
import subspace.flax_tasks as ft
assert not any(m.startswith("flax.") for m in sys.modules), "flax imported"


class Linear:  # duck-typed linen-like model: linen_task needs only init/apply
    def init(self, key, x, train=False):
        return {"params": {"w": jax.random.normal(key, (x.shape[-1], 2))}}

    def apply(self, variables, x, train=False, rngs=None):
        return x @ variables["params"]["w"]


task = ft.linen_task(Linear(), (3,))
params, state = task.init(jax.random.key(0))
loss, _ = task.loss_fn(params, state, (jnp.ones((4, 3)), jnp.array([0, 1, 0, 1])), None)
assert jnp.isfinite(loss)
try:
    ft.nnx_task(lambda rngs: None)
except ImportError as e:
    print("ImportError:", e)
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "ImportError:" in out.stdout and "pip install flax" in out.stdout, out.stdout


# --- bad input, refused when the task is built -------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": object()}, TypeError, r"linen_task: model must be a flax linen module.*init"),
        ({"model": _LinenMLP}, TypeError, r"linen_task: model must be a module instance"),
        ({"input_shape": "28x28"}, TypeError, r"input_shape must be a sequence of positive ints"),
        ({"input_shape": 28}, TypeError, r"input_shape must be a sequence of positive ints"),
        ({"input_shape": (28, 0)}, ValueError, r"input_shape must be a sequence of positive"),
        ({"input_shape": (28, -1)}, ValueError, r"input_shape must be a sequence of positive"),
        ({"input_shape": (28.0, 28)}, TypeError, r"input_shape must be a sequence of positive"),
        ({"input_shape": (True, 2)}, TypeError, r"input_shape must be a sequence of positive"),
        ({"l2": -0.1}, ValueError, r"linen_task: l2 must be a finite number >= 0"),
        ({"l2": float("nan")}, ValueError, r"l2 must be a finite number >= 0"),
        ({"l2": float("inf")}, ValueError, r"l2 must be a finite number >= 0"),
        ({"l2": "0.1"}, TypeError, r"l2 must be a real number"),
        ({"l2": True}, TypeError, r"l2 must be a real number"),
        ({"loss": "mse"}, ValueError, r"loss must be one of \['softmax_cross_entropy'\]"),
        ({"loss": 3}, TypeError, r"loss must be one of \['softmax_cross_entropy'\] or a call"),
        ({"metrics": [_abs_error]}, TypeError, r"metrics must be None \(accuracy\) or a dict"),
        ({"metrics": {"e": 1}}, TypeError, r"metrics\['e'\] must be callable"),
        ({"metrics": {1: _abs_error}}, TypeError, r"metrics names must be non-empty strings"),
        ({"metrics": {"loss": _abs_error}}, ValueError, r"metrics may not be named 'loss'"),
    ],
)
def test_linen_task_refuses_bad_input(kwargs, error, match):
    args = {"model": _LinenMLP(), "input_shape": (3, 4, 1), **kwargs}
    with pytest.raises(error, match=match):
        linen_task(args.pop("model"), args.pop("input_shape"), **args)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((_NNXMLP(nnx.Rngs(0)),), {}, TypeError, r"nnx_task: make_model must build the model"),
        ((None,), {}, TypeError, r"nnx_task: make_model must be callable"),
        ((_NNXMLP,), {"loss": "hinge"}, ValueError, r"nnx_task: loss must be one of"),
        ((_NNXMLP,), {"metrics": {"a": None}}, TypeError, r"nnx_task: metrics\['a'\] must be"),
    ],
)
def test_nnx_task_refuses_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        nnx_task(*args, **kwargs)


def test_input_shape_accepts_any_sequence_of_ints():
    task = linen_task(_LinenMLP(), np.array([3, 4, 1]))
    params, _ = task.init(jax.random.key(0))
    shapes = {p["kernel"].shape for p in params.values()}
    assert shapes == {(12, 16), (16, 3)}
