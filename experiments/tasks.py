"""Tasks for the sweep engine: a Flax linen classifier trained with cross-entropy."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import nnx

from subspace.sweep import Task

__all__ = ["classification_task", "nnx_classification_task"]


def classification_task(model: nn.Module, input_shape: Sequence[int], *, l2: float = 0.0) -> Task:
    """Softmax cross-entropy on integer labels for a linen ``model(x, train=...)``.

    θ0 is ``model.init(key, ...)["params"]``; other collections (``batch_stats``) are the
    model state, updated by the model in training (``mutable``) and used in evaluation.

    Args:
      model: a linen module whose ``__call__(x, train)`` returns logits (N, classes).
      input_shape: shape of one example, e.g. (28, 28, 1).
      l2: weight of ``0.5 * l2 * ||θ||²`` added to the training loss (on the full θ, as
        in the original code).

    Returns:
      A :class:`subspace.sweep.Task`; ``eval_fn`` returns per-example ``accuracy`` and
      ``loss``.
    """
    input_shape = tuple(int(s) for s in input_shape)
    if l2 < 0:
        raise ValueError(f"classification_task: l2 must be >= 0; got {l2}")

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

    def eval_fn(params, model_state, batch):
        x, y = batch
        logits = model.apply({"params": params, **model_state}, x, train=False)
        return {
            "accuracy": (jnp.argmax(logits, -1) == y).astype(jnp.float32),
            "loss": optax.softmax_cross_entropy_with_integer_labels(logits, y),
        }

    return Task(init=init, loss_fn=loss_fn, eval_fn=eval_fn)


def nnx_classification_task(make_model: Callable[[nnx.Rngs], nnx.Module]) -> Task:
    """Softmax cross-entropy for an NNX model built by ``make_model(rngs)``.

    θ0 is the model's ``nnx.Param`` state (``nnx.split(model, nnx.Param, ...)``); the rest
    (BatchNorm statistics, RNG counters) is the model state, carried through training and
    updated by the model. The model is put in ``train()`` mode for the loss and ``eval()``
    mode for evaluation. Stochastic layers draw from the model's own ``nnx.Rngs`` state.
    ``nnx.merge(..., copy=True)`` builds fresh Variables inside the traced function, so a
    layer that updates its state (BatchNorm) may do so under ``jax.grad``/``jax.vmap``
    (without the copy, flax raises ``TraceContextError``).

    Args:
      make_model: builds the model from ``nnx.Rngs``; called once abstractly (to learn
        the graph) and once per member with the member's init key.

    Returns:
      A :class:`subspace.sweep.Task` like :func:`classification_task`'s.
    """
    if not callable(make_model):
        raise TypeError(
            f"nnx_classification_task: make_model must be callable (rngs -> nnx.Module); "
            f"got {type(make_model).__name__}"
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
        logits = model(x)
        _, _, rest = nnx.split(model, nnx.Param, ...)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, (rest, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == y)})

    def eval_fn(params, rest, batch):
        x, y = batch
        model = nnx.merge(graphdef, params, rest, copy=True)
        model.eval()
        logits = model(x)
        return {
            "accuracy": (jnp.argmax(logits, -1) == y).astype(jnp.float32),
            "loss": optax.softmax_cross_entropy_with_integer_labels(logits, y),
        }

    return Task(init=init, loss_fn=loss_fn, eval_fn=eval_fn)
