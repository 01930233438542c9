"""The fast Walsh–Hadamard transform, in pure JAX through reshapes."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = ["METHODS", "fwht"]

METHODS = ("kronecker", "butterfly")

# Largest Kronecker factor: the transform is a sequence of matrix products with H_k,
# k <= 2^_MAX_LOG_FACTOR, one pass over memory each (k multiply-adds per element).
_MAX_LOG_FACTOR = 5


def fwht(x: ArrayLike, *, method: str = "kronecker") -> jax.Array:
    """Unnormalised fast Walsh–Hadamard transform over the last axis: y = H x.

    H is the n×n Sylvester–Hadamard matrix, H_1 = [1], H_2k = [[H_k, H_k], [H_k, -H_k]],
    with entries ±1, so H is symmetric and H H = n I. Leading axes are batch axes. Linear,
    so ``jax.grad``/``jax.vjp`` work through it (its transpose is itself).

    Two exact algorithms, both O(n log n) and traced as O(log n) operations (never a loop
    over elements):

    - ``"kronecker"`` (default): H_n = H_k1 ⊗ H_k2 ⊗ ... with factors k <= 32; x is viewed as
      ``(..., k1, k2, ...)`` and each axis is multiplied by its small H_k (a matrix product at
      full float32 precision, ``Precision.HIGHEST``). Two or three passes over memory for
      n <= 2^15 instead of log2(n): about 2x faster than the butterfly at n = 2^10 on a CPU
      (``python -m experiments.benchmark``), and matrix units do the work on GPU/TPU.
      Half-precision inputs accumulate in float32.
    - ``"butterfly"``: log2(n) radix-2 stages; each views the data as ``(..., n / 2h, 2, h)``
      and replaces the pair (a, b) by (a + b, a - b). Additions only.

    The two agree to float rounding (not bitwise: the sums run in a different order).

    Args:
      x: array of shape ``(..., n)``, n a power of two, dtype float16, bfloat16, float32 or
        float64.
      method: ``"kronecker"`` or ``"butterfly"``.

    Returns:
      ``H x`` over the last axis, same shape and dtype as ``x``.

    Raises:
      ValueError: ``x`` is a scalar, its last axis is not a power of two, or ``method`` is
        unknown.
      TypeError: ``x`` is not floating point.

    Example:
      >>> fwht(jnp.array([1.0, 0.0, 0.0, 0.0]))
      Array([1., 1., 1., 1.], dtype=float32)
    """
    if method not in METHODS:
        raise ValueError(f"fwht: method must be one of {METHODS}; got {method!r}")
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
    return _kronecker(x) if method == "kronecker" else _butterfly(x)


@jax.jit
def _butterfly(x: jax.Array) -> jax.Array:
    # Jitted so that eager calls run as one compiled program, not log2(n) dispatches.
    *batch, n = x.shape
    h = 1
    while h < n:
        y = x.reshape(*batch, n // (2 * h), 2, h)
        a, b = y[..., 0, :], y[..., 1, :]
        x = jnp.stack([a + b, a - b], axis=-2).reshape(*batch, n)
        h *= 2
    return x


def _factors(n: int) -> tuple[int, ...]:
    """Split n = 2^m into ceil(m / 5) powers of two as equal as possible, largest first."""
    m = n.bit_length() - 1
    parts = max(1, -(-m // _MAX_LOG_FACTOR))
    logs = [m // parts + (1 if i < m % parts else 0) for i in range(parts)]
    return tuple(1 << k for k in logs)


@functools.cache
def _hadamard_matrix(k: int) -> np.ndarray:
    h = np.ones((1, 1), np.float32)
    while h.shape[0] < k:
        h = np.block([[h, h], [h, -h]])
    return h


@jax.jit
def _kronecker(x: jax.Array) -> jax.Array:
    *batch, n = x.shape
    if n == 1:
        return x
    factors = _factors(n)
    acc = jnp.promote_types(x.dtype, jnp.float32)
    y = x.reshape(*batch, *factors)
    names = "abcdefghijklmnop"[: len(factors)]
    for i, k in enumerate(factors):
        h = jnp.asarray(_hadamard_matrix(k), acc)
        # Multiply factor axis i by H_k (symmetric), leaving the other axes in place.
        out = names[:i] + "z" + names[i + 1 :]
        y = jnp.einsum(
            f"{names[i]}z,...{names}->...{out}",
            h,
            y,
            precision=jax.lax.Precision.HIGHEST,
            preferred_element_type=acc,
        )
    return y.reshape(*batch, n).astype(x.dtype)
