"""Flatten a parameter pytree to the vector θ ∈ R^D and back.

Built on :func:`jax.flatten_util.ravel_pytree`, whose ``unravel`` is already pure, jittable
and hashable by value. What this module adds:

* a table of leaves (name, offset, size, shape, dtype), for reports and per-layer use;
* a checked ``unravel`` that refuses a vector of the wrong shape or dtype instead of
  broadcasting or promoting it, and always restores every leaf's own dtype;
* a clear error for integer/boolean leaves and for an empty tree, which ``ravel_pytree``
  would silently promote or turn into an empty float32 vector.

Mixed float dtypes: the flat vector has the promoted dtype of the leaves
(``jnp.result_type``: bfloat16 + float32 gives float32, float16 + bfloat16 gives float32),
which represents every leaf exactly, so ``unravel(ravel(tree))`` is bitwise equal to
``tree``. ``unravel`` casts each chunk back to its leaf's dtype, so values that are not
representable in a low-precision leaf (e.g. θ0 + P z in float32 for a bfloat16 leaf) are
rounded to nearest there. Two exceptions to "bitwise": NaN payloads in mixed-dtype trees
come back as the standard NaN (the float conversion quiets them), and float64 leaves are
float32 unless JAX's 64-bit mode is on (``jax.config.update("jax_enable_x64", True)``), as
everywhere in JAX.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

__all__ = ["Leaf", "Unravel", "ravel"]


class Leaf(NamedTuple):
    """One leaf of a raveled pytree: ``flat[offset : offset + size].reshape(shape)``."""

    name: str  # jax.tree_util.keystr of the leaf's path, e.g. "['Dense_0']['kernel']"
    offset: int
    size: int
    shape: tuple[int, ...]
    dtype: np.dtype


@dataclasses.dataclass(frozen=True)
class Unravel:
    """Maps a flat vector of shape ``(D,)`` back to the pytree it came from.

    Hashable and compared by value, so it can be a static argument of ``jax.jit`` (or the
    static part of a pytree) without retracing when the same structure is raveled twice.

    Attributes:
      leaves: one :class:`Leaf` per pytree leaf, in ``jax.tree_util`` order.
      dtype: dtype of the flat vector (the promoted dtype of the leaves).
    """

    leaves: tuple[Leaf, ...]
    dtype: np.dtype
    _unravel: Callable[[jax.Array], Any] = dataclasses.field(repr=False)

    @property
    def D(self) -> int:  # noqa: N802 -- the paper's symbol
        """Number of parameters, the length of the flat vector."""
        return sum(leaf.size for leaf in self.leaves)

    def __call__(self, flat: jax.Array) -> Any:
        """Returns the pytree whose leaves are the chunks of ``flat`` (shape ``(D,)``)."""
        if jnp.shape(flat) != (self.D,):
            raise ValueError(
                f"unravel: flat must have shape ({self.D},), the number of parameters D; "
                f"got {jnp.shape(flat)}"
            )
        if jnp.result_type(flat) != self.dtype:
            raise TypeError(
                f"unravel: flat must have dtype {self.dtype} (the promoted dtype of the "
                f"leaves); got {jnp.result_type(flat)}"
            )
        # ravel_pytree's unravel is dtype-polymorphic for single-dtype trees; the cast
        # makes every leaf come back in its own dtype whatever path it took.
        chunks, treedef = jax.tree_util.tree_flatten(self._unravel(flat))
        return jax.tree_util.tree_unflatten(
            treedef, [x.astype(leaf.dtype) for x, leaf in zip(chunks, self.leaves, strict=True)]
        )

    def table(self) -> str:
        """A human-readable table of leaves: name, offset, size, shape and dtype."""
        rows = [("name", "offset", "size", "shape", "dtype")]
        rows += [
            (leaf.name, str(leaf.offset), str(leaf.size), str(leaf.shape), str(leaf.dtype))
            for leaf in self.leaves
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
        lines.append(f"D = {self.D}")
        return "\n".join(lines)


def ravel(tree: Any) -> tuple[jax.Array, Unravel]:
    """Flattens a pytree of float arrays into one vector θ of shape ``(D,)``.

    Args:
      tree: a pytree (dict, flax ``params``, ``nnx.State``, ...) whose leaves are
        floating-point arrays.

    Returns:
      ``(flat, unravel)``: ``flat`` of shape ``(D,)`` in the promoted dtype of the leaves,
      and a hashable :class:`Unravel` with ``unravel(flat) == tree`` bitwise, and its
      table of leaves (``unravel.leaves``, ``unravel.table()``).

    Raises:
      ValueError: the tree has no leaves.
      TypeError: a leaf is not a floating-point array (integer, boolean, complex, a string,
        ...).

    Example:
      >>> flat, unravel = ravel({"w": jnp.ones((2, 3)), "b": jnp.zeros(3)})
      >>> flat.shape, unravel.D
      ((9,), 9)
    """
    path_leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    if not path_leaves:
        raise ValueError("ravel: tree has no leaves; expected at least one float array")
    table, offset = [], 0
    for path, x in path_leaves:
        name = jax.tree_util.keystr(path)
        # jnp.result_type would read a string or a type as a dtype name ("float32").
        if isinstance(x, (str, bytes, type)) or not (
            hasattr(x, "dtype") or isinstance(x, (int, float, complex))
        ):
            raise TypeError(
                f"ravel: leaf {name} is a {type(x).__name__}; leaves must be floating-point "
                "arrays (float16, bfloat16, float32, float64)"
            )
        dtype = jnp.result_type(x)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"ravel: leaf {name} has dtype {dtype}; only floating-point leaves "
                "(float16, bfloat16, float32, float64) can be trained. Keep integer and "
                "boolean state outside the tree you ravel."
            )
        shape = tuple(np.shape(x))
        size = int(np.prod(shape, dtype=np.int64))
        table.append(Leaf(name, offset, size, shape, np.dtype(dtype)))
        offset += size
    flat, unravel = ravel_pytree(tree)
    return flat, Unravel(tuple(table), np.dtype(flat.dtype), unravel)
