"""CIFAR-10 (JPEG-recompressed offline copy), LeNet (D = 62,006); the paper's d_int90 is
2,900.

Command:
    python -m experiments.run cifar_lenet --data-dir DIR    # DIR: see README "Data"

Hyperparameters: Adam on z lr 1e-2 (baseline on θ lr 1e-3), batch 128, 20 epochs (the paper:
up to 100), fastfood, d in 1,000..12,000 with 3 seeds (denser near the paper's 2,900),
full-parameter baseline (3 seeds), threshold 0.9 × baseline test accuracy. The budget: the
baseline's learning curve (python -m experiments.learning_curve cifar_lenet --epochs 30
--every 2, experiments/results/cifar_lenet/learning_curve.json) reaches 0.62 test accuracy
by epoch 16 and then stays within about a point (0.61-0.62 to epoch 30, while training
accuracy keeps rising); at 20 epochs it gains less than half a point over the last 20%
(version 0.5 used 5 epochs). The CIFAR-10 copy is JPEG-recompressed: accuracies may differ
slightly from the canonical data set. Expected runtime on a 2-core CPU: see
experiments/results/cifar_lenet/timings.json.
"""

from experiments.image_configs import image_experiment
from experiments.tasks import Model

DIMS = (1000, 2000, 3000, 4000, 6000, 8000, 12000)


def get_config(smoke: bool = False):
    return image_experiment(
        "cifar_lenet", dataset="cifar10", model=Model("lenet"), dims=DIMS, smoke=smoke, epochs=20
    )
