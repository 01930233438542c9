"""MNIST with one fixed pixel permutation, LeNet; the paper's d_int90 rises to 1,400.

Command:
    python -m experiments.run mnist_lenet_shuffled_pixels --data-dir DIR    # DIR: see README "Data"

Hyperparameters: as mnist_lenet (Adam on z lr 1e-2 (baseline on θ lr 1e-3), batch 128, 3
epochs); permutation seed 0; d in 500..3000 with 3 seeds; the baseline is trained on the
shuffled pixels too. Expected runtime on a 2-core CPU: see the results' timings.json.
"""

from experiments.image_configs import image_experiment
from experiments.tasks import Model

DIMS = (500, 1000, 1500, 2000, 3000)


def get_config(smoke: bool = False):
    return image_experiment(
        "mnist_lenet_shuffled_pixels",
        dataset="mnist",
        model=Model("lenet"),
        dims=DIMS,
        smoke=smoke,
        epochs=3,
        shuffled_pixels=True,
    )
