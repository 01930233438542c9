"""Very sparse random projection (Li, Hastie & Church, 2006) with unit-norm columns."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from subspace.projections.base import Projection, check_dims, check_dtype, check_key, check_z

__all__ = ["SparseState", "sparse"]


class SparseState(NamedTuple):
    indices: jax.Array  # (d, k) int32, rows of P's non-zeros, column by column
    values: jax.Array  # (d, k) ±1/sqrt(k)


def sparse(
    D: int,  # noqa: N803 -- the paper's symbol
    d: int,
    *,
    density: float | None = None,
    dtype: DTypeLike = jnp.float32,
) -> Projection:
    """A very sparse random projection: each column of P has k = round(D·density) non-zeros.

    Li et al. (2006) draw each entry as ±sqrt(s) with probability 1/(2s) each and 0
    otherwise, s = 1/density (default s = sqrt(D)); the intrinsic-dimension paper then scales
    every column to unit norm, which makes each non-zero ±1/sqrt(nnz of its column). Here the
    number of non-zeros per column is fixed at its expected value k instead of Binomial(D,
    1/s), so that the state has static shapes (jit, vmap) and O(d·k) = O(d·sqrt(D)) memory:
    rows are split into k contiguous strata of about D/k rows and each column has one
    non-zero in each stratum, at a uniform position with a random sign (the block
    construction of Kane & Nelson, "Sparser Johnson–Lindenstrauss Transforms", 2014). Every
    entry is non-zero with probability k/D = density, and columns have unit norm exactly.
    Column j is drawn from ``jax.random.fold_in(key, j)``, so it does not depend on d.

    Args:
      D: number of parameters, the output dimension.
      d: subspace dimension, 1 <= d <= D.
      density: fraction of non-zero entries, in (0, 1]; default 1/sqrt(D).
      dtype: floating dtype of the values, of z and of the output.

    Returns:
      A :class:`Projection` whose state is ``SparseState(indices, values)``, both (d, k).

    Example:
      >>> proj = sparse(199_210, 750)   # k = 446 non-zeros per column
    """
    D, d = check_dims(D, d)
    dtype = check_dtype(dtype)
    if density is None:
        density = 1.0 / math.sqrt(D)
    if isinstance(density, bool) or not isinstance(density, (int, float, np.floating)):
        raise TypeError(f"sparse: density must be a float in (0, 1]; got {density!r}")
    if not 0.0 < density <= 1.0:
        raise ValueError(f"sparse: density must be in (0, 1]; got {density}")
    k = min(D, max(1, round(D * density)))
    bounds = np.floor(np.arange(k + 1) * D / k).astype(np.int32)  # stratum i: [b_i, b_i+1)
    lo, hi = bounds[:-1], bounds[1:]  # numpy: the factory may run inside a trace

    def column(key: jax.Array, j: jax.Array) -> tuple[jax.Array, jax.Array]:
        pos_key, sign_key = jax.random.split(jax.random.fold_in(key, j))
        rows = jax.random.randint(pos_key, (k,), lo, hi, dtype=jnp.int32)
        signs = jax.random.rademacher(sign_key, (k,), dtype)
        return rows, signs / jnp.sqrt(jnp.asarray(k, dtype))

    def init(key: jax.Array) -> SparseState:
        check_key(key, "sparse.init")
        indices, values = jax.vmap(column, in_axes=(None, 0))(key, jnp.arange(d))
        return SparseState(indices, values)

    def apply(state: SparseState, z: jax.Array) -> jax.Array:
        check_z(z, d, dtype, "sparse.apply")
        contributions = state.values * z[:, None]
        return jnp.zeros(D, dtype).at[state.indices.ravel()].add(contributions.ravel())

    return Projection(jax.jit(init), jax.jit(apply))
