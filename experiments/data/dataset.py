"""The `Dataset` record shared by every loader, and per-channel standardisation."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Datasets this package can load, with the shape of one image (H, W, C).
IMAGE_SHAPES: dict[str, tuple[int, int, int]] = {
    "mnist": (28, 28, 1),
    "cifar10": (32, 32, 3),
}
#: Both datasets have ten classes.
NUM_CLASSES = 10


class Dataset(NamedTuple):
    """A train/test split of an image classification dataset, held in numpy arrays.

    Attributes:
      train_x: (N_train, H, W, C) float32 images, NHWC; in [0, 1] unless standardised.
      train_y: (N_train,) int32 labels in [0, num_classes).
      test_x: (N_test, H, W, C) float32 images, same layout and scaling as `train_x`.
      test_y: (N_test,) int32 labels.
      name: dataset name, e.g. "mnist", "cifar10", "mnist-shuffled-pixels".
      num_classes: number of classes.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    name: str
    num_classes: int


def check_name(name: str) -> str:
    """Returns `name` if it is a known dataset; raises ValueError otherwise."""
    if name not in IMAGE_SHAPES:
        raise ValueError(f"name must be one of {sorted(IMAGE_SHAPES)}, got {name!r}")
    return name


def to_float_images(images: np.ndarray) -> np.ndarray:
    """Scales uint8 images to float32 in [0, 1] (x / 255, correctly rounded).

    Args:
      images: uint8 array of any shape.

    Returns:
      float32 array of the same shape.
    """
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8, got {images.dtype}")
    return images.astype(np.float32) / np.float32(255.0)


def channel_stats(x: np.ndarray, *, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of NHWC images, accumulated in float64.

    Two passes over chunks of `chunk` images, so no float64 copy of the whole array is
    made (CIFAR-10's training set is 0.6 GB in float32).

    Args:
      x: (N, H, W, C) images, N >= 1.
      chunk: images per chunk.

    Returns:
      (mean, std), each a (C,) float64 array (population std, ddof=0).
    """
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"x must have shape (N, H, W, C) with N >= 1, got shape {x.shape}")
    count = x.shape[0] * x.shape[1] * x.shape[2]
    parts = range(0, len(x), chunk)
    mean = sum(x[i : i + chunk].sum(axis=(0, 1, 2), dtype=np.float64) for i in parts) / count
    sq = sum(
        np.square(x[i : i + chunk].astype(np.float64) - mean).sum(axis=(0, 1, 2)) for i in parts
    )
    return mean, np.sqrt(sq / count)


def standardize(dataset: Dataset) -> Dataset:
    """Standardises images per channel with the mean and std of the training images.

    x -> (x - mean_c) / std_c for every channel c, the same statistics for train and
    test, so no information flows from the test set.

    Args:
      dataset: a `Dataset` with float images.

    Returns:
      A new `Dataset` with standardised float32 images; labels are shared, not copied.

    Raises:
      ValueError: if a channel of the training images is constant (std 0).
    """
    mean, std = channel_stats(dataset.train_x)
    if np.any(std == 0):
        raise ValueError(f"cannot standardise: training images have a constant channel (std={std})")
    mean32, std32 = mean.astype(np.float32), std.astype(np.float32)
    return dataset._replace(
        train_x=(dataset.train_x - mean32) / std32,
        test_x=(dataset.test_x - mean32) / std32,
    )


def check_limit(limit: int) -> int:
    """Returns `limit` if it is a positive int; raises TypeError/ValueError otherwise."""
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
        raise TypeError(f"limit must be an int, got {type(limit).__name__}")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    return int(limit)


def take_train(dataset: Dataset, limit: int) -> Dataset:
    """Keeps the first `limit` training examples; the test set is untouched.

    Args:
      dataset: a `Dataset`.
      limit: number of training examples to keep, 1 <= limit <= N_train.

    Returns:
      A new `Dataset` whose training arrays are copies of the first `limit` rows (a copy,
      so the full arrays can be freed).
    """
    check_limit(limit)
    n = len(dataset.train_y)
    if limit > n:
        raise ValueError(
            f"limit must be in [1, {n}] (the number of training examples), got {limit}"
        )
    return dataset._replace(
        train_x=dataset.train_x[:limit].copy(), train_y=dataset.train_y[:limit].copy()
    )
