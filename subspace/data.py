"""The data a measurement trains on, and the order of its minibatches.

:class:`Data` holds host-side arrays. By default all members see the same minibatches
(one shuffle per epoch, drawn from ``(shuffle_seed, epoch)``); ``per_member_shuffle``
gives each member its own order, drawn from ``(shuffle_seed, epoch, member seed)``. The
order is a pure function of the step, so a resumed group replays it exactly.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from subspace._checks import check_int

__all__ = ["Data", "check_data", "step_indices"]


class Data(NamedTuple):
    """Host-side arrays: inputs (N, ...) and integer labels (N,)."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray | None = None
    test_y: np.ndarray | None = None


def step_indices(
    n: int,
    batch_size: int,
    steps: int,
    seed: int,
    member_seeds: np.ndarray | None = None,
    *,
    start: int = 0,
) -> np.ndarray:
    """Example indices of steps ``start .. start + steps - 1``: (steps, batch) shared, or
    (steps, members, batch). Step s is batch ``s % (n // batch_size)`` of epoch
    ``s // (n // batch_size)``, whose order is drawn from ``(seed, epoch)`` (and the
    member's seed): only the epochs the steps touch are drawn, so a long run's index table
    is never built whole."""
    per_epoch = n // batch_size
    if per_epoch < 1:
        raise ValueError(f"batch_size must be <= the number of examples {n}; got {batch_size}")
    first, last = start // per_epoch, (start + steps - 1) // per_epoch

    def plan(extra: tuple) -> np.ndarray:
        # The trailing 1 keeps (seed, e, member) apart from (seed, e): numpy's SeedSequence
        # ignores trailing zeros, so (seed, e, 0) would repeat the shared order.
        orders = [
            np.random.default_rng([seed, e, *extra]).permutation(n)[: per_epoch * batch_size]
            for e in range(first, last + 1)
        ]
        rows = np.concatenate(orders).reshape(-1, batch_size)
        offset = start - first * per_epoch
        return rows[offset : offset + steps].astype(np.int32)

    if member_seeds is None:
        return plan(())
    return np.stack([plan((int(s), 1)) for s in member_seeds], axis=1)


def check_data(data: Any, batch_size: Any, where: str) -> Data:
    """The one check of a problem's data: a :class:`Data` whose splits have inputs and
    labels of equal length, and a batch size in [1, training examples]."""
    if not isinstance(data, Data):
        raise TypeError(f"{where}: data must be a subspace.Data; got {type(data).__name__}")
    for split in ("train", "test"):
        x, y = getattr(data, f"{split}_x"), getattr(data, f"{split}_y")
        if (x is None) != (y is None) or (x is not None and len(x) != len(y)):
            raise ValueError(
                f"{where}: data.{split}_x and data.{split}_y must both be given, with the "
                f"same number of examples; got {None if x is None else len(x)} and "
                f"{None if y is None else len(y)}"
            )
    if data.train_x is None:
        raise ValueError(f"{where}: data.train_x and data.train_y are required")
    if batch_size is None:
        raise ValueError(f"{where}: batch_size is required with data")
    batch_size = check_int(batch_size, "batch_size", 1, where=where)
    if batch_size > len(data.train_x):
        raise ValueError(
            f"{where}: batch_size must be in [1, {len(data.train_x)}] (the number of "
            f"training examples); got {batch_size}"
        )
    return data
