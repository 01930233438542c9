"""The :class:`Projection` pair and the argument checks shared by every projection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from subspace._checks import as_int, is_typed_key

__all__ = ["Projection"]


class Projection(NamedTuple):
    """A random linear map P: R^d → R^D, as a pair of pure functions (like optax's).

    ``state = init(key)`` draws P (or what defines it) from ``key``; ``delta = apply(state,
    z)`` returns P z of shape ``(D,)`` for z of shape ``(d,)``. Both are jittable and
    vmappable; ``apply`` is linear in z and differentiable.
    """

    init: Callable[[jax.Array], Any]
    apply: Callable[[Any, jax.Array], jax.Array]


def check_dims(D: Any, d: Any) -> tuple[int, int]:  # noqa: N803 -- the paper's symbols
    """Returns (D, d) as ints, or raises if they are not integers with 1 <= d <= D."""
    D = as_int(D, "D")
    d = as_int(d, "d")
    if D < 1:
        raise ValueError(f"D (number of parameters) must be an integer >= 1; got {D}")
    if not 1 <= d <= D:
        raise ValueError(f"d (subspace dimension) must be an integer in [1, D={D}]; got {d}")
    return D, d


def check_dtype(dtype: Any) -> np.dtype:
    """Returns ``dtype`` as a numpy dtype, or raises if it is not floating point."""
    try:
        dt = np.dtype(jnp.dtype(dtype))
    except TypeError as e:
        raise TypeError(f"dtype must be a floating-point dtype; got {dtype!r}") from e
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(
            f"dtype must be a floating-point dtype (float16, bfloat16, float32, float64); got {dt}"
        )
    return dt


def check_key(key: Any, where: str) -> jax.Array:
    """Raises unless ``key`` is a JAX PRNG key (typed, or raw uint32 of shape (2,))."""
    if key is None:
        raise TypeError(
            f"{where}: key is required (a jax.random.key(seed) or jax.random.PRNGKey(seed)); "
            "library code never draws randomness from a global seed"
        )
    typed = is_typed_key(key)
    raw = hasattr(key, "dtype") and key.dtype == jnp.uint32 and jnp.shape(key) == (2,)
    if not (typed and jnp.shape(key) == ()) and not raw:
        raise TypeError(
            f"{where}: key must be a single PRNG key, jax.random.key(seed) (shape ()) or "
            f"jax.random.PRNGKey(seed) (uint32, shape (2,)); got "
            f"{getattr(key, 'dtype', type(key).__name__)} of shape {jnp.shape(key)}"
        )
    return key


def check_z(z: Any, d: int, dtype: np.dtype, where: str) -> jax.Array:
    """Raises unless ``z`` has shape ``(d,)`` and dtype ``dtype``; no broadcasting, no casts."""
    if not hasattr(z, "shape") or not hasattr(z, "dtype"):
        raise TypeError(f"{where}: z must be an array of shape ({d},); got {type(z).__name__}")
    if z.shape != (d,):
        raise ValueError(f"{where}: z must have shape ({d},) (d = {d}); got {z.shape}")
    if z.dtype != dtype:
        raise TypeError(
            f"{where}: z must have dtype {dtype} (the projection's dtype); got {z.dtype}"
        )
    return z
