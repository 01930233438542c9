"""MNIST and CIFAR-10 through TensorFlow Datasets, with or without TensorFlow installed.

Without TensorFlow, `tfds.data_source` reads data already prepared in the
`array_record` format (random access, numpy out). With TensorFlow importable,
`tfds.load(..., batch_size=-1)` is used instead, which also reads TFRecord data and can
download and prepare the dataset. What this adds to tfds: one call that returns both
splits as float32 NHWC arrays in [0, 1] with int32 labels, shape-checked.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np

from experiments.data.dataset import IMAGE_SHAPES, NUM_CLASSES, Dataset, check_name, to_float_images
from experiments.data.paths import PathLike

#: TFDS dataset names for the names this package uses.
TFDS_NAMES: dict[str, str] = {"mnist": "mnist", "cifar10": "cifar10"}


def tensorflow_available() -> bool:
    """Whether TensorFlow can be imported (decides `tfds.load` vs `tfds.data_source`)."""
    return importlib.util.find_spec("tensorflow") is not None


def _stack_source(source: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    # Item by item: `__getitems__` would batch reads but is not implemented by every
    # data source (tfds's own mock lacks it in 4.9.x).
    examples = [source[i] for i in range(len(source))]
    if not examples:
        raise ValueError("TFDS returned an empty split")
    images = np.stack([np.asarray(ex["image"]) for ex in examples])
    labels = np.asarray([ex["label"] for ex in examples])
    return images, labels


def _load_splits(
    tfds_name: str, data_dir: PathLike | None, download: bool
) -> list[tuple[np.ndarray, np.ndarray]]:
    import tensorflow_datasets as tfds  # Deferred: importing tfds takes about a second.

    splits = ["train", "test"]
    data_dir = None if data_dir is None else str(data_dir)
    if tensorflow_available():
        loaded = tfds.load(
            tfds_name,
            split=splits,
            data_dir=data_dir,
            download=download,
            batch_size=-1,
            as_supervised=True,
        )
        return [(np.asarray(images), np.asarray(labels)) for images, labels in loaded]
    sources = tfds.data_source(
        tfds_name,
        split=splits,
        data_dir=data_dir,
        download=download,
        # tfds only defaults to array_record when no data_dir is given; make it explicit.
        builder_kwargs={"file_format": "array_record"},
    )
    return [_stack_source(source) for source in sources]


def _convert(
    images: np.ndarray, labels: np.ndarray, name: str, split: str
) -> tuple[np.ndarray, np.ndarray]:
    expected = IMAGE_SHAPES[name]
    if images.ndim != 4 or images.shape[1:] != expected:
        raise ValueError(
            f"TFDS {name} {split}: expected images of shape (N, {', '.join(map(str, expected))}), "
            f"got {images.shape}"
        )
    if labels.shape != (len(images),):
        raise ValueError(
            f"TFDS {name} {split}: {len(images)} images but labels of shape {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"TFDS {name} {split}: labels outside [0, {NUM_CLASSES - 1}]")
    return to_float_images(images), labels.astype(np.int32)


def load_tfds(name: str, *, data_dir: PathLike | None = None, download: bool = False) -> Dataset:
    """Loads MNIST or CIFAR-10 (train and test splits) through TensorFlow Datasets.

    Args:
      name: "mnist" or "cifar10".
      data_dir: TFDS data directory; None uses TFDS's default ($TFDS_DATA_DIR or
        ~/tensorflow_datasets). This is a TFDS folder, not the offline files' folder.
      download: let TFDS download and prepare the data when it is not there yet.
        Without TensorFlow, data must already be prepared in the array_record format.

    Returns:
      `Dataset` with float32 NHWC images in [0, 1] and int32 labels.

    Raises:
      ValueError: unknown name, or TFDS returned arrays of an unexpected shape.
    """
    check_name(name)
    (train_x, train_y), (test_x, test_y) = _load_splits(TFDS_NAMES[name], data_dir, download)
    train_x, train_y = _convert(train_x, train_y, name, "train")
    test_x, test_y = _convert(test_x, test_y, name, "test")
    return Dataset(train_x, train_y, test_x, test_y, name=name, num_classes=NUM_CLASSES)
