"""The fast Walsh–Hadamard transform, in pure JAX through reshapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["fwht"]


def fwht(x: ArrayLike) -> jax.Array:
    """Unnormalised fast Walsh–Hadamard transform over the last axis: y = H x.

    H is the n×n Sylvester–Hadamard matrix, H_1 = [1], H_2k = [[H_k, H_k], [H_k, -H_k]],
    with entries ±1, so H is symmetric and H H = n I. The transform takes log2(n) stages;
    each stage views the data as ``(..., n / 2h, 2, h)`` and replaces the pair (a, b) by
    (a + b, a - b). The loop runs over stages (log2 n of them), never over elements, so the
    traced program is O(log n) operations of O(n) work each. Leading axes are batch axes.
    Linear, so ``jax.grad``/``jax.vjp`` work through it (its transpose is itself).

    Args:
      x: array of shape ``(..., n)``, n a power of two, dtype float16, bfloat16, float32 or
        float64. The arithmetic is done in that dtype.

    Returns:
      ``H x`` over the last axis, same shape and dtype as ``x``.

    Raises:
      ValueError: ``x`` is a scalar or its last axis is not a power of two.
      TypeError: ``x`` is not floating point.

    Example:
      >>> fwht(jnp.array([1.0, 0.0, 0.0, 0.0]))
      Array([1., 1., 1., 1.], dtype=float32)
    """
    x = jnp.asarray(x)
    if x.ndim == 0:
        raise ValueError("fwht: x must have at least one axis; got a scalar")
    n = x.shape[-1]
    if n < 1 or n & (n - 1):
        raise ValueError(f"fwht: the last axis of x must be a power of two (1, 2, 4, ...); got {n}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"fwht: x must be floating point (float16, bfloat16, float32, float64); got {x.dtype}"
        )
    return _fwht(x)


@jax.jit
def _fwht(x: jax.Array) -> jax.Array:
    # Jitted so that eager calls run as one compiled program, not log2(n) dispatches.
    *batch, n = x.shape
    h = 1
    while h < n:
        y = x.reshape(*batch, n // (2 * h), 2, h)
        a, b = y[..., 0, :], y[..., 1, :]
        x = jnp.stack([a + b, a - b], axis=-2).reshape(*batch, n)
        h *= 2
    return x
