"""MNIST LeNet (D = 44,426) through three projections at equal d: dense, fastfood and the
Kronecker projection kronqr (Lotfi et al., 2022, who found it within a point of dense
at 7.5-15x less GPU time on larger networks).

Command:
    python -m experiments.run mnist_lenet_projections --data-dir DIR    # DIR: see README "Data"

Hyperparameters: as mnist_lenet (Adam on z lr 1e-2, baseline on θ lr 1e-3, batch 128, 3
epochs, 3 seeds, threshold 0.9 × baseline test accuracy); d = 300 (near LeNet's d_int90)
and 1,000; every projection draws its own P from the same member seeds. The step time of
each projection is in the benchmark (python -m experiments.benchmark). Expected runtime
on a 2-core CPU: see experiments/results/mnist_lenet_projections/timings.json.
"""

import dataclasses

from experiments.image_configs import image_experiment
from experiments.tasks import Model

DIMS = (300, 1000)
PROJECTIONS = ("dense", "fastfood", "kronqr")


def get_config(smoke: bool = False):
    exp = image_experiment(
        "mnist_lenet_projections",
        dataset="mnist",
        model=Model("lenet"),
        dims=DIMS,
        smoke=smoke,
        epochs=3,
    )
    return dataclasses.replace(exp, grid=dataclasses.replace(exp.grid, projections=PROJECTIONS))
