"""z on a codebook of L levels: initialisation, assignment and the straight-through map.

Pure JAX functions of one member (``jax.vmap`` them over a group), each taking the
``mask`` of the coordinates in use (a sweep pads z to a common width; ``None``: all):

* :func:`uniform_codebook` — L levels evenly spaced from the smallest coordinate in use to
  the largest;
* :func:`kmeans_codebook` — Lloyd's k-means of the coordinates in use, started from their
  quantiles (a level that loses every coordinate keeps its value);
* :func:`assign` — the index of each coordinate's nearest level (the symbols);
* :func:`straight_through` — the quantised z, ``codebook[assign(z)]``, whose gradient
  passes to z unchanged (the straight-through estimator) and to each level as the sum over
  the coordinates assigned to it: what quantisation-aware fine-tuning of z and the codebook
  together needs (:func:`subspace.estimators.quantised`);
* :func:`quantise_member` — on the host, one member's z put on its codebook, the levels
  rounded first to the precision the message stores them in.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subspace._checks import check_int

__all__ = [
    "assign",
    "kmeans_codebook",
    "quantise_member",
    "straight_through",
    "uniform_codebook",
]


def _in_use(z: jax.Array, mask: jax.Array | None) -> jax.Array:
    return jnp.ones(z.shape, bool) if mask is None else mask > 0


def uniform_codebook(z: jax.Array, levels: int, mask: jax.Array | None = None) -> jax.Array:
    """``levels`` values evenly spaced over [min, max] of the coordinates of z in use."""
    check_int(levels, "levels", 2, where="uniform_codebook")
    use = _in_use(z, mask)
    lo = jnp.min(jnp.where(use, z, jnp.inf))
    hi = jnp.max(jnp.where(use, z, -jnp.inf))
    return jnp.linspace(lo, hi, levels).astype(z.dtype)


def kmeans_codebook(
    z: jax.Array, levels: int, mask: jax.Array | None = None, iterations: int = 50
) -> jax.Array:
    """Lloyd's k-means (``iterations`` rounds) of the coordinates of z in use, in 1-D,
    started from their quantiles; sorted."""
    check_int(levels, "levels", 2, where="kmeans_codebook")
    check_int(iterations, "iterations", 1, where="kmeans_codebook")
    use = _in_use(z, mask)
    weight = use.astype(z.dtype)
    # the quantiles of the coordinates in use: sort with the unused ones at +inf
    ordered = jnp.sort(jnp.where(use, z, jnp.inf))
    count = jnp.sum(use)
    at = jnp.round(jnp.linspace(0.0, 1.0, levels) * (count - 1)).astype(jnp.int32)
    start = ordered[at]

    def lloyd(codebook, _):
        idx = assign(z, codebook)
        onehot = jax.nn.one_hot(idx, levels, dtype=z.dtype) * weight[:, None]
        total = onehot.sum(0)
        mean = (onehot * z[:, None]).sum(0) / jnp.maximum(total, 1)
        return jnp.where(total > 0, mean, codebook), None

    codebook, _ = jax.lax.scan(lloyd, start, None, length=iterations)
    return jnp.sort(codebook)


def assign(z: jax.Array, codebook: jax.Array) -> jax.Array:
    """The index of the nearest level of ``codebook`` for every coordinate of z (int32)."""
    _check_codebook(codebook, "assign")
    return jnp.argmin(jnp.abs(z[..., None] - codebook), axis=-1).astype(jnp.int32)


def straight_through(z: jax.Array, codebook: jax.Array) -> jax.Array:
    """``codebook[assign(z)]`` in value; d/dz is the identity, d/dcodebook a scatter-sum."""
    _check_codebook(codebook, "straight_through")
    idx = assign(jax.lax.stop_gradient(z), jax.lax.stop_gradient(codebook))
    return jnp.take(codebook, idx) + (z - jax.lax.stop_gradient(z))


def _check_codebook(codebook: jax.Array, where: str) -> None:
    if jnp.ndim(codebook) != 1 or jnp.shape(codebook)[0] < 1:
        raise ValueError(
            f"{where}: codebook must be a 1-D array of levels; got shape {jnp.shape(codebook)}"
        )


def quantise_member(z: Any, codebook: Any, codebook_bits: int = 16) -> tuple[np.ndarray, ...]:
    """``(symbols, codebook, z_q)``: the codebook rounded to its message precision (and
    sorted), each coordinate's nearest level, and z on the codebook."""
    dtype = np.float16 if codebook_bits == 16 else np.float32
    z = np.asarray(z, np.float32)
    if z.ndim != 1 or not np.all(np.isfinite(z)):
        raise ValueError("quantise_member: z must be a finite 1-D array")
    codebook = np.sort(np.asarray(codebook).astype(dtype).astype(np.float32))
    if codebook.ndim != 1 or not 2 <= len(codebook) <= len(z):
        raise ValueError(
            f"quantise_member: the codebook must have 2 to d = {len(z)} levels; "
            f"got shape {codebook.shape}"
        )
    symbols = np.asarray(assign(jnp.asarray(z), jnp.asarray(codebook)))
    return symbols, codebook, codebook[symbols]
