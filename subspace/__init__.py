"""subspace: train neural networks in random low-dimensional subspaces (Li et al., 2018).

θ = θ0 + P z: freeze a random θ0 and a random P (D×d), train only z ∈ R^d.
"""

from subspace.compress import CompressedModel
from subspace.compress import SizeReport
from subspace.compress import compressed_header
from subspace.compress import load_compressed
from subspace.compress import save_compressed
from subspace.compress import size_report
from subspace.es import ES
from subspace.es import ESTask
from subspace.es import make_es_baseline
from subspace.es import make_es_sweep
from subspace.flatten import Leaf
from subspace.flatten import Unravel
from subspace.flatten import ravel
from subspace.hadamard import fwht
from subspace.intrinsic import bootstrap_d_int
from subspace.intrinsic import d_int
from subspace.intrinsic import search
from subspace.flax_tasks import linen_task
from subspace.flax_tasks import nnx_task
from subspace.loop import Data
from subspace.loop import train_group
from subspace.measurement import SweepError
from subspace.measurement import measure
from subspace.progress import Progress
from subspace.projections import PROJECTIONS
from subspace.projections import Projection
from subspace.projections import dense
from subspace.projections import fastfood
from subspace.projections import sparse
from subspace.results import SweepResult
from subspace.sweep import Member
from subspace.sweep import Task
from subspace.sweep import make_baseline
from subspace.sweep import make_sweep
from subspace.sweep import member_subspace
from subspace.train import TrainState
from subspace.train import Trainer
from subspace.train import make_trainer
from subspace.wrap import Subspace
from subspace.wrap import wrap

__version__ = "0.4.0"  # the one source: pyproject.toml reads it (tool.setuptools.dynamic)

__all__ = [
    "PROJECTIONS",
    "CompressedModel",
    "ES",
    "ESTask",
    "Data",
    "Leaf",
    "Member",
    "Progress",
    "Projection",
    "SizeReport",
    "Subspace",
    "SweepError",
    "SweepResult",
    "Task",
    "TrainState",
    "Trainer",
    "Unravel",
    "bootstrap_d_int",
    "compressed_header",
    "d_int",
    "dense",
    "fastfood",
    "fwht",
    "linen_task",
    "load_compressed",
    "make_baseline",
    "make_es_baseline",
    "make_es_sweep",
    "make_sweep",
    "make_trainer",
    "measure",
    "member_subspace",
    "nnx_task",
    "ravel",
    "save_compressed",
    "search",
    "size_report",
    "sparse",
    "train_group",
    "wrap",
]
