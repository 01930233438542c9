"""Fastfood projection (Le, Sarlós & Smola, 2013): P z without storing P."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from subspace._checks import as_int, check_bool
from subspace.hadamard import METHODS, fwht
from subspace.projections.base import (
    Projection,
    check_dims,
    check_dtype,
    check_key,
    check_z,
)
from subspace.projections.linear import linear_map

__all__ = ["FastfoodState", "block_size_for", "fastfood"]


def block_size_for(width: int) -> int:
    """Fastfood's block size for z of length ``width``: L = 2^ceil(log2 width), the least
    power of two >= width (1 for width 1).

    This is the default block size of ``fastfood(D, d)`` (``width = d``), the one a sweep
    padded to width W uses for every member (``width = W``), and, with ``width = D``, the
    single block of the original intrinsic-dimension code (the largest block ``fastfood``
    accepts).

    Example:
      >>> block_size_for(750), block_size_for(1024), block_size_for(1025)
      (1024, 1024, 2048)
    """
    width = as_int(width, "width")
    if width < 1:
        raise ValueError(f"block_size_for: width must be an integer >= 1; got {width}")
    return 1 << (width - 1).bit_length()


class FastfoodState(NamedTuple):
    """The diagonals and permutations of ceil(D / L) independent L×L Fastfood blocks."""

    B: jax.Array  # (blocks, L) random ±1, stored as int8; (1, L) with shared_input
    perm: jax.Array  # (blocks, L) int16 (int32 when L > 2^15), Π: x ↦ x[perm]
    inv_perm: jax.Array  # (blocks, L) same dtype as perm, Πᵀ: x ↦ x[inv_perm]
    G: jax.Array  # (blocks, L) N(0, 1)
    scale: jax.Array  # (blocks,) 1 / (sqrt(L ΣG_b²) sqrt(D / L))


def fastfood(
    D: int,  # noqa: N803 -- the paper's symbol
    d: int,
    *,
    block_size: int | None = None,
    dtype: DTypeLike = jnp.float32,
    fwht_method: str = "kronecker",
    shared_input: bool = False,
) -> Projection:
    """Fastfood projection: P = stacked blocks V_b = c_b H G_b Π_b H B_b, cut to D rows.

    Each L×L block is V_b = c_b H G_b Π_b H B_b with B_b a random ±1 diagonal, H the
    Walsh–Hadamard matrix (:func:`subspace.hadamard.fwht`), Π_b a random permutation and G_b a
    Gaussian diagonal; L = 2^ceil(log2 d) by default. z is zero-padded to L, every block is
    applied to it, the outputs are stacked (ceil(D/L) blocks) and the first D kept, as in Le
    et al.'s Fastfood. The original intrinsic-dimension code instead used one block with
    L = 2^ceil(log2 D) >= D and padded z to that L: that costs 2·L·log2(L) with L up to 2D,
    against about 2·D·log2(d) here, and needs the same O(D) memory.

    Normalisation (S is dropped, as in the original): every column of H G Π H B has norm
    exactly sqrt(L·ΣG_b²), so c_b = 1 / (sqrt(L·ΣG_b²)·sqrt(D / L)) gives each column a squared
    norm of (number of whole blocks + share of the last, cut block) / (D / L). That is
    exactly 1 when L divides D, and 1 on average over columns otherwise.

    Memory: the state is 4 arrays of ceil(D/L)·L ≈ D numbers (B, Π, Π⁻¹, G): O(D), never D×d.
    B is stored as int8 and the permutations as int16 while L <= 2^15 (int32 above), so the
    state takes about 9 bytes per parameter with a float32 G (the values, and so P, are the
    same as with float B and int32 indices).
    Derivatives (:func:`subspace.projections.linear.linear_map`): P z is linear in z, so
    forward mode (``jax.jvp``, ``jacfwd``, ``linearize``, Hessians, forward-over-reverse
    Hessian-vector products) runs P itself on the tangent, and reverse mode runs the
    explicit transpose Pᵀ g = Σ_b B_b H Π_bᵀ G_b H c_b g_b (a gather by Π⁻¹ instead of the
    scatter that autodiff of a gather produces), under ``jit`` and ``vmap`` (over z, over
    the state, or both). The state is a constant: its gradient is zero.

    Args:
      D: number of parameters, the output dimension.
      d: subspace dimension, 1 <= d <= D.
      block_size: L, a power of two with d <= L <= 2^ceil(log2 D); default
        ``block_size_for(d)`` = 2^ceil(log2 d). A sweep that pads z to a common width W uses
        L = ``block_size_for(W)`` for every member: build the same member alone with
        ``fastfood(D, d, block_size=L)``. ``block_size_for(D)`` is the original code's one
        block; a larger block would only pad more zeros (and allocate up to L numbers per
        block), so it is refused.
      dtype: floating dtype of the state, of z and of the output.
      fwht_method: the Walsh–Hadamard algorithm, ``"kronecker"`` (default, faster) or
        ``"butterfly"`` (the only one before version 0.2; the two agree to float rounding,
        so use it to repeat an older run bit for bit). See :func:`subspace.hadamard.fwht`.
      shared_input: share B and the first H across blocks, V_b = c_b H G_b Π_b (H B): the
        forward pass then runs one transform of length L plus one per block instead of two
        per block, and the backward pass sums the blocks before its last transform, so a
        step does about half the Walsh–Hadamard work. Still an exact, O(D)-state
        projection with the same column norms, but another P than the default for the
        same key (B of block 0 is used by every block), so it is opt-in: runs and
        compressed files made with the default keep their meaning.

    Returns:
      A :class:`Projection` whose state is a :class:`FastfoodState`.

    Example:
      >>> proj = fastfood(199_210, 750)   # 195 blocks of 1024
    """
    D, d = check_dims(D, d)
    dtype = check_dtype(dtype)
    L = block_size_for(d) if block_size is None else _check_block_size(block_size, D, d)
    check_bool(shared_input, "shared_input", where="fastfood")
    if fwht_method not in METHODS:
        raise ValueError(f"fastfood: fwht_method must be one of {METHODS}; got {fwht_method!r}")
    blocks = math.ceil(D / L)
    index_dtype = jnp.int16 if L <= 1 << 15 else jnp.int32

    def block(key: jax.Array) -> tuple[jax.Array, ...]:
        b_key, p_key, g_key = jax.random.split(key, 3)
        B = jax.random.rademacher(b_key, (L,), jnp.int8)
        perm = jax.random.permutation(p_key, L).astype(jnp.int32)
        G = jax.random.normal(g_key, (L,), dtype)
        return B, perm.astype(index_dtype), jnp.argsort(perm).astype(index_dtype), G

    def init(key: jax.Array) -> FastfoodState:
        check_key(key, "fastfood.init")
        B, perm, inv_perm, G = jax.vmap(block)(jax.random.split(key, blocks))
        if shared_input:
            B = B[:1]  # (1, L): block 0's signs, for every block
        scale = jax.lax.rsqrt(L * jnp.sum(G * G, axis=-1) * (D / L))
        return FastfoodState(B, perm, inv_perm, G, scale.astype(dtype))

    def H(x: jax.Array) -> jax.Array:  # noqa: N802 -- the paper's symbol
        return fwht(x, method=fwht_method)

    def forward(state: FastfoodState, z: jax.Array) -> jax.Array:
        x = state.B.astype(z.dtype) * jnp.pad(z, (0, L - d))  # (blocks, L) or (1, L)
        x = H(x)
        if shared_input:
            x = x[0][state.perm]  # (blocks, L): block b is Π_b of the one H B z
        else:
            x = jnp.take_along_axis(x, state.perm, axis=-1)
        x = H(state.G * x) * state.scale[:, None]
        return x.reshape(-1)[:D]

    def transpose(state: FastfoodState, g: jax.Array) -> jax.Array:
        x = jnp.pad(g, (0, blocks * L - D)).reshape(blocks, L) * state.scale[:, None]
        x = jnp.take_along_axis(state.G * H(x), state.inv_perm, axis=-1)
        if shared_input:
            return (state.B[0].astype(g.dtype) * H(jnp.sum(x, axis=0)))[:d]
        return jnp.sum(state.B.astype(g.dtype) * H(x), axis=0)[:d]

    project = linear_map(forward, transpose)  # jvp: forward; transpose: the gather above

    def apply(state: FastfoodState, z: jax.Array) -> jax.Array:
        check_z(z, d, dtype, "fastfood.apply")
        return project(state, z)

    return Projection(jax.jit(init), jax.jit(apply))


def _check_block_size(block_size: object, D: int, d: int) -> int:  # noqa: N803
    """block_size as an int, or raises unless it is a power of two in [d, 2^ceil(log2 D)]."""
    L = as_int(block_size, "block_size")  # noqa: N806 -- the paper's symbol
    lo, hi = block_size_for(d), block_size_for(D)
    allowed = f"allowed: a power of two from {lo} to {hi} = 2^ceil(log2 D), D = {D}"
    if L < d or L & (L - 1):
        raise ValueError(
            f"fastfood: block_size must be a power of two >= d = {d}; got {L} ({allowed})"
        )
    if L > hi:
        raise ValueError(
            f"fastfood: block_size must be <= 2^ceil(log2 D) = {hi} (one block for all "
            f"D = {D} rows; a larger block only pads zeros); got {L} ({allowed})"
        )
    return L


# Version 0.1 of the library drew the same P but stored B in the float dtype and the
# permutations as int32, and had only the butterfly transform: a 0.1 file's hashes and
# results are repeated with these.
LEGACY_01_OPTIONS = {"fwht_method": "butterfly"}


def legacy_01_layout(state: FastfoodState) -> FastfoodState:
    """``state`` in version 0.1's layout (B as floats, Π and Π⁻¹ as int32; same values)."""
    return state._replace(
        B=state.B.astype(state.G.dtype),
        perm=state.perm.astype(jnp.int32),
        inv_perm=state.inv_perm.astype(jnp.int32),
    )
