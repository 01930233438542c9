"""A small functional trainer around any optax ``GradientTransformation`` and any
gradient estimator (:mod:`subspace.estimators`).

The same code trains z in a subspace and the full parameters of the baseline, by
backpropagation or by evolution strategies: the trainable pytree is whatever the loss
function takes first (z of shape (d,), or the model's whole ``params``), and the estimator
is a value, so every run shares one code path and they are comparable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from subspace._checks import check_int, is_typed_key
from subspace.estimators import Backprop, check_estimator
from subspace.projections.base import check_key
from subspace.task import LossFn

__all__ = ["MAX_STEPS", "TrainState", "Trainer", "make_trainer"]

MAX_STEPS = 2**31 - 1  # TrainState.step is an int32 counter

Metrics = dict[str, jax.Array]
# eval_fn(trainable, model_state, batch) -> metrics
EvalFn = Callable[[Any, Any, Any], Metrics]


class TrainState(NamedTuple):
    """Everything a training step carries; a pytree, so it can be vmapped over members."""

    z: Any  # the trainable pytree: z (d,) in a subspace, or the full params (baseline)
    opt_state: optax.OptState
    model_state: Any  # collections the model updates itself (batch_stats); () if none
    step: jax.Array  # int32 scalar, number of steps taken
    key: jax.Array  # step s draws its randomness (dropout) from fold_in(key, s)
    estimator_state: Any = ()  # the estimator's own state (() for backprop and ES)


class Trainer(NamedTuple):
    """Pure training functions for one loss and one optimiser.

    Attributes:
      init: ``init(z, *, key, model_state=()) -> TrainState``.
      update: the pure step ``update(state, batch) -> (state, metrics)``; compose it with
        ``jax.vmap``/``jax.lax.scan``.
      step: ``jax.jit(update)`` with the incoming state's buffers donated.
      evaluate: jitted ``evaluate(state, batch) -> metrics`` (needs ``eval_fn``).
    """

    init: Callable[..., TrainState]
    update: Callable[[TrainState, Any], tuple[TrainState, Metrics]]
    step: Callable[[TrainState, Any], tuple[TrainState, Metrics]]
    evaluate: Callable[[TrainState, Any], Metrics]

    def fit(self, state: TrainState, batches: Iterable[Any]) -> tuple[TrainState, list]:
        """Runs ``step`` over ``batches``; returns the final state and per-step metrics."""
        history = []
        for batch in batches:
            state, metrics = self.step(state, batch)
            history.append(metrics)
        return state, history

    def scan(self, state: TrainState, batch: Any, num_steps: int) -> tuple[TrainState, Metrics]:
        """``num_steps`` steps on the same ``batch`` in one compiled loop (full-batch
        problems such as the toy); returns the final state and the stacked metrics."""
        return _scan(self.update, state, batch, num_steps)


def make_trainer(
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    estimator: Any = None,
    eval_fn: EvalFn | None = None,
    mask: jax.Array | None = None,
    D: int | None = None,  # noqa: N803 -- the paper's symbol
) -> Trainer:
    """Builds a :class:`Trainer` for ``loss_fn``, ``optimizer`` and ``estimator``.

    Step s draws its key ``fold_in(key, s)``, asks the estimator for the loss and the
    gradient at z (:func:`subspace.estimators.backprop`: ``value_and_grad(loss_fn)``), then
    ``optimizer.update(g, opt_state, z, value=loss, grad=g, value_fn=...)`` and
    ``optax.apply_updates``. The extra arguments let line-search optimisers such as
    ``optax.lbfgs`` work; every other optimiser ignores them.

    Args:
      loss_fn: ``loss_fn(z, model_state, batch, key) -> (loss, (model_state, metrics))``
        with a scalar loss; for subspace training it calls the model on
        ``subspace.params(z)``.
      optimizer: any optax ``GradientTransformation``.
      estimator: where the gradient comes from (:mod:`subspace.estimators`); default
        backpropagation.
      eval_fn: optional ``eval_fn(z, model_state, batch) -> metrics``.
      mask: for estimators that perturb z (ES): the coordinates of z in use (1.0) and
        padding (0.0), shape of z; None: all are in use.
      D: for ES with ``sigma_in_theta``: the number of parameters z moves; None: z's size.

    Returns:
      A :class:`Trainer`. Metrics of a step are ``{"loss": ..., **metrics}``.

    Example:
      >>> trainer = subspace.make_trainer(loss_fn, optax.adam(0.1),
      ...                                 estimator=subspace.estimators.es(32, 0.1))
    """
    if not callable(loss_fn):
        raise TypeError(f"make_trainer: loss_fn must be callable; got {type(loss_fn).__name__}")
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "make_trainer: optimizer must be an optax.GradientTransformation (e.g. "
            f"optax.adam(1e-3)); got {type(optimizer).__name__}"
        )
    if eval_fn is not None and not callable(eval_fn):
        raise TypeError(f"make_trainer: eval_fn must be callable; got {type(eval_fn).__name__}")
    estimator = Backprop() if estimator is None else check_estimator(estimator, "make_trainer")
    opt = optax.with_extra_args_support(optimizer)

    def init(z: Any, *, key: jax.Array | None = None, model_state: Any = ()) -> TrainState:
        check_key(key, "Trainer.init")
        _check_trainable(z)
        # Copies, so that donating the state to ``step`` never deletes the caller's arrays.
        z, model_state = jax.tree_util.tree_map(jnp.array, (z, model_state))
        key = jax.random.clone(key) if is_typed_key(key) else jnp.array(key)
        # The estimator's keys: split(key)[0] (a sweep evaluates with split(key)[1]).
        estimator_state = estimator.init(z, jax.random.split(key)[0])
        step = jnp.zeros((), jnp.int32)
        return TrainState(z, opt.init(z), model_state, step, key, estimator_state)

    def update(state: TrainState, batch: Any) -> tuple[TrainState, Metrics]:
        step_key = jax.random.fold_in(state.key, state.step)
        found = estimator.estimate(
            loss_fn,
            state.z,
            state.model_state,
            batch,
            step_key,
            state.estimator_state,
            mask=mask,
            D=D,
        )

        def value_fn(z):
            return loss_fn(z, state.model_state, batch, step_key)[0]

        updates, opt_state = opt.update(
            found.grad,
            state.opt_state,
            state.z,
            value=found.loss,
            grad=found.grad,
            value_fn=value_fn,
        )
        z = optax.apply_updates(state.z, updates)
        new_state = TrainState(
            z, opt_state, found.model_state, state.step + 1, state.key, found.state
        )
        return new_state, {"loss": found.loss, **found.metrics}

    def evaluate(state: TrainState, batch: Any) -> Metrics:
        if eval_fn is None:
            raise ValueError("Trainer.evaluate: make_trainer was given no eval_fn")
        return eval_fn(state.z, state.model_state, batch)

    return Trainer(
        init=init,
        update=update,
        step=jax.jit(update, donate_argnums=0),
        evaluate=jax.jit(evaluate),
    )


def _check_trainable(z: Any) -> None:
    leaves = jax.tree_util.tree_leaves(z)
    if not leaves:
        raise ValueError("Trainer.init: z has no leaves; expected z of shape (d,) or params")
    for leaf in leaves:
        numeric = hasattr(leaf, "dtype") or isinstance(leaf, (int, float, complex))
        dtype = jnp.result_type(leaf) if numeric and not isinstance(leaf, type) else None
        if dtype is None or not jnp.issubdtype(dtype, jnp.inexact):
            raise TypeError(
                "Trainer.init: z must be a floating-point array (z of shape (d,), e.g. "
                "subspace.zeros()) or a pytree of them (the baseline's params); got a leaf "
                f"{type(leaf).__name__} of dtype {dtype}"
            )


def _scan(update, state, batch, num_steps):
    check_int(
        num_steps,
        "num_steps",
        1,
        where="Trainer.scan",
        types=int,
        type_error=ValueError,
        range_repr=True,
    )

    def body(carry, _):
        return update(carry, batch)

    return jax.lax.scan(body, state, None, length=num_steps)
