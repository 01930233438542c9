"""Fine-tuning MNIST FC on digits 5-9 from a network pretrained on digits 0-4, against a
random θ0, with and without SAID's per-layer scales: the SAID curve (Aghajanyan et al.,
2021: d_int90 of fine-tuning falls as pretraining goes on) at small scale.

One variant per pretraining length, ``p<epochs>``: p0 (a random θ0, each member's own
seed), p1, p3 and p10 epochs of Adam (lr 1e-3, batch 128, seed 0) on the 30,606 training
images of digits 0-4. Each variant measures d_int90 of fine-tuning on the 29,404 images
of digits 5-9 (tested on their 4,861 test images; the network keeps 10 outputs, and its
last layer, the head, starts from each member's own initialisation, as a new task head
does: TransferTask.new_head), FC
784-200-200-10 (D = 199,210), Adam on z lr 1e-2, 5 epochs, batch 128, 3 seeds, fastfood
and said-fastfood (6 of d's coordinates are the per-tensor scales), threshold 0.9 × full
fine-tuning from the same θ0 (lr 1e-3).

Commands (one per variant):
    python -m experiments.run mnist_transfer:p0 --data-dir DIR   # DIR: see README "Data"
    python -m experiments.run mnist_transfer:p10 --data-dir DIR
"""

import dataclasses

from experiments.image_configs import SMOKE_TEST, SMOKE_TRAIN, image_experiment
from experiments.tasks import Model, TransferTask

VARIANTS = ("p0", "p1", "p3", "p10")
DIMS = (10, 25, 50, 100, 200, 400, 800)
PROJECTIONS = ("fastfood", "said-fastfood")


def describe(variant: str) -> str:
    """One line on a variant, for ``python -m experiments.run --list``."""
    epochs = int(variant[1:])
    origin = "a random θ0" if epochs == 0 else f"θ0 pretrained {epochs} epoch(s) on digits 0-4"
    return f"MNIST FC fine-tuned on digits 5-9 from {origin}; fastfood and said-fastfood."


def get_config(smoke: bool = False, variant: str = "p10"):
    if variant not in VARIANTS:
        raise ValueError(f"mnist_transfer: variant must be one of {VARIANTS}; got {variant!r}")
    model = Model("fc", {"width": 200, "depth": 2})
    exp = image_experiment(
        f"mnist_transfer_{variant}", dataset="mnist", model=model, dims=DIMS, smoke=smoke, epochs=5
    )
    task = TransferTask(
        dataset="mnist",
        model=model,
        source=(0, 1, 2, 3, 4),
        target=(5, 6, 7, 8, 9),
        pretrain_epochs=min(int(variant[1:]), 1) if smoke else int(variant[1:]),
        train_limit=SMOKE_TRAIN if smoke else None,
        test_limit=SMOKE_TEST if smoke else None,
    )
    grid = dataclasses.replace(exp.grid, projections=PROJECTIONS)
    return dataclasses.replace(exp, task=task, grid=grid)
