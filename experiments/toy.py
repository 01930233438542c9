"""The toy problem with a known answer (Li et al., 2018, section 2).

θ has D = 1000 entries in 10 groups of 100. The loss is Σ_k (Σ_{i in group k} θ_i − k)²,
k = 1..10: its minimisers form a 990-dimensional hyperplane, so a random subspace of
dimension d >= 10 meets it (almost surely) and one of dimension d < 10 does not. The
intrinsic dimension d_int100 is exactly 10.

The metric is the final loss relative to the loss at θ0; a member has solved the problem
when it is below ``TOLERANCE``. At d < 10 the loss is bounded below by the squared
distance from the subspace to the hyperplane (typically 1e-3 to 1e-1 of the initial loss
at d = 9), at d >= 10 L-BFGS drives it to float32 round-off (about 1e-14 to 1e-9).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from subspace import Task

D = 1000
GROUPS = 10
TOLERANCE = 1e-7  # final loss / initial loss below this: solved
THETA0_SCALE = 0.1  # θ0 ~ N(0, 0.1²)
STEPS = 300


def toy_loss(theta: jax.Array) -> jax.Array:
    """Σ_k (sum of group k of θ − k)², θ of shape (1000,)."""
    targets = jnp.arange(1, GROUPS + 1, dtype=theta.dtype)
    sums = theta.reshape(GROUPS, D // GROUPS).sum(axis=1)
    return jnp.sum((sums - targets) ** 2)


def _init(key: jax.Array) -> tuple[jax.Array, tuple]:
    return THETA0_SCALE * jax.random.normal(key, (D,)), ()


def _loss_fn(theta, model_state, batch, key):
    del batch, key  # full-batch and deterministic
    return toy_loss(theta), (model_state, {})


def _eval_fn(theta, model_state, batch, key):
    del model_state, batch, key
    return {"loss": toy_loss(theta)}


TASK = Task(init=_init, loss_fn=_loss_fn, eval_fn=_eval_fn)


def optimizer() -> optax.GradientTransformation:
    """L-BFGS: the toy is a least-squares problem, so it converges in a few hundred steps to
    float32 round-off even where the d×d system is badly conditioned (d = 10)."""
    return optax.lbfgs()
