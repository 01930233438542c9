"""Intrinsic dimension from a sweep: the first d whose mean metric over seeds reaches a
threshold (Li et al., 2018), with a linear interpolation between grid points."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["DInt", "d_int", "mean_by_d"]


class DInt(NamedTuple):
    """Result of :func:`d_int`. ``d`` is None when no grid point reaches the threshold."""

    d: int | None  # first grid d whose mean metric reaches the threshold (the paper's d_int)
    interpolated: float | None  # linear interpolation between the bracketing grid points
    threshold: float


def mean_by_d(ds: Sequence[int], values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct d and the mean of ``values`` over the members (seeds) at each d.

    A non-finite value (a diverged member) makes the mean at its d non-finite, which never
    reaches a threshold.
    """
    ds = np.asarray(ds)
    values = np.asarray(values, dtype=np.float64)
    if ds.shape != values.shape or ds.ndim != 1 or ds.size == 0:
        raise ValueError(
            f"ds and values must be 1-D of the same non-zero length; got {ds.shape} and "
            f"{values.shape}"
        )
    grid = np.unique(ds)
    return grid, np.array([values[ds == d].mean() for d in grid])


def d_int(
    ds: Sequence[int],
    values: Sequence[float],
    threshold: float,
    *,
    higher_is_better: bool = True,
) -> DInt:
    """The smallest grid d whose mean metric over seeds reaches ``threshold``.

    Args:
      ds: d of every member.
      values: the final metric of every member (accuracy, or a loss).
      threshold: e.g. 0.9 × baseline accuracy (d_int90), or a loss tolerance.
      higher_is_better: True for accuracy (reach = mean >= threshold), False for a loss
        (reach = mean <= threshold).

    Returns:
      :class:`DInt` with the grid value and the linear interpolation between the last grid
      point that misses and the first that reaches (equal to the grid value if the first
      grid point already reaches).
    """
    grid, mean = mean_by_d(ds, values)
    sign = 1.0 if higher_is_better else -1.0
    reached = np.isfinite(mean) & (sign * mean >= sign * threshold)
    if not reached.any():
        return DInt(None, None, float(threshold))
    i = int(np.argmax(reached))
    if i == 0 or not np.isfinite(mean[i - 1]):
        return DInt(int(grid[i]), float(grid[i]), float(threshold))
    lo, hi = mean[i - 1], mean[i]
    t = (threshold - lo) / (hi - lo)
    return DInt(int(grid[i]), float(grid[i - 1] + t * (grid[i] - grid[i - 1])), float(threshold))
