"""subspace: train neural networks in random low-dimensional subspaces (Li et al., 2018).

θ = θ0 + P z: freeze a random θ0 and a random P (D×d), train only z ∈ R^d.

The top level holds what most users need: a measurement described as data and run by
:func:`measure`, the tasks it trains, one subspace by hand (:func:`wrap`,
:func:`make_trainer`), the lower-level sweeps, and compressed models. The rest lives in
namespaces: :mod:`subspace.estimators` (backprop, evolution strategies),
:mod:`subspace.projections` (dense, sparse, fastfood, kronqr), :mod:`subspace.rl`
(environments as tasks), :mod:`subspace.theta0` (a given θ0: pretrained parameters), and
the modules named after what they hold (:mod:`subspace.intrinsic`, :mod:`subspace.search`,
:mod:`subspace.compress`, :mod:`subspace.flatten`, :mod:`subspace.hadamard`,
:mod:`subspace.config`, ...).
"""

from subspace import estimators
from subspace import projections
from subspace import rl
from subspace import lottery as lottery  # a namespace (the top-level list stays short)
from subspace import theta0 as theta0  # a namespace (the top-level list stays short)
from subspace.compress import load_compressed
from subspace.compress import save_compressed
from subspace.data import Data
from subspace.flax_tasks import linen_task
from subspace.flax_tasks import nnx_task
from subspace.loop import train_group
from subspace.measurement import Grid
from subspace.measurement import Measurement
from subspace.readout import Readout
from subspace.measurement import Run
from subspace.measurement import Schedule
from subspace.optimizers import Optimizer
from subspace.progress import Progress
from subspace.results import SweepResult
from subspace.results import SweepError
from subspace.runner import measure
from subspace.sweep import make_baseline
from subspace.sweep import make_sweep
from subspace.task import Task
from subspace.train import make_trainer
from subspace.wrap import Subspace
from subspace.wrap import wrap

__version__ = "0.5.0"  # the one source: pyproject.toml reads it (tool.setuptools.dynamic)

__all__ = [
    "Data",
    "Grid",
    "Measurement",
    "Optimizer",
    "Progress",
    "Readout",
    "Run",
    "Schedule",
    "Subspace",
    "SweepError",
    "SweepResult",
    "Task",
    "estimators",
    "linen_task",
    "load_compressed",
    "make_baseline",
    "make_sweep",
    "make_trainer",
    "measure",
    "nnx_task",
    "projections",
    "rl",
    "save_compressed",
    "train_group",
    "wrap",
]
