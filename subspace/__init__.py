"""subspace: train neural networks in random low-dimensional subspaces (Li et al., 2018).

θ = θ0 + P z: freeze a random θ0 and a random P (D×d), train only z ∈ R^d.
"""

from subspace.flatten import Leaf, Unravel, ravel
from subspace.hadamard import fwht
from subspace.projections import PROJECTIONS, Projection, dense, fastfood, sparse
from subspace.train import Trainer, TrainState, make_trainer
from subspace.wrap import Subspace, wrap

__version__ = "0.1.0"

__all__ = [
    "PROJECTIONS",
    "Leaf",
    "Projection",
    "Subspace",
    "TrainState",
    "Trainer",
    "Unravel",
    "dense",
    "fastfood",
    "fwht",
    "make_trainer",
    "ravel",
    "sparse",
    "wrap",
]
