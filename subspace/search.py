"""K-section search for the intrinsic dimension: a coarse grid of d, then rounds that train
a few new d strictly inside the bracket around the threshold until it is tight. d_int itself
(the first grid d whose mean metric reaches the threshold) is in :mod:`subspace.intrinsic`."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from subspace._checks import check_bool, check_int
from subspace.intrinsic import (
    DInt,
    _check_open_unit,
    _check_threshold,
    _first_reaching,
    d_int,
    mean_by_d,
)

__all__ = [
    "SearchResult",
    "bracket",
    "refine_dims",
    "search",
]


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
