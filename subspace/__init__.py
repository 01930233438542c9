"""subspace: train neural networks in random low-dimensional subspaces (Li et al., 2018).

θ = θ0 + P z: freeze a random θ0 and a random P (D×d), train only z ∈ R^d.
"""

from subspace.flatten import Leaf
from subspace.flatten import Unravel
from subspace.flatten import ravel
from subspace.hadamard import fwht
from subspace.projections import PROJECTIONS
from subspace.projections import Projection
from subspace.projections import dense
from subspace.projections import fastfood
from subspace.projections import sparse
from subspace.train import TrainState
from subspace.train import Trainer
from subspace.train import make_trainer
from subspace.wrap import Subspace
from subspace.wrap import wrap

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
