"""MNIST, FC 784-200-200-10 (D = 199,210); the paper's d_int90 is 750.

Command:
    python -m experiments.run mnist_fc --data-dir DIR    # DIR: see README "Data"

Hyperparameters: Adam on z lr 1e-2 (baseline on θ lr 1e-3), batch 128, 5 epochs (the paper
trained longer), no L2; fastfood; d in 100..1500 (11 values) with 3 seeds; full-parameter
baseline with the same trainer (3 seeds); threshold 0.9 × baseline test accuracy. Expected
runtime on a 2-core CPU: see experiments/results/mnist_fc/timings.json.
"""

from experiments.image_configs import image_experiment
from experiments.tasks import Model

DIMS = (100, 200, 300, 400, 500, 600, 700, 800, 1000, 1250, 1500)


def get_config(smoke: bool = False):
    return image_experiment(
        "mnist_fc",
        dataset="mnist",
        model=Model("fc", {"width": 200, "depth": 2}),
        dims=DIMS,
        smoke=smoke,
        epochs=5,
    )
