"""The lottery subspaces of a measurement: each seed's P from its own baseline trajectory.

A grid that names ``"lottery"`` (Larsen et al., 2022) trains members whose P is not drawn
from a key but is the top principal directions of the same seed's full-parameter training
(:mod:`subspace.lottery`): the baseline's optimiser, data, batch size, minibatch order and
steps. With ``W`` the grid's largest d and ``T`` the steps of a member, a displacement is
recorded every ``k = T // W`` steps (``T // k >= W`` records, the last ``T mod k`` steps
unrecorded), and U (D × W) is its top W directions; a member of d uses U's first d columns.

The bases are computed once per seed and kept with the measurement (an out folder:
``networks/lottery/basis-s<seed>.npz``, U as one float32 array ``projection_state``;
without one, in memory) so that a resume and :meth:`subspace.SweepResult.member` use
the same U. A kept basis is read as hostile (its declared shape and dtype checked against
(D, W) float32 before any data is read); a missing one is
recomputed (the same seed and config give the same U).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subspace._io import atomic_write_bytes
from subspace._npz import ZIP_METHODS, FileError, corrupt_is_value_error, npy_data, npy_header
from subspace.data import Data

__all__: list[str] = []

LOTTERY = "lottery"  # the grid label of the stored projection


def stacked_bases(bases: Any, width: int, where: str) -> tuple[list[int], jax.Array]:
    """(seeds, stack of their U[:, :width]) of a stored projection's checked ``bases``."""
    if not isinstance(bases, Mapping) or not bases:
        raise TypeError(
            f"{where}: a stored projection (lottery) needs bases={{seed: U}}, each U a (D, W) "
            "float32 array of orthonormal columns (subspace.lottery.principal_directions); "
            f"got {type(bases).__name__}"
        )
    seeds = sorted(bases)
    shapes = {tuple(np.shape(bases[s])) for s in seeds}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 or next(iter(shapes))[1] < width:
        raise ValueError(
            f"{where}: every basis must be (D, W) with W >= width = {width}, all the same "
            f"shape; got {sorted(shapes)}"
        )
    return seeds, jnp.stack([jnp.asarray(bases[s], jnp.float32)[:, :width] for s in seeds])


def no_bases(bases: Any, projection: str, where: str) -> None:
    if bases is not None:
        raise ValueError(
            f"{where}: bases= is for a stored projection ('lottery',), not {projection!r} "
            "(drawn from each member's key)"
        )


def basis_file(folder: Path, seed: int) -> Path:
    return folder / "networks" / LOTTERY / f"basis-s{seed}.npz"


def record_every(steps: int, width: int, where: str) -> int:
    """k: steps between a trajectory's records, so that ``steps // k >= width``."""
    if steps < width:
        raise ValueError(
            f"{where}: the lottery projection needs at least as many training steps as its "
            f"largest d (one trajectory record per direction); {steps} steps, d up to {width}"
        )
    return steps // width


def check_lottery(schedule: Any, data: Any, where: str) -> None:
    """A lottery grid needs what its trajectory is made of: data, a baseline trained by
    backprop, one minibatch order for every member."""
    from subspace.estimators import Backprop

    why = None
    if data is None:
        why = "data (a problem without data has no training trajectory to take P from)"
    elif schedule.baseline is None:
        why = "a baseline (schedule.baseline: P is its trajectory's top directions)"
    elif not isinstance(schedule.baseline_estimator_or_default, Backprop):
        why = "a backprop baseline (schedule.baseline_estimator: the trajectory's trainer)"
    elif schedule.per_member_shuffle:
        why = "per_member_shuffle = False (the trajectory follows the shared minibatch order)"
    if why:
        raise ValueError(f"{where}: grid.projections names 'lottery', which needs {why}")


def lottery_bases(
    task: Any,
    schedule: Any,
    data: Data,
    *,
    steps: int,
    seeds: list[int],
    width: int,
    D: int,  # noqa: N803
    folder: Path | None,
    memory: dict,
    message: Any,
) -> dict[int, np.ndarray]:
    """{seed: U (D, width)} for ``seeds``: kept ones read, missing ones computed and kept."""
    from subspace.lottery import principal_directions, trajectory

    where = "measure (lottery)"
    every = record_every(steps, width, where)
    out = {}
    for seed in seeds:
        U = memory.get((LOTTERY, seed))  # noqa: N806
        if U is None and folder is not None and basis_file(folder, seed).is_file():
            U = read_basis(basis_file(folder, seed), D, width)  # noqa: N806
        if U is None:
            records = steps // every
            message(
                f"lottery: seed {seed}'s baseline trajectory, {records} records every {every} "
                f"steps -> top {width} directions"
            )
            moves = trajectory(
                task,
                schedule.baseline.build(),
                steps=records * every,
                every=every,
                data=data,
                batch_size=schedule.batch_size,
                seed=seed,
                shuffle_seed=schedule.shuffle_seed,
            )
            U = principal_directions(moves, width)  # noqa: N806
            del moves
            if folder is not None:
                buf = io.BytesIO()
                np.savez(buf, projection_state=U)
                atomic_write_bytes(basis_file(folder, seed), buf.getvalue())
        memory[(LOTTERY, seed)] = U
        out[seed] = U
    return out


def read_basis(path: Path, D: int, width: int) -> np.ndarray:  # noqa: N803
    """The ``U`` of a kept basis file, refused unless it declares float32 (D, width)."""
    where = "lottery basis"
    with corrupt_is_value_error(path, where), zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if [i.filename for i in infos] != ["projection_state.npy"]:
            raise FileError(
                f"{where}: {path} must hold one array, projection_state; it holds "
                f"{[i.filename for i in infos]}"
            )
        if infos[0].compress_type not in ZIP_METHODS:
            raise FileError(f"{where}: {path}: only stored and deflated arrays are read")
        npy = npy_header(zf, "projection_state", path, where)
        if tuple(npy.shape) != (D, width) or np.dtype(npy.dtype) != np.float32:
            raise FileError(
                f"{where}: {path} holds {np.dtype(npy.dtype)}{tuple(npy.shape)}; this "
                f"measurement's basis is float32({D}, {width}) (another grid or model?)"
            )
        U = npy_data(zf, npy, path, where)  # noqa: N806
    if not np.isfinite(U).all():
        raise ValueError(f"{where}: {path} is not finite")
    return U
