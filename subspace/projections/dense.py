"""Dense Gaussian projection: P has i.i.d. N(0, 1) entries, each column scaled to unit norm."""

from __future__ import annotations

import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from subspace.projections.base import Projection, check_dims, check_dtype, check_key, check_z

__all__ = ["DenseState", "dense"]

DEFAULT_MAX_BYTES = 2**30


class DenseState(NamedTuple):
    P: jax.Array  # (D, d), unit-norm columns


def dense(
    D: int,  # noqa: N803 -- the paper's symbol
    d: int,
    *,
    dtype: DTypeLike = jnp.float32,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Projection:
    """The dense random projection of Li et al. (2018): delta = P z, P of shape (D, d).

    Column j of P is drawn from ``jax.random.fold_in(key, j)`` as N(0, I_D) and divided by its
    norm, so every column has unit norm (to float rounding), and the first d columns of a
    wider projection with the same key are exactly this one (a sweep over d pads z and keeps
    each member's P). The matrix is stored, D·d numbers: use
    :func:`subspace.projections.fastfood` or :func:`subspace.projections.sparse` for large
    nets.

    Args:
      D: number of parameters, the output dimension.
      d: subspace dimension, the input dimension, 1 <= d <= D.
      dtype: floating dtype of P, of z and of the output.
      max_bytes: refuse (before allocating anything) a P larger than this many bytes.

    Returns:
      A :class:`Projection` whose state is ``DenseState(P)``.

    Example:
      >>> proj = dense(1000, 10)
      >>> delta = proj.apply(proj.init(jax.random.key(0)), jnp.ones(10))
    """
    D, d = check_dims(D, d)
    dtype = check_dtype(dtype)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Real):
        raise TypeError(f"dense: max_bytes must be a number of bytes > 0; got {max_bytes!r}")
    if not max_bytes > 0:
        raise ValueError(f"dense: max_bytes must be a number of bytes > 0; got {max_bytes}")
    nbytes = D * d * dtype.itemsize
    if nbytes > max_bytes:
        raise ValueError(
            f"dense: P would take D*d*{dtype.itemsize} = {nbytes:,} bytes > max_bytes = "
            f"{max_bytes:,}. Use projection 'fastfood' (O(D) memory) or 'sparse' "
            "(O(d*sqrt(D)) memory), or raise max_bytes."
        )

    def column(key: jax.Array, j: jax.Array) -> jax.Array:
        p = jax.random.normal(jax.random.fold_in(key, j), (D,), dtype)
        return p / jnp.linalg.norm(p)

    def init(key: jax.Array) -> DenseState:
        check_key(key, "dense.init")
        # lax.map, not vmap: every column is drawn and normalised by the same loop body
        # whatever d is, so the first d columns of a wider P are bitwise this P (a vmapped
        # norm is vectorised differently for different d and can differ in the last bit).
        columns = jax.lax.map(lambda j: column(key, j), jnp.arange(d))
        return DenseState(P=columns.T)

    def apply(state: DenseState, z: jax.Array) -> jax.Array:
        check_z(z, d, dtype, "dense.apply")
        # HIGHEST: TPUs otherwise run float32 matmuls with bfloat16 passes.
        return jnp.dot(state.P, z, precision=jax.lax.Precision.HIGHEST)

    return Projection(jax.jit(init), jax.jit(apply))
