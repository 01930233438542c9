"""MNIST, FC 784-200-200-10 (D = 199,210); the paper's d_int90 is 750.

Command:
    python -m experiments.run mnist_fc --data-dir ../shared/datasets

Hyperparameters: Adam lr 1e-3, batch 128, 5 epochs (the paper trained longer), no L2;
fastfood projection; d in 100, 200, 300, 400, 500, 600, 700, 800, 1000, 1250, 1500 with
3 seeds (33 members in groups that fit memory), full-parameter baseline with the same
trainer (3 seeds). Threshold 0.9 × baseline test accuracy.
Expected runtime on a 2-core CPU: roughly 30 s per member-epoch-group … measure with
the command above; the results and timings are in experiments/results/mnist_fc/.
"""

from __future__ import annotations

import optax

from experiments.config import Experiment
from experiments.data import load as load_dataset
from experiments.tasks import classification_task
from models import FC
from subspace.loop import Data

SMOKE_TRAIN, SMOKE_TEST = 512, 256


def mnist(data_dir: str | None, *, smoke: bool = False) -> Data:
    ds = load_dataset("mnist", data_dir=data_dir, limit=SMOKE_TRAIN if smoke else None)
    if smoke:
        return Data(ds.train_x, ds.train_y, ds.test_x[:SMOKE_TEST], ds.test_y[:SMOKE_TEST])
    return Data(ds.train_x, ds.train_y, ds.test_x, ds.test_y)


def get_config(smoke: bool = False) -> Experiment:
    return Experiment(
        name="mnist_fc",
        task=classification_task(FC(width=200, depth=2), (28, 28, 1)),
        optimizer=optax.adam,
        lr=1e-3,
        dims=(10, 50) if smoke else (100, 200, 300, 400, 500, 600, 700, 800, 1000, 1250, 1500),
        seeds=2 if smoke else 3,
        projections=("fastfood",),
        epochs=1 if smoke else 5,
        batch_size=64 if smoke else 128,
        data=lambda data_dir: mnist(data_dir, smoke=smoke),
    )
