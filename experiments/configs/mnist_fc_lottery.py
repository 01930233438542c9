"""MNIST FC through lottery subspaces (Larsen et al., 2022) against random ones at the same
d: P = the top principal directions of each seed's own full-parameter training trajectory,
against fastfood.

Command:
    python -m experiments.run mnist_fc_lottery --data-dir DIR    # DIR: see README "Data"

As mnist_fc otherwise (FC 784-200-200-10, D = 199,210; Adam on z lr 1e-2, baseline on θ
lr 1e-3, 5 epochs of batch 128 = 2,340 steps, 3 seeds, threshold 0.9 × baseline test
accuracy), at small d: 2 to 100. The lottery basis of seed s is the top 100 directions of
its baseline's trajectory recorded every 23 steps (101 records; subspace.lottery); both
projections start from seed s's initialisation. The bases are kept beside the networks
(networks/lottery/, 80 MB each: not committed; --resume recomputes a missing one, bit for
bit). A lottery step is two dense matrix-vector products with the 199,210 x d basis: about
7x a fastfood step on a 2-core CPU.
"""

import dataclasses

from experiments.image_configs import image_experiment
from experiments.tasks import Model

DIMS = (2, 5, 10, 25, 50, 100)
PROJECTIONS = ("fastfood", "lottery")


def get_config(smoke: bool = False):
    exp = image_experiment(
        "mnist_fc_lottery",
        dataset="mnist",
        model=Model("fc", {"width": 200, "depth": 2}),
        dims=DIMS,
        smoke=smoke,
        epochs=5,
    )
    return dataclasses.replace(exp, grid=dataclasses.replace(exp.grid, projections=PROJECTIONS))
