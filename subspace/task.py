"""What a measurement trains: a model's initialiser, its objective and its evaluation.

One :class:`Task` serves every way of training z: backpropagation reads the loss's
gradient, evolution strategies only its values (:mod:`subspace.estimators`). A task whose
objective is an episode's return (:mod:`subspace.rl`) is a task like any other: its loss
is minus the return, with no batch and no model state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

__all__ = ["EvalFn", "LossFn", "Task", "check_task", "init_shapes", "initialised"]

Metrics = dict[str, jax.Array]
# loss_fn(params, model_state, batch, key) -> (loss, (new_model_state, metrics))
LossFn = Callable[[Any, Any, Any, jax.Array], tuple[jax.Array, tuple[Any, Metrics]]]
# eval_fn(params, model_state, batch, key) -> metrics
EvalFn = Callable[[Any, Any, Any, jax.Array], Metrics]


@dataclasses.dataclass(frozen=True)
class Task:
    """The model and its objective, on full parameters θ.

    Attributes:
      init: ``init(key) -> (params, model_state)``; ``params`` is θ0 (a pytree of floats),
        ``model_state`` the collections the model updates itself (``()`` if none).
      loss_fn: ``loss_fn(params, model_state, batch, key) -> (loss, (model_state,
        metrics))``, a scalar loss to minimise; the same function the full-parameter
        baseline trains. ``batch`` is None for a problem without data; ``key`` draws the
        step's randomness (dropout, an episode).
      eval_fn: optional ``eval_fn(params, model_state, batch, key) -> metrics``: per-example
        values of shape (N,) on a batch of data, or scalars without data (then a
        measurement reports them as ``initial_<name>`` and ``final_<name>``). ``key`` is
        the member's evaluation key, the same before and after training (the episodes an
        RL task evaluates).

    Example:
      >>> task = subspace.Task(
      ...     init=lambda key: (jax.random.normal(key, (100,)), ()),
      ...     loss_fn=lambda p, s, batch, key: (jnp.sum((p - 1.0) ** 2), (s, {})),
      ...     eval_fn=lambda p, s, batch, key: {"loss": jnp.sum((p - 1.0) ** 2)},
      ... )
    """

    init: Callable[[jax.Array], tuple[Any, Any]]
    loss_fn: LossFn
    eval_fn: EvalFn | None = None

    def __post_init__(self) -> None:
        for name in ("init", "loss_fn"):
            if not callable(getattr(self, name)):
                raise TypeError(f"Task: {name} must be callable; got {getattr(self, name)!r}")
        if self.eval_fn is not None and not callable(self.eval_fn):
            raise TypeError(f"Task: eval_fn must be callable or None; got {self.eval_fn!r}")


def init_shapes(task: Task, where: str) -> tuple[Any, Any]:
    """``(params, model_state)`` of ``task.init`` as shapes (``jax.eval_shape``: nothing is
    computed); a clear error if ``init`` does not return that pair."""
    check_task(task, where)
    return initialised(jax.eval_shape(task.init, jax.random.key(0)), where)


def initialised(found: Any, where: str) -> tuple[Any, Any]:
    """``found``, what ``task.init`` returned, if it is the pair (params, model_state)."""
    if not isinstance(found, tuple) or len(found) != 2:
        kind = type(found).__name__ if not isinstance(found, tuple) else f"{len(found)}-tuple"
        raise TypeError(
            f"{where}: task.init(key) must return (params, model_state) (model_state () if "
            f"the model has none); got a {kind}"
        )
    return found


def check_task(task: Any, where: str) -> Task:
    """``task`` if it is a :class:`Task` (whose functions were checked when it was built);
    else a TypeError naming ``where``."""
    if not isinstance(task, Task):
        raise TypeError(
            f"{where}: task must be a subspace.Task(init, loss_fn, eval_fn) (see "
            f"subspace.linen_task, subspace.nnx_task, subspace.rl); got {type(task).__name__}"
        )
    return task
