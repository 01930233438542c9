"""MNIST FC's d_int90 from a burnt-in θ0 (Larsen et al., 2022): each seed's own network
after k steps of full-parameter training, against k = 0 (the paper's random θ0).

One variant per burn-in length, ``k<steps>``: k0, k20, k100 and k500 steps of Adam (lr
1e-3, batch 128, the measurement's first minibatch order; an epoch is 468 steps). Each
measures d_int90 as mnist_fc does (FC 784-200-200-10, D = 199,210; Adam on z lr 1e-2, 5
epochs, batch 128, fastfood, 3 seeds), starting every member and the full-parameter
baseline from its seed's burnt-in network; threshold 0.9 × that baseline's test accuracy.

Commands (one per variant):
    python -m experiments.run mnist_fc_burn_in:k0 --data-dir DIR     # DIR: see README "Data"
    python -m experiments.run mnist_fc_burn_in:k500 --data-dir DIR
"""

import dataclasses

from experiments.image_configs import image_experiment
from experiments.tasks import BurnInTask, Model

VARIANTS = ("k0", "k20", "k100", "k500")
DIMS = (10, 25, 50, 100, 200, 300, 400, 600, 800)


def describe(variant: str) -> str:
    """One line on a variant, for ``python -m experiments.run --list``."""
    steps = int(variant[1:])
    origin = "a random θ0" if steps == 0 else f"θ0 = each seed's network after {steps} steps"
    return f"MNIST FC d_int90 from {origin} (burn-in subspaces, Larsen et al. 2022)."


def get_config(smoke: bool = False, variant: str = "k100"):
    if variant not in VARIANTS:
        raise ValueError(f"mnist_fc_burn_in: variant must be one of {VARIANTS}; got {variant!r}")
    model = Model("fc", {"width": 200, "depth": 2})
    exp = image_experiment(
        f"mnist_fc_burn_in_{variant}",
        dataset="mnist",
        model=model,
        dims=DIMS,
        smoke=smoke,
        epochs=5,
    )
    steps = int(variant[1:])
    image = {f.name: getattr(exp.task, f.name) for f in dataclasses.fields(exp.task)}
    task = BurnInTask(**image, burn_in_steps=min(steps, 4) if smoke else steps)
    return dataclasses.replace(exp, task=task)
