"""MNIST with one fixed pixel permutation, FC 784-200-200-10; the paper's d_int90 is 750
(unchanged: an FC net does not see pixel order).

Command:
    python -m experiments.run mnist_fc_shuffled_pixels --data-dir DIR    # DIR: see README "Data"

Hyperparameters: as mnist_fc (Adam on z lr 1e-2 (baseline on θ lr 1e-3), batch 128, 5
epochs; the paper used SGD lr 0.1 here); permutation seed 0; the baseline is trained on the
shuffled pixels too. Expected runtime on a 2-core CPU: see the results' timings.json.
"""

from experiments.configs.mnist_fc import DIMS
from experiments.image_configs import image_experiment
from experiments.tasks import Model


def get_config(smoke: bool = False):
    return image_experiment(
        "mnist_fc_shuffled_pixels",
        dataset="mnist",
        model=Model("fc", {"width": 200, "depth": 2}),
        dims=DIMS,
        smoke=smoke,
        epochs=5,
        shuffled_pixels=True,
    )
