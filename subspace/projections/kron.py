"""Kronecker projection (Lotfi et al., 2022, "rdkronqr"): P = Π·[(Q1 ⊗ Q2) ⊕ Q3]."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from subspace._checks import as_int
from subspace.projections.base import Projection, check_dims, check_dtype, check_key, check_z
from subspace.projections.linear import linear_map

__all__ = ["KronState", "kron_shapes", "kronqr"]


class KronState(NamedTuple):
    """The factors of P = Π·[(Q1 ⊗ Q2) ⊕ Q3], each with orthonormal columns."""

    Q1: jax.Array  # (a, b)
    Q2: jax.Array  # (a, b)
    Q3: jax.Array  # (D - a², W - b²), the remainder block
    perm: jax.Array  # (D,) int32, Π: y ↦ y[perm]
    inv_perm: jax.Array  # (D,) int32, Πᵀ: g ↦ g[inv_perm]


def kron_shapes(D: int, width: int) -> tuple[int, int]:  # noqa: N803 -- the paper's symbol
    """(a, b): the Kronecker factors are a × b. b = ⌊√W⌋; a = ⌊√D⌋, lowered until the
    remainder block (D − a² rows, W − b² columns) has at least as many rows as columns, so
    that every block has orthonormal columns (a >= b always does: D >= W)."""
    b = math.isqrt(width)
    a = math.isqrt(D)
    while D - a * a < width - b * b:
        a -= 1
    return a, b


def kronqr(
    D: int,  # noqa: N803 -- the paper's symbol
    d: int,
    *,
    width: int | None = None,
    dtype: DTypeLike = jnp.float32,
) -> Projection:
    """Kronecker projection P z = Π·[(Q1 ⊗ Q2) z_{:b²} ; Q3 z_{b²:}], first d of W columns.

    Lotfi et al.'s ``RoundedDoubleKronQR`` (NeurIPS 2022, their released code): Q1 and Q2
    are a × b Gaussian matrices orthonormalised by QR (a ≈ √D, b = ⌊√W⌋), so Q1 ⊗ Q2 maps
    the first b² coordinates of z to a² parameters; the remaining W − b² coordinates go
    through a Gaussian block for the remaining D − a² parameters; Π is a random permutation
    of the D parameters. One change, made so that every column has norm exactly 1 and the
    columns are orthonormal (PᵀP = I, which the conformance suite checks): the remainder
    block is orthonormalised by QR too (theirs is Gaussian with entries of variance 1/D, so
    its columns have norm about √((D − a²)/D) ≪ 1), and a is lowered when needed to give
    it at least as many rows as columns (:func:`kron_shapes`). Q factors are sign-fixed by
    R's diagonal, so each is Haar-distributed.

    Memory: 2ab + (D − a²)(W − b²) numbers plus the 2D permutation indices: about
    √D·√W·(2 + 4) numbers, against D·d for dense and ~9 bytes a parameter for fastfood.
    Time: Q1 Z Q2ᵀ is two dense matmuls, about 2·a·b·(a + b) ≈ 2√D·√W·(√D + √W).

    Derivatives as for every projection (:func:`subspace.projections.linear.linear_map`):
    forward mode runs P on the tangent; reverse mode the explicit transpose
    Pᵀ g = [(Q1ᵀ G Q2) ; Q3ᵀ g₂] of g gathered by Π⁻¹; the state is a constant.

    Args:
      D: number of parameters, the output dimension.
      d: subspace dimension, 1 <= d <= D.
      width: W, the number of columns P is built for (d <= W <= D; default d): the
        projection is the first d columns of the width-W one. A sweep that pads z to W uses
        every member's P this way: build the same member alone with ``width=W``.
      dtype: floating dtype of the state, of z and of the output (the QR runs in float32
        for half-precision dtypes, then is cast).

    Returns:
      A :class:`Projection` whose state is a :class:`KronState`.

    Example:
      >>> proj = kronqr(199_210, 750)   # Q1, Q2: 446 × 27; remainder 294 × 21
    """
    D, d = check_dims(D, d)
    dtype = check_dtype(dtype)
    W = d if width is None else _check_width(width, D, d)  # noqa: N806
    a, b = kron_shapes(D, W)
    rows, cols = D - a * a, W - b * b
    qr_dtype = jnp.promote_types(dtype, jnp.float32)
    highest = jax.lax.Precision.HIGHEST  # TPUs otherwise multiply float32 in bfloat16 passes

    def orthonormal(key: jax.Array, shape: tuple[int, int]) -> jax.Array:
        if shape[1] == 0:
            return jnp.zeros(shape, dtype)
        q, r = jnp.linalg.qr(jax.random.normal(key, shape, qr_dtype))
        sign = jnp.where(jnp.diagonal(r) < 0, -1, 1).astype(qr_dtype)
        return (q * sign).astype(dtype)

    def init(key: jax.Array) -> KronState:
        check_key(key, "kronqr.init")
        k1, k2, k3, k4 = jax.random.split(key, 4)
        perm = jax.random.permutation(k4, D).astype(jnp.int32)
        return KronState(
            orthonormal(k1, (a, b)),
            orthonormal(k2, (a, b)),
            orthonormal(k3, (rows, cols)),
            perm,
            jnp.argsort(perm).astype(jnp.int32),
        )

    def forward(state: KronState, z: jax.Array) -> jax.Array:
        z = jnp.pad(z, (0, W - d))
        z1 = z[: b * b].reshape(b, b)
        y1 = jnp.matmul(jnp.matmul(state.Q1, z1, precision=highest), state.Q2.T, precision=highest)
        y2 = jnp.matmul(state.Q3, z[b * b :], precision=highest)
        return jnp.concatenate([y1.reshape(-1), y2])[state.perm]

    def transpose(state: KronState, g: jax.Array) -> jax.Array:
        y = g[state.inv_perm]
        g1 = y[: a * a].reshape(a, a)
        t1 = jnp.matmul(jnp.matmul(state.Q1.T, g1, precision=highest), state.Q2, precision=highest)
        t2 = jnp.matmul(y[a * a :], state.Q3, precision=highest)  # gᵀQ3: fast on a CPU
        return jnp.concatenate([t1.reshape(-1), t2])[:d]

    project = linear_map(forward, transpose)

    def apply(state: KronState, z: jax.Array) -> jax.Array:
        check_z(z, d, dtype, "kronqr.apply")
        return project(state, z)

    return Projection(jax.jit(init), jax.jit(apply))


def _check_width(width: object, D: int, d: int) -> int:  # noqa: N803
    W = as_int(width, "width")  # noqa: N806
    if not d <= W <= D:
        raise ValueError(f"kronqr: width must be an integer in [d = {d}, D = {D}]; got {W}")
    return W
