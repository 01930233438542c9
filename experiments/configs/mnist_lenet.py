"""MNIST, LeNet (D = 44,426); the paper's d_int90 is 290.

Command:
    python -m experiments.run mnist_lenet --data-dir DIR    # DIR: see README "Data"

Hyperparameters: Adam on z lr 1e-2 (baseline on θ lr 1e-3), batch 128, 3 epochs, fastfood, d
in 100..600 with 3 seeds, full-parameter baseline (3 seeds), threshold 0.9 × baseline test
accuracy. Expected runtime on a 2-core CPU: see
experiments/results/mnist_lenet/timings.json.
"""

from experiments.image_configs import image_experiment
from experiments.tasks import Model

DIMS = (100, 200, 300, 400, 600)


def get_config(smoke: bool = False):
    return image_experiment(
        "mnist_lenet", dataset="mnist", model=Model("lenet"), dims=DIMS, smoke=smoke, epochs=3
    )
