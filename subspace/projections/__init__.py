"""Random projections P: R^d → R^D, each an optax-style ``Projection(init, apply)`` pair."""

from subspace.projections.base import Projection
from subspace.projections.dense import dense
from subspace.projections.fastfood import block_size_for, fastfood
from subspace.projections.kron import kronqr
from subspace.projections.linear import linear_map
from subspace.projections.lottery import lottery
from subspace.projections.sparse import sparse

PROJECTIONS = {
    "dense": dense,
    "sparse": sparse,
    "fastfood": fastfood,
    "kronqr": kronqr,
    "lottery": lottery,
}

#: Kinds whose state is given, not drawn from a key (a grid cannot name them).
STORED = ("lottery",)

__all__ = [
    "PROJECTIONS",
    "Projection",
    "block_size_for",
    "dense",
    "fastfood",
    "kronqr",
    "STORED",
    "linear_map",
    "lottery",
    "sparse",
]
