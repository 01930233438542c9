"""The toy problem with a known answer: D = 1000, d_int100 = 10 (Li et al., 2018).

Command (the default main job):
    python -m experiments.run            # same as: python -m experiments.run toy

Hyperparameters: θ0 ~ N(0, 0.1²); L-BFGS (optax.lbfgs, its default zoom line search),
300 full-batch steps; d = 1..20, 3 seeds, dense, sparse and fastfood. The metric is the
final loss relative to the loss at θ0 (``final_loss/initial_loss``), "solved" below 1e-7
(experiments/toy.py explains the tolerance). Expected: d_int100 = 10 for every projection;
about 20-30 s on a 2-core CPU, most of it compilation (one program per projection); the
members of a projection train as one group (``run.group_size = "memory"``).
"""

from __future__ import annotations

import subspace
from experiments import toy
from experiments.config import Experiment
from experiments.tasks import ToyTask


def get_config(smoke: bool = False) -> Experiment:
    return Experiment(
        name="toy",
        task=ToyTask(),
        grid=subspace.Grid(
            dims=(9, 10) if smoke else range(1, 21),
            seeds=1 if smoke else 3,
            projections=("dense", "sparse", "fastfood"),
        ),
        schedule=subspace.Schedule(subspace.Optimizer("lbfgs", None), steps=toy.STEPS),
        readout=subspace.Readout(
            metric="final_loss/initial_loss",
            higher_is_better=False,
            fraction=1.0,
            threshold=toy.TOLERANCE,
        ),
        # 60 members of a 1,000-parameter problem: one batched group is 9-15x the
        # member-steps per second of one member at a time (timed on a 2-core CPU), so
        # the auto grouping's timing (a few seconds of compilation) is skipped.
        run=subspace.Run(group_size="memory"),
        smoke=smoke,
    )
