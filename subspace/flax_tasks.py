"""Flax adapters: a :class:`subspace.Task` from a linen module or an NNX model.

* :func:`linen_task` wraps a linen module used through ``model.init``/``model.apply``
  (no flax import is needed for it);
* :func:`nnx_task` wraps an NNX model built by ``make_model(rngs)``; it imports
  ``flax.nnx`` when called, so this module imports without flax installed.

Both train with a loss on the model's outputs, by default softmax cross-entropy on integer
labels, or the user's own ``loss(outputs, labels) -> (N,)`` per-example losses (averaged
over the batch in training). Evaluation reports per-example ``loss`` and metrics, by
default ``accuracy`` (argmax == label), or the user's own ``{name: fn(outputs, labels) ->
(N,)}``. Batches are ``(x, y)`` tuples.

Example:
  >>> task = linen_task(FC(width=200, depth=2), (28, 28, 1))
  >>> sweep = subspace.make_sweep(task, optax.adam(1e-3), projection="fastfood", width=1000)
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from subspace.task import Task

__all__ = ["LOSSES", "linen_task", "nnx_task"]

PerExample = Callable[[jax.Array, jax.Array], jax.Array]  # (outputs, labels) -> (N,)

#: The losses known by name: ``(outputs, labels) -> per-example losses (N,)``.
LOSSES: dict[str, PerExample] = {
    "softmax_cross_entropy": optax.softmax_cross_entropy_with_integer_labels,
}


def _accuracy(outputs: jax.Array, labels: jax.Array) -> jax.Array:
    return (jnp.argmax(outputs, -1) == labels).astype(jnp.float32)


# ---------------------------------------------------------------------------------------------
# Argument checks: all run when the task is built, before any tracing.


def _check_loss(loss: Any, where: str) -> PerExample:
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(
                f"{where}: loss must be one of {sorted(LOSSES)} or a callable "
                f"loss(outputs, labels) -> per-example losses (N,); got {loss!r}"
            )
        return LOSSES[loss]
    if not callable(loss):
        raise TypeError(
            f"{where}: loss must be one of {sorted(LOSSES)} or a callable "
            f"loss(outputs, labels) -> per-example losses (N,); got {type(loss).__name__}"
        )
    return loss


def _check_metrics(metrics: Any, where: str) -> dict[str, PerExample]:
    if metrics is None:
        return {"accuracy": _accuracy}
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"{where}: metrics must be None (accuracy) or a dict name -> "
            f"fn(outputs, labels) -> per-example values (N,); got {type(metrics).__name__}"
        )
    for name, fn in metrics.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"{where}: metrics names must be non-empty strings; got {name!r}")
        if name == "loss":
            raise ValueError(
                f"{where}: metrics may not be named 'loss' (the loss is always reported "
                f"as 'loss'); rename it"
            )
        if not callable(fn):
            raise TypeError(
                f"{where}: metrics[{name!r}] must be callable fn(outputs, labels) -> "
                f"per-example values (N,); got {type(fn).__name__}"
            )
    return dict(metrics)


def _check_l2(l2: Any, where: str) -> float:
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real):
        raise TypeError(f"{where}: l2 must be a real number >= 0; got {type(l2).__name__}")
    if not math.isfinite(l2) or l2 < 0:
        raise ValueError(f"{where}: l2 must be a finite number >= 0; got {l2}")
    return l2


def _check_input_shape(input_shape: Any, where: str) -> tuple[int, ...]:
    message = f"{where}: input_shape must be a sequence of positive ints, e.g. (28, 28, 1)"
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Iterable):
        raise TypeError(f"{message}; got {input_shape!r}")
    shape = []
    for s in input_shape:
        if isinstance(s, bool):
            raise TypeError(f"{message}; got {input_shape!r}")
        try:
            s = operator.index(s)
        except TypeError:
            raise TypeError(f"{message}; got {input_shape!r}") from None
        if s < 1:
            raise ValueError(f"{message}; got {input_shape!r}")
        shape.append(s)
    return tuple(shape)


def _check_linen_model(model: Any, where: str) -> None:
    if isinstance(model, type):
        raise TypeError(
            f"{where}: model must be a module instance with init/apply (e.g. FC(), not FC); "
            f"got the class {model.__name__}"
        )
    missing = [m for m in ("init", "apply") if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(
            f"{where}: model must be a flax linen module (with callable init and apply); "
            f"{type(model).__name__} has no {' or '.join(missing)}"
        )


def _per_example(name: str, values: Any, n: int, where: str) -> jax.Array:
    """Checks (at trace time, on static shapes) that ``values`` has shape (n,)."""
    values = jnp.asarray(values)
    if values.shape != (n,):
        raise ValueError(
            f"{where}: {name} must return one value per example, shape ({n},); got shape "
            f"{values.shape}"
        )
    return values


def _evaluate(loss: PerExample, metrics: dict[str, PerExample], outputs, y, where: str) -> dict:
    """Per-example metrics and loss of one evaluation batch."""
    n = jnp.shape(y)[0]
    out = {
        k: _per_example(f"metrics[{k!r}]", fn(outputs, y), n, where) for k, fn in metrics.items()
    }
    out["loss"] = _per_example("loss", loss(outputs, y), n, where)
    return out


def _train_metrics(metrics: dict[str, PerExample], outputs, y, where: str) -> dict:
    """Batch means of the per-example metrics, reported by each training step."""
    n = jnp.shape(y)[0]
    return {
        k: jnp.mean(_per_example(f"metrics[{k!r}]", fn(outputs, y), n, where))
        for k, fn in metrics.items()
    }


# ---------------------------------------------------------------------------------------------


def linen_task(
    model: Any,
    input_shape: Sequence[int],
    *,
    loss: str | PerExample = "softmax_cross_entropy",
    l2: float = 0.0,
    metrics: Mapping[str, PerExample] | None = None,
) -> Task:
    """A :class:`subspace.Task` for a linen ``model(x, train=...)``.

    θ0 is ``model.init(key, zeros((1, *input_shape)), train=False)["params"]``; the other
    collections (``batch_stats``) are the model state, updated by the model in training
    (``mutable``) and used as they are in evaluation. Training calls the model with
    ``train=True`` and ``rngs={"dropout": key}`` (the step's key); evaluation with
    ``train=False``. Flax itself is not imported: the model is used through its ``init``
    and ``apply``.

    Args:
      model: a linen module instance whose ``__call__(x, train)`` returns outputs (N, ...),
        e.g. logits (N, classes).
      input_shape: shape of one example, e.g. (28, 28, 1): positive ints.
      loss: ``"softmax_cross_entropy"`` (integer labels; the default) or a callable
        ``loss(outputs, labels) -> (N,)`` per-example losses; training minimises their
        batch mean, evaluation reports them per example as ``loss``.
      l2: weight of ``0.5 * l2 * ||θ||²`` added to the training loss (on the full θ, as in
        the original code); a finite number >= 0.
      metrics: None for ``{"accuracy": argmax(outputs) == labels}``, or a dict
        ``name -> fn(outputs, labels) -> (N,)`` per-example values (``{}`` for none; the
        name ``loss`` is reserved). Training steps report their batch means.

    Returns:
      A :class:`subspace.Task`; ``eval_fn`` returns the per-example metrics and
      ``loss``.

    Raises:
      TypeError, ValueError: a bad argument, named in the message.

    Example:
      >>> task = linen_task(FC(width=200, depth=2), (28, 28, 1))
      >>> reg = linen_task(MLP(out=1), (8,), loss=lambda out, y: (out[:, 0] - y) ** 2,
      ...                  metrics={"abs_error": lambda out, y: jnp.abs(out[:, 0] - y)})
    """
    where = "linen_task"
    _check_linen_model(model, where)
    input_shape = _check_input_shape(input_shape, where)
    loss_of = _check_loss(loss, where)
    l2 = _check_l2(l2, where)
    metric_fns = _check_metrics(metrics, where)

    def init(key):
        variables = model.init(key, jnp.zeros((1, *input_shape)), train=False)
        params = variables["params"]
        return params, {k: v for k, v in variables.items() if k != "params"}

    def loss_fn(params, model_state, batch, key):
        x, y = batch
        variables = {"params": params, **model_state}
        if model_state:
            outputs, updates = model.apply(
                variables, x, train=True, mutable=list(model_state), rngs={"dropout": key}
            )
            model_state = {**model_state, **updates}
        else:
            outputs = model.apply(variables, x, train=True, rngs={"dropout": key})
        value = _per_example("loss", loss_of(outputs, y), jnp.shape(y)[0], where).mean()
        return _with_l2(value, l2, params), (
            model_state,
            _train_metrics(metric_fns, outputs, y, where),
        )

    def eval_fn(params, model_state, batch, key=None):
        del key  # evaluation is deterministic
        x, y = batch
        outputs = model.apply({"params": params, **model_state}, x, train=False)
        return _evaluate(loss_of, metric_fns, outputs, y, where)

    return Task(init=init, loss_fn=loss_fn, eval_fn=eval_fn)


def _with_l2(value: jax.Array, l2: float, params: Any) -> jax.Array:
    """``value`` + 0.5 · l2 · ||θ||² on the full θ (the original code's L2); ``value``
    itself (no operation) when l2 is 0."""
    if not l2:
        return value
    return value + 0.5 * l2 * sum(jnp.sum(p**2) for p in jax.tree_util.tree_leaves(params))


def _import_nnx(where: str):
    try:
        from flax import nnx
    except ImportError as e:
        raise ImportError(
            f"{where} needs flax (NNX), which is not installed: pip install flax "
            f"(or pip install 'subspace-intrinsic[flax]')"
        ) from e
    return nnx


def nnx_task(
    make_model: Callable[[Any], Any],
    *,
    loss: str | PerExample = "softmax_cross_entropy",
    l2: float = 0.0,
    metrics: Mapping[str, PerExample] | None = None,
) -> Task:
    """A :class:`subspace.Task` for an NNX model built by ``make_model(rngs)``.

    θ0 is the model's ``nnx.Param`` state (``nnx.split(model, nnx.Param, ...)``); the rest
    (BatchNorm statistics, RNG counters) is the model state, carried through training and
    updated by the model. The model is put in ``train()`` mode for the loss and ``eval()``
    mode for evaluation. Stochastic layers draw from the model's own ``nnx.Rngs`` state
    (the step's key is unused). ``nnx.merge(..., copy=True)`` builds fresh Variables inside
    the traced function, so a layer that updates its state (BatchNorm) may do so under
    ``jax.grad``/``jax.vmap`` (without the copy, flax raises ``TraceContextError``).
    ``flax.nnx`` is imported here, when the task is built.

    Args:
      make_model: builds the model from ``nnx.Rngs``; called once abstractly (to learn the
        graph) and once per member with the member's init key.
      loss: as in :func:`linen_task`: ``"softmax_cross_entropy"`` or
        ``loss(outputs, labels) -> (N,)``.
      l2: as in :func:`linen_task`: ``0.5 * l2 * ||θ||²`` added to the training loss.
      metrics: as in :func:`linen_task`: None for accuracy, or a dict
        ``name -> fn(outputs, labels) -> (N,)``.

    Returns:
      A :class:`subspace.Task` like :func:`linen_task`'s.

    Raises:
      TypeError, ValueError: a bad argument, named in the message.
      ImportError: flax is not installed.

    Example:
      >>> task = nnx_task(lambda rngs: nnx.Linear(784, 10, rngs=rngs))
    """
    where = "nnx_task"
    if not callable(make_model):
        raise TypeError(
            f"{where}: make_model must be callable (rngs -> nnx.Module); "
            f"got {type(make_model).__name__}"
        )
    loss_of = _check_loss(loss, where)
    l2 = _check_l2(l2, where)
    metric_fns = _check_metrics(metrics, where)
    nnx = _import_nnx(where)
    if isinstance(make_model, nnx.Module):
        raise TypeError(
            f"{where}: make_model must build the model from nnx.Rngs (e.g. the class, or "
            f"lambda rngs: Net(rngs=rngs)); got a model instance, {type(make_model).__name__}"
        )
    graphdef, _, _ = nnx.split(nnx.eval_shape(lambda: make_model(nnx.Rngs(0))), nnx.Param, ...)

    def init(key):
        _, params, rest = nnx.split(make_model(nnx.Rngs(key)), nnx.Param, ...)
        return params, rest

    def loss_fn(params, rest, batch, key):
        del key  # NNX layers draw from the model's own Rngs state
        x, y = batch
        model = nnx.merge(graphdef, params, rest, copy=True)
        model.train()
        outputs = model(x)
        _, _, rest = nnx.split(model, nnx.Param, ...)
        value = _per_example("loss", loss_of(outputs, y), jnp.shape(y)[0], where).mean()
        return _with_l2(value, l2, params), (
            rest,
            _train_metrics(metric_fns, outputs, y, where),
        )

    def eval_fn(params, rest, batch, key=None):
        del key  # evaluation is deterministic
        x, y = batch
        model = nnx.merge(graphdef, params, rest, copy=True)
        model.eval()
        return _evaluate(loss_of, metric_fns, model(x), y, where)

    return Task(init=init, loss_fn=loss_fn, eval_fn=eval_fn)
