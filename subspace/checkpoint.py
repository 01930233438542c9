"""In-flight checkpoints of a training group with orbax, so a long group survives a kill.

A checkpoint holds what cannot be recomputed: every member's ``TrainState`` (z, optimiser
and model state, step, key), the divergence flags, the last losses and the number of
steps done, which is also the position in the data (minibatch order is a pure function
of the step). θ0 and P are not stored: they are redrawn from the members' seeds. Orbax
writes each checkpoint to a temporary folder and renames it, so a kill during a save
leaves the previous checkpoint intact; only the newest is kept.

Each checkpoint also records the wall seconds its group had trained to reach it
(``seconds.json``, counted from the :class:`GroupCheckpoint`'s creation plus what the
checkpoint it continued from recorded): a group resumed after a kill reports the time of
all its kept work (:meth:`GroupCheckpoint.seconds_before`), not only the part after the
resume. The steps after the last checkpoint are redone, so their first try is not counted.

A checkpoint can carry an ``identity`` (JSON: e.g. the run's config and the group's
members), written beside it as ``identity.json``; :meth:`GroupCheckpoint.restore` refuses a
checkpoint whose identity differs (one copied in from another group or run) and a corrupt
one, with a :class:`CheckpointError` that names the folder to delete.

orbax is imported when a :class:`GroupCheckpoint` is created, not with this module, so
``import subspace`` does not need it (``pip install "subspace-intrinsic[checkpoint]"``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import jax

from subspace._checks import check_float, check_int, is_typed_key
from subspace._io import atomic_write_bytes

__all__ = ["CheckpointError", "GroupCheckpoint"]

_PREFIX = "step_"
_IDENTITY = "identity.json"
_SECONDS = "seconds.json"
_SECONDS_MAX_BYTES = 4096


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: corrupt, or written for another group."""


def _orbax() -> Any:
    """``orbax.checkpoint``, imported on first use (it is an optional dependency)."""
    try:
        import orbax.checkpoint as ocp
    except ImportError as e:
        raise ImportError(
            "GroupCheckpoint needs orbax-checkpoint, which is not installed; install it with "
            'pip install "subspace-intrinsic[checkpoint]" (or pip install orbax-checkpoint)'
        ) from e
    return ocp


def _to_savable(tree: Any) -> Any:
    # orbax stores arrays, not typed PRNG keys: keep their raw uint32 words.
    return jax.tree_util.tree_map(lambda x: jax.random.key_data(x) if is_typed_key(x) else x, tree)


def _from_savable(tree: Any, like: Any) -> Any:
    def back(x, ref):
        return (
            jax.random.wrap_key_data(x, impl=jax.random.key_impl(ref)) if is_typed_key(ref) else x
        )

    return jax.tree_util.tree_map(back, tree, like)


class GroupCheckpoint:
    """The newest checkpoint of one group, in ``directory``."""

    def __init__(self, directory: str | Path, *, identity: Any = None):
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(
                f"GroupCheckpoint: directory must be a str or os.PathLike; got {directory!r}"
            )
        try:
            self._identity = None if identity is None else json.dumps(identity, sort_keys=True)
        except (TypeError, ValueError) as e:
            raise TypeError(f"GroupCheckpoint: identity must be JSON-serialisable; {e}") from None
        self.directory = Path(directory).resolve()
        self._checkpointer = _orbax().StandardCheckpointer()
        self._started = time.perf_counter()
        self._before = self.seconds_before()

    def seconds_before(self) -> float:
        """The wall seconds recorded with the newest checkpoint here (the time its group
        had trained to reach it, over every earlier resume); 0.0 when there is none, or
        when its record is missing, unreadable or for another step (as from a version
        that kept none: the time before the resume is then not known)."""
        step = self.latest_step()
        try:
            path = self.directory / _SECONDS
            if step is None or path.stat().st_size > _SECONDS_MAX_BYTES:
                return 0.0
            doc = json.loads(path.read_bytes())
            if not isinstance(doc, dict) or doc.get("step") != step:
                return 0.0
            return check_float(doc.get("seconds"), "seconds", positive=False)
        except (OSError, ValueError, TypeError):
            return 0.0

    def elapsed(self) -> float:
        """Wall seconds of this group's kept work so far: those recorded with the
        checkpoint it continued from, plus the time since this object was created."""
        return self._before + time.perf_counter() - self._started

    def _check_identity(self) -> None:
        if self._identity is None:
            return
        path = self.directory / _IDENTITY
        try:
            found = json.dumps(json.loads(path.read_text()), sort_keys=True)
        except (OSError, ValueError):
            found = None
        if found != self._identity:
            raise CheckpointError(
                f"the checkpoint in {self.directory} was not written for this group "
                f"({_IDENTITY} {'is missing or corrupt' if found is None else 'differs'}); "
                "delete that folder to start the group again"
            )

    def _steps(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        return sorted(
            int(p.name[len(_PREFIX) :])
            for p in self.directory.iterdir()
            if p.name.startswith(_PREFIX) and p.name[len(_PREFIX) :].isdigit()
        )

    def latest_step(self) -> int | None:
        """The steps done in the newest checkpoint here, or None (read from the folder
        names only: nothing is restored)."""
        steps = self._steps()
        return steps[-1] if steps else None

    def save(self, step: int, state: Any) -> None:
        """Saves ``state`` (a pytree of arrays, typed keys allowed) as done after ``step``."""
        step = check_int(
            step, "step", 0, where="GroupCheckpoint.save", what="an integer >= 0 (steps done)"
        )
        # Every process calls save (orbax coordinates the processes' shards); the files
        # that are not arrays are written and removed by process 0 alone.
        primary = jax.process_index() == 0
        if primary:
            self.directory.mkdir(parents=True, exist_ok=True)
        if primary and self._identity is not None:
            atomic_write_bytes(self.directory / _IDENTITY, self._identity.encode())
        self._checkpointer.save(self.directory / f"{_PREFIX}{step}", _to_savable(state))
        self._checkpointer.wait_until_finished()
        if primary:
            record = {"step": step, "seconds": round(self.elapsed(), 3)}
            atomic_write_bytes(self.directory / _SECONDS, json.dumps(record).encode())
        for old in self._steps() if primary else ():
            if old != step:
                shutil.rmtree(self.directory / f"{_PREFIX}{old}", ignore_errors=True)

    def restore(self, like: Any) -> tuple[int, Any] | None:
        """``(step, state)`` of the newest checkpoint, shaped and sharded like ``like``;
        None if there is none."""
        steps = self._steps()
        if not steps:
            return None
        self._check_identity()
        folder = self.directory / f"{_PREFIX}{steps[-1]}"
        to_struct = _orbax().utils.to_shape_dtype_struct
        target = jax.tree_util.tree_map(to_struct, _to_savable(like))
        try:
            state = self._checkpointer.restore(folder, target)
        except Exception as e:  # orbax/tensorstore raise many kinds; all mean "unreadable"
            raise CheckpointError(
                f"the checkpoint {folder} is corrupt or unreadable ({type(e).__name__}); "
                f"delete {self.directory} to start the group again"
            ) from e
        return steps[-1], _from_savable(state, like)

    def clear(self) -> None:
        """Removes the checkpoints (the group is finished and its results are saved)."""
        shutil.rmtree(self.directory, ignore_errors=True)
