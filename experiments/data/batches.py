"""Minibatches of numpy arrays for one epoch, shuffled reproducibly."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from experiments.data.seeds import check_seed


def num_batches(num_examples: int, batch_size: int, *, drop_remainder: bool = False) -> int:
    """Number of batches `batches` yields for one epoch of `num_examples`."""
    return num_examples // batch_size if drop_remainder else -(-num_examples // batch_size)


def batches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    seed: int | np.random.Generator | None = None,
    epoch: int = 0,
    drop_remainder: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yields one epoch of (x, y) minibatches, shuffled unless `seed` is None.

    With an int seed the order is a pure function of (seed, epoch), so a run can be
    resumed at any epoch and every epoch gets a new order without carrying state; with a
    `np.random.Generator` the order is drawn from it (and advances it).

    Args:
      x: (N, ...) inputs.
      y: (N, ...) targets.
      batch_size: positive int.
      seed: int, Generator, or None for the stored order (e.g. evaluation).
      epoch: epoch number, folded into an int seed; must be 0 otherwise.
      drop_remainder: drop the last, smaller batch, so every batch has `batch_size`
        rows (one compiled shape under jit). Default False keeps every example.

    Returns:
      An iterator of (x_batch, y_batch) with `batch_size` rows each (the last may be
      smaller); copies when shuffled, views otherwise. Arguments are checked at the
      call, not at the first `next`.

    Example:
      >>> for epoch in range(10):  # doctest: +SKIP
      ...     for xb, yb in batches(ds.train_x, ds.train_y, 128, seed=0, epoch=epoch):
      ...         ...
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y must have the same length, got {n} and {len(y)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be a positive int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}")
    if drop_remainder and batch_size > n:
        raise ValueError(
            f"batch_size ({batch_size}) exceeds the number of examples ({n}) with "
            "drop_remainder=True: no batch would be yielded"
        )
    check_seed(epoch, "epoch")
    if seed is None:
        order = None
    elif isinstance(seed, np.random.Generator):
        if epoch != 0:
            raise ValueError("epoch must be 0 when seed is a Generator (its state advances)")
        order = seed.permutation(n)
    else:
        order = np.random.default_rng([check_seed(seed), epoch]).permutation(n)
    return _iterate(
        x, y, batch_size, order, num_batches(n, batch_size, drop_remainder=drop_remainder)
    )


def _iterate(
    x: np.ndarray, y: np.ndarray, batch_size: int, order: np.ndarray | None, count: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for b in range(count):
        rows = slice(b * batch_size, (b + 1) * batch_size)
        idx = rows if order is None else order[rows]
        yield x[idx], y[idx]
