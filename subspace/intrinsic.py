"""Intrinsic dimension from a sweep: the first d whose mean metric over seeds reaches a
threshold (Li et al., 2018), with a linear interpolation between grid points, a bootstrap
confidence interval over seeds, and a K-section search that refines the grid of d around
the threshold."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from subspace._checks import check_bool, check_int

__all__ = [
    "DInt",
    "SearchResult",
    "bootstrap_d_int",
    "bracket",
    "d_int",
    "mean_by_d",
    "refine_dims",
    "search",
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


def _check_dims(name: str, dims) -> list[int]:
    if isinstance(dims, (str, bytes)) or not isinstance(dims, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a sequence of positive integers; got {dims!r}")
    if len(dims) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of positive integers")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(f"{name} must hold positive integers; got {d!r}")
        if d < 1:
            raise ValueError(f"{name} must hold positive integers (d >= 1); got {d}")
    return sorted({int(d) for d in dims})


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


# --- K-section search over d ---


def refine_dims(lo: int, hi: int, k: int) -> list[int]:
    """K integers evenly spaced strictly inside (lo, hi), rounded and unique.

    The points are round(lo + j (hi - lo) / (k + 1)) for j = 1..k (halves round up). When
    at most k integers lie strictly between lo and hi, all of them are returned (none for
    adjacent integers).

    Example:
      >>> refine_dims(8, 16, 4)
      [10, 11, 13, 14]
      >>> refine_dims(8, 10, 4)
      [9]
    """
    lo = check_int(lo, "lo", 1)
    hi = check_int(hi, "hi", 1)
    k = check_int(k, "k", 1)
    if hi <= lo:
        raise ValueError(f"need lo < hi; got lo = {lo}, hi = {hi}")
    if hi - lo - 1 <= k:
        return list(range(lo + 1, hi))
    # Spacing (hi - lo) / (k + 1) > 1 here, so the rounded points are distinct and inside.
    return [int(np.floor(lo + j * (hi - lo) / (k + 1) + 0.5)) for j in range(1, k + 1)]


def bracket(
    ds: Sequence[int],
    values: Sequence[float],
    threshold: float,
    *,
    higher_is_better: bool = True,
) -> tuple[int, int] | None:
    """(last grid d before the first that reaches, first grid d that reaches).

    Reaching is judged on the mean over seeds, as in :func:`d_int`. Every grid d below
    the first reaching one misses, so d_int lies in (lo, hi].

    Returns:
      ``(lo, hi)``, or None when no grid d reaches or the smallest grid d already reaches
      (there is nothing below it to refine).
    """
    threshold = _check_threshold(threshold)
    check_bool(higher_is_better, "higher_is_better", what="a bool (True or False)", numpy=True)
    grid, mean = mean_by_d(ds, values)
    reached, i, _ = _first_reaching(grid, mean[None], threshold, higher_is_better)
    if not reached[0] or i[0] == 0:
        return None
    return int(grid[i[0] - 1]), int(grid[i[0]])


class SearchResult(NamedTuple):
    """Result of :func:`search`."""

    ds: np.ndarray  # [N] int64: d of every member trained, over all rounds, in order
    values: np.ndarray  # [N] float64: final metric of every member
    rounds: tuple[tuple[int, ...], ...]  # dims passed to ``train`` in each round
    d_int: DInt  # :func:`d_int` of all members
    bracket: tuple[int, int] | None  # final :func:`bracket` (None: none reaches / first does)
    stopped: str  # "tight", "no_bracket" or "max_rounds"


def _is_tight(lo: int, hi: int, rel_tol: float) -> bool:
    return hi - lo <= 1 or hi - lo <= rel_tol * hi


def search(
    train: Callable[[list[int]], tuple[Sequence[int], Sequence[float]]],
    coarse_dims: Sequence[int],
    threshold: float,
    *,
    higher_is_better: bool = True,
    k: int = 4,
    rel_tol: float = 0.05,
    max_rounds: int = 20,
) -> SearchResult:
    """Find d_int by a coarse grid of d followed by rounds of K-section refinement.

    Round 1 trains ``coarse_dims`` (e.g. a geometric grid). Each later round takes the
    :func:`bracket` (lo, hi] of all members so far and trains the ``k`` new integer dims
    :func:`refine_dims` puts strictly inside it, so the bracket shrinks every round and no
    d is trained twice. It stops when the bracket is tight (hi - lo <= rel_tol · hi, or
    hi - lo <= 1: adjacent integers, d_int = hi exactly), when there is no bracket (no d
    reaches, or the smallest coarse d already does), or after ``max_rounds`` rounds.

    Args:
      train: ``train(dims) -> (ds, values)``; trains every d in ``dims`` (sorted, new),
        all seeds, typically as one batched program, and returns the d and final metric of
        every member. Each d in ``dims`` must appear at least once, and no other d.
      coarse_dims: positive integers for round 1; sorted and de-duplicated.
      threshold: as in :func:`d_int`; finite.
      higher_is_better: as in :func:`d_int`.
      k: new dims per refinement round, >= 1 (k = 1 is bisection).
      rel_tol: relative bracket width to stop at, in (0, 1).
      max_rounds: most calls to ``train``, counting the coarse round, >= 1.

    Returns:
      :class:`SearchResult` with every member, the dims of each round, the final
      :class:`DInt`, the final bracket and why it stopped.

    Example:
      >>> def train(dims):  # a step at d = 10, two seeds per d
      ...     ds = [d for d in dims for _ in range(2)]
      ...     return ds, [float(d >= 10) for d in ds]
      >>> r = search(train, [2, 4, 8, 16, 32], 0.5)
      >>> r.d_int.d, r.bracket, r.rounds
      (10, (9, 10), ((2, 4, 8, 16, 32), (10, 11, 13, 14), (9,)))
    """
    if not callable(train):
        raise TypeError(f"train must be callable as train(dims) -> (ds, values); got {train!r}")
    dims = _check_dims("coarse_dims", coarse_dims)
    threshold = _check_threshold(threshold)
    check_bool(higher_is_better, "higher_is_better", what="a bool (True or False)", numpy=True)
    k = check_int(k, "k", 1)
    rel_tol = _check_open_unit("rel_tol", rel_tol)
    max_rounds = check_int(max_rounds, "max_rounds", 1)

    all_ds: list[int] = []
    all_values: list[float] = []
    rounds: list[tuple[int, ...]] = []
    stopped = "max_rounds"
    b = None
    while True:
        trained = set(all_ds)
        if trained.intersection(dims):  # cannot happen: new dims lie strictly in a bracket
            raise AssertionError(f"dims {sorted(trained.intersection(dims))} already trained")
        new_ds, new_values = train(list(dims))
        new_ds = [int(d) for d in np.asarray(new_ds).reshape(-1)]
        new_values = [float(v) for v in np.asarray(new_values, dtype=np.float64).reshape(-1)]
        if len(new_ds) != len(new_values) or set(new_ds) != set(dims):
            raise ValueError(
                f"train({dims}) must return (ds, values) of equal length whose ds are exactly "
                f"the requested dims; got ds {sorted(set(new_ds))} ({len(new_ds)} members) "
                f"and {len(new_values)} values"
            )
        all_ds += new_ds
        all_values += new_values
        rounds.append(tuple(dims))
        b = bracket(all_ds, all_values, threshold, higher_is_better=higher_is_better)
        if b is None:
            stopped = "no_bracket"
            break
        if _is_tight(*b, rel_tol):
            stopped = "tight"
            break
        if len(rounds) >= max_rounds:
            break
        dims = refine_dims(*b, k)

    return SearchResult(
        ds=np.asarray(all_ds, dtype=np.int64),
        values=np.asarray(all_values, dtype=np.float64),
        rounds=tuple(rounds),
        d_int=d_int(all_ds, all_values, threshold, higher_is_better=higher_is_better),
        bracket=b,
        stopped=stopped,
    )
