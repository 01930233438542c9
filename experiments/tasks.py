"""Tasks for the sweep engine: a Flax linen classifier trained with cross-entropy."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from subspace.sweep import Task

__all__ = ["classification_task"]


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
