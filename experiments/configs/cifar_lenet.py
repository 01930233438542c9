"""CIFAR-10 (JPEG-recompressed offline copy), LeNet (D = 62,006); the paper's d_int90 is
2,900.

Command:
    python -m experiments.run cifar_lenet --data-dir DIR    # DIR: see README "Data"

Hyperparameters: Adam on z lr 1e-2 (baseline on θ lr 1e-3), batch 128, 5 epochs (the paper:
up to 100), fastfood, d in 1,000..8,000 with 3 seeds, full-parameter baseline (3 seeds),
threshold 0.9 × baseline test accuracy. The CIFAR-10 copy is JPEG-recompressed. Expected
runtime on a 2-core CPU: see experiments/results/cifar_lenet/timings.json.
"""

from experiments.image_configs import image_experiment
from experiments.tasks import Model

DIMS = (1000, 2000, 3000, 5000, 8000)


def get_config(smoke: bool = False):
    return image_experiment(
        "cifar_lenet", dataset="cifar10", model=Model("lenet"), dims=DIMS, smoke=smoke, epochs=5
    )
