"""Intrinsic dimension from a sweep: the first d whose mean metric over seeds reaches a
threshold (Li et al., 2018), with a linear interpolation between grid points and a bootstrap
confidence interval over seeds. The K-section search that refines the grid of d around the
threshold is in :mod:`subspace.search`."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from subspace._checks import check_bool, check_int

__all__ = [
    "DInt",
    "bootstrap_d_int",
    "d_int",
    "mean_by_d",
]


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
    if ds.dtype.kind not in "iuf" or (ds.dtype.kind == "f" and not np.all(ds == np.round(ds))):
        raise TypeError(f"ds must hold integers (the d of every member); got {ds.tolist()}")
    if ds.min() < 1:
        raise ValueError(f"ds must hold positive integers (d >= 1); got {ds.tolist()}")
    grid = np.unique(ds)
    return grid, np.array([values[ds == d].mean() for d in grid])


def _first_reaching(
    grid: np.ndarray, mean: np.ndarray, threshold: float, higher_is_better: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched core of :func:`d_int` over rows of ``mean`` (shape [B, G], grid [G]).

    Returns (reached [B] bool, i [B] index of the first reaching grid point, interpolated
    [B] float64, +inf where nothing reaches).
    """
    sign = 1.0 if higher_is_better else -1.0
    reached = np.isfinite(mean) & (sign * mean >= sign * threshold)
    any_reached = reached.any(axis=1)
    i = np.argmax(reached, axis=1)
    prev = np.maximum(i - 1, 0)
    rows = np.arange(mean.shape[0])
    lo, hi = mean[rows, prev], mean[rows, i]
    interpolate = any_reached & (i > 0) & np.isfinite(lo)
    # lo misses and hi reaches, so hi != lo wherever the interpolation is used.
    g = grid.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (threshold - lo) / (hi - lo)
        x = np.where(interpolate, g[prev] + t * (g[i] - g[prev]), g[i])
    return any_reached, i, np.where(any_reached, x, np.inf)


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
    threshold = _check_threshold(threshold)
    check_bool(higher_is_better, "higher_is_better", what="a bool (True or False)", numpy=True)
    grid, mean = mean_by_d(ds, values)
    reached, i, x = _first_reaching(grid, mean[None], threshold, higher_is_better)
    if not reached[0]:
        return DInt(None, None, float(threshold))
    return DInt(int(grid[i[0]]), float(x[0]), float(threshold))


# --- argument checks (host-side, before any training) ---


def _check_open_unit(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in (0, 1); got {value!r}")
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1); got {value}")
    return float(value)


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a finite real number; got {threshold!r}")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite real number; got {threshold}")
    return float(threshold)


# --- bootstrap over seeds ---


def _bootstrap_replicates(
    ds: Sequence[int],
    values: Sequence[float],
    threshold: float,
    *,
    higher_is_better: bool,
    n_boot: int,
    seed: int,
) -> np.ndarray:
    """The interpolated d_int of ``n_boot`` resamples, shape [n_boot], +inf where a
    resample never reaches the threshold.

    Draws, in increasing order of d, one ``rng.integers(0, n_d, (n_boot, n_d))`` index
    array per grid d (``n_d`` members observed at that d).
    """
    grid, _ = mean_by_d(ds, values)  # validates the shapes
    ds = np.asarray(ds)
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    mean = np.empty((n_boot, grid.size))
    for j, d in enumerate(grid):
        members = values[ds == d]
        idx = rng.integers(0, members.size, size=(n_boot, members.size))
        mean[:, j] = members[idx].mean(axis=1)
    return _first_reaching(grid, mean, threshold, higher_is_better)[2]


def bootstrap_d_int(
    ds: Sequence[int],
    values: Sequence[float],
    threshold: float,
    *,
    higher_is_better: bool = True,
    n_boot: int = 1000,
    level: float = 0.9,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval over seeds for the interpolated d_int.

    Each resample draws, independently at every grid d, as many members as were observed
    there, with replacement, and recomputes :func:`d_int`'s ``interpolated`` value from the
    resampled means (the original reports error bars the same way: bootstrap over seeds).
    A resample whose mean never reaches the threshold counts as d_int = +inf, so ``hi``
    (and ``lo``) can be ``inf``: "the data do not rule out that no grid d reaches". The
    interval can be finite even when :func:`d_int` gives None (a resample may drop the
    members that miss). A resample that keeps a non-finite member has a non-finite mean at
    that d, which misses, as in :func:`d_int`.

    The ends are order statistics of the resamples, not interpolated between them
    (``np.quantile`` with ``method="lower"`` for ``lo`` and ``"higher"`` for ``hi``): the
    interval is slightly conservative, and stays well defined next to ``inf``.

    Args:
      ds: d of every member, shape [N].
      values: final metric of every member, shape [N].
      threshold: as in :func:`d_int`; finite.
      higher_is_better: as in :func:`d_int`.
      n_boot: number of resamples, >= 1.
      level: coverage of the two-sided interval, in (0, 1); 0.9 gives the 5th and 95th
        percentiles.
      seed: seed of ``np.random.default_rng``; the same seed gives the same interval.

    Returns:
      ``(lo, hi)`` floats, ``lo <= hi``; ``lo == hi == interpolated`` when the seeds agree
      at every d.

    Example:
      >>> bootstrap_d_int([1, 1, 2, 2], [0.0, 0.0, 1.0, 1.0], 0.5)
      (1.5, 1.5)
    """
    threshold = _check_threshold(threshold)
    check_bool(higher_is_better, "higher_is_better", what="a bool (True or False)", numpy=True)
    n_boot = check_int(n_boot, "n_boot", 1)
    level = _check_open_unit("level", level)
    replicates = _bootstrap_replicates(
        ds, values, threshold, higher_is_better=higher_is_better, n_boot=n_boot, seed=seed
    )
    alpha = (1.0 - level) / 2
    lo = np.quantile(replicates, alpha, method="lower")
    hi = np.quantile(replicates, 1.0 - alpha, method="higher")
    return float(lo), float(hi)
