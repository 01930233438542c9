"""Reduced shuffled-labels run: memorising random labels needs far more dimensions.

The paper: MNIST FC with 5 hidden layers of 400 (D = 959,610), 100% of the 60,000
training labels shuffled, d_int90 = 190,000 (500 epochs of Adam lr 1e-4). Reduced here to
fit a 2-core CPU: the first 5,000 training images, all their labels shuffled, FC
784-200-200-10 (D = 199,210), Adam on z lr 1e-2 (baseline on θ lr 1e-3), batch 128, 50
epochs. The metric is TRAINING accuracy (test accuracy is chance by construction), threshold
0.9 × the baseline's training accuracy. Compare with mnist_fc's d_int90 of a few hundred.

Command:
    python -m experiments.run mnist_shuffled_labels --data-dir DIR    # DIR: see README "Data"
"""

from experiments.image_configs import image_experiment
from experiments.tasks import Model

DIMS = (1000, 2500, 5000, 10000, 20000, 40000)


def get_config(smoke: bool = False):
    return image_experiment(
        "mnist_shuffled_labels",
        dataset="mnist",
        model=Model("fc", {"width": 200, "depth": 2}),
        dims=DIMS,
        smoke=smoke,
        epochs=50,
        metric="train_accuracy",
        train_limit=5000,
        label_fraction=1.0,
    )
