"""Data for the paper's experiments: MNIST and CIFAR-10 from offline files or TFDS.

`load(name, source=...)` is the entry point; `shuffle_pixels` and `shuffle_labels`
build the paper's control variants; `batches` iterates minibatches. Offline files are
looked for in `data_dir` or $SUBSPACE_DATA_DIR (layout in `experiments.data.paths`).
"""

from experiments.data.batches import (
    batches,
    num_batches,
)
from experiments.data.cifar10 import (
    CIFAR10_CLASSES,
    load_cifar10_files,
    parse_cifar10_records,
)
from experiments.data.dataset import (
    IMAGE_SHAPES,
    NUM_CLASSES,
    Dataset,
    channel_stats,
    standardize,
    take_train,
)
from experiments.data.loader import (
    SOURCES,
    load,
)
from experiments.data.mnist import (
    load_mnist_files,
    parse_idx,
)
from experiments.data.paths import DATA_DIR_ENV
from experiments.data.tfds_source import load_tfds
from experiments.data.variants import (
    pixel_permutation,
    shuffle_labels,
    shuffle_pixels,
)

__all__ = [
    "CIFAR10_CLASSES",
    "DATA_DIR_ENV",
    "IMAGE_SHAPES",
    "NUM_CLASSES",
    "SOURCES",
    "Dataset",
    "batches",
    "channel_stats",
    "load",
    "load_cifar10_files",
    "load_mnist_files",
    "load_tfds",
    "num_batches",
    "parse_cifar10_records",
    "parse_idx",
    "pixel_permutation",
    "shuffle_labels",
    "shuffle_pixels",
    "standardize",
    "take_train",
]
