"""The paper's control variants of a dataset: shuffled pixels and shuffled labels.

Shuffled pixels (Li et al. 2018, Table 1): one fixed random permutation of the pixel
positions, applied to every train and test image alike. A fully connected network is
blind to it; a convolutional network loses its locality prior.

Shuffled labels (after Zhang et al. 2017): a fraction of the training labels replaced
by labels drawn uniformly at random, so the network must memorise them. Test labels
are left untouched.
"""

from __future__ import annotations

import math

import numpy as np

from experiments.data.dataset import Dataset
from experiments.data.seeds import check_seed


def pixel_permutation(height: int, width: int, *, seed: int) -> np.ndarray:
    """A random permutation of the height * width pixel positions (row-major order).

    Args:
      height: image height, >= 1.
      width: image width, >= 1.
      seed: non-negative int; the same seed gives the same permutation.

    Returns:
      (height * width,) int64 permutation.
    """
    for argname, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{argname} must be a positive int, got {value!r}")
    return np.random.default_rng(check_seed(seed)).permutation(height * width)


def _permute(x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    # Index positions, not values: the C channels of one pixel move together.
    return x.reshape(n, h * w, c)[:, perm].reshape(n, h, w, c)


def shuffle_pixels(dataset: Dataset, *, seed: int) -> Dataset:
    """Applies one fixed random permutation of pixel positions to all images.

    The same permutation is used for every train and test image; the channels of a
    pixel stay together. Labels are unchanged.

    Args:
      dataset: a `Dataset` with (N, H, W, C) images.
      seed: non-negative int that draws the permutation.

    Returns:
      A new `Dataset` named "<name>-shuffled-pixels".

    Example:
      >>> ds = shuffle_pixels(load("mnist"), seed=0)  # doctest: +SKIP
    """
    if dataset.train_x.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got shape {dataset.train_x.shape}")
    _, h, w, _ = dataset.train_x.shape
    perm = pixel_permutation(h, w, seed=seed)
    return dataset._replace(
        train_x=_permute(dataset.train_x, perm),
        test_x=_permute(dataset.test_x, perm),
        name=f"{dataset.name}-shuffled-pixels",
    )


def shuffle_labels(dataset: Dataset, *, fraction: float, seed: int) -> Dataset:
    """Replaces a fraction of the training labels by uniformly random labels.

    round(fraction * N_train) training examples are chosen without replacement and
    given a label drawn uniformly from [0, num_classes); a new label may by chance
    equal the old one, so about fraction * (1 - 1/num_classes) of the labels change.
    Test labels are untouched. Images are shared, not copied.

    Args:
      dataset: a `Dataset`.
      fraction: float in (0, 1]; 1.0 randomises every training label.
      seed: non-negative int that draws which examples and their new labels.

    Returns:
      A new `Dataset` named "<name>-shuffled-labels-<fraction>".
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)):
        raise TypeError(f"fraction must be a float in (0, 1], got {type(fraction).__name__}")
    if not (math.isfinite(fraction) and 0.0 < fraction <= 1.0):
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(check_seed(seed))
    n = len(dataset.train_y)
    chosen = rng.choice(n, size=round(fraction * n), replace=False)
    train_y = dataset.train_y.copy()
    train_y[chosen] = rng.integers(0, dataset.num_classes, size=len(chosen), dtype=train_y.dtype)
    return dataset._replace(train_y=train_y, name=f"{dataset.name}-shuffled-labels-{fraction:g}")
