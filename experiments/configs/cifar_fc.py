"""CIFAR-10 (JPEG-recompressed offline copy), FC 3072-200-200-10 (D = 656,810); the
paper's d_int90 is 9,000.

Command:
    python -m experiments.run cifar_fc --data-dir DIR    # DIR: see README "Data"

Hyperparameters: Adam on z lr 1e-2 (baseline on θ lr 1e-3), batch 128, 10 epochs (the paper:
up to 100), fastfood, d in 1,000..15,000 with 3 seeds, full-parameter baseline (3 seeds),
threshold 0.9 × baseline test accuracy. The CIFAR-10 copy is JPEG-recompressed: accuracies
may differ slightly from the canonical data set. Expected runtime on a 2-core CPU: see
experiments/results/cifar_fc/timings.json.
"""

from experiments.image_configs import image_experiment
from experiments.tasks import Model

DIMS = (1000, 2000, 3000, 5000, 7500, 10000, 15000)


def get_config(smoke: bool = False):
    return image_experiment(
        "cifar_fc",
        dataset="cifar10",
        model=Model("fc", {"width": 200, "depth": 2}),
        dims=DIMS,
        smoke=smoke,
        epochs=10,
    )
