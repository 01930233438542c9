"""A measurement's output folder: refused, resumed or overwritten, and written (private:
:func:`subspace.measure` uses it).

Every decision about earlier work in ``out`` is taken here, before any data is loaded or
program compiled: results or an in-flight checkpoint there are refused unless the run
resumes (same measurement only: its config, D and steps must be the file's) or
overwrites; a resumed run keeps the finished members and the wall times of their groups.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import jax

from subspace._networks import clear_networks
from subspace.results import (
    RESULTS,
    SCHEMA_VERSION,
    ResultsError,
    SweepError,
    SweepResult,
    load_results,
    read_timings,
    write_results,
)
from subspace.sweep import projection_labels

__all__ = [
    "CHECKPOINTS",
    "LOCK",
    "FolderLock",
    "Previous",
    "check_out",
    "clear_checkpoints",
    "group_checkpoints",
    "previous",
    "save",
]

CHECKPOINTS = "checkpoints"  # the subfolder of in-flight group checkpoints
LOCK = ".subspace.lock"  # the writer's lock file
_GROUP = re.compile(rf"(baseline|{'|'.join(projection_labels())})-[0-9a-f]{{16}}")


class Previous:
    """What an earlier run in the folder left: finished members, baseline seeds, timings."""

    def __init__(
        self,
        members=None,
        baseline=None,
        timings=None,
        warning=None,
        steps=None,
        prints=None,
        group_sizes=None,
        loops=None,
    ):
        self.members = members or []
        self.baseline = baseline or []
        self.timings = timings or {}
        self.warning = warning
        self.steps = steps  # per member in the earlier run (None: no earlier run)
        self.fingerprints = prints  # of its task and data (None: no earlier run)
        self.group_sizes = group_sizes or {}  # the groupings it chose (kept on resume)
        self.loops = loops or {}  # and their loop forms

    def check_fingerprints(self, fingerprints: dict, out: Path) -> None:
        """A resumed run trains the same model on the same data as the earlier one."""
        if self.steps is None:
            return
        found = self.fingerprints or {}
        for what, name in (
            ("task", "the task (its model or initial parameters)"),
            ("data", "the data"),
        ):
            if found.get(what) != fingerprints[what]:
                raise SweepError(
                    f"{out / RESULTS} was measured with other {what}: {name} differ from "
                    "the ones its members were trained with (or were made by another JAX "
                    "version); choose another output folder, or overwrite to discard it"
                )

    def check_steps(self, steps: int, out: Path) -> None:
        """A resumed run's members must train as many steps as the earlier ones (the same
        epochs over data of another size would not)."""
        if self.steps is not None and self.steps != steps:
            raise SweepError(
                f"{out / RESULTS} was written with {self.steps} steps per member; this run "
                f"has {steps} (the same epochs over data of another size?); choose another "
                "output folder, or overwrite to discard it"
            )


def check_out(out: Path) -> None:
    """Refuses an output folder that cannot be written, before any work: a file, under a
    file, or where no file can be made (a file is made and removed there to find out:
    permissions alone do not say, e.g. for root or in /proc)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"measure: out {out} is a file, not a folder")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"measure: out {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"measure: out {out}: {parent} is not writable")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise ValueError(
            f"measure: out {out}: no file can be written in {parent} ({e.strerror or e})"
        ) from None


def previous(
    out: Path | None,
    *,
    resume: bool,
    overwrite: bool,
    config: dict,
    D: int,  # noqa: N803
) -> Previous:
    """The finished work of an earlier run in ``out`` to keep (``resume``), or none. The
    steps per member follow from the data's size, read later: see
    :meth:`Previous.check_steps`.

    Raises:
      SweepError: results or a checkpoint in ``out`` without ``resume``/``overwrite``, or
        results of another measurement (the message names the fields that differ).
    """
    if out is None:
        return Previous()
    if overwrite:
        clear_checkpoints(out)
        clear_networks(out)
        return Previous()
    results = out / RESULTS
    in_flight = bool(group_checkpoints(out))
    if not resume and (results.exists() or in_flight):
        what = "results" if results.exists() else "an unfinished group's checkpoint"
        raise SweepError(
            f"{out} already holds {what}: resume continues that run, overwrite "
            "discards it and starts again (or choose another output folder)"
        )
    if not results.exists():
        return Previous()
    fix = "choose another output folder, or overwrite to discard it"
    try:
        found = load_results(out)
    except ResultsError as e:
        raise SweepError(f"{e}; {fix}") from None
    if found.schema_version != SCHEMA_VERSION:
        raise SweepError(
            f"{out / RESULTS} was written by an older version (results schema "
            f"{found.schema_version}), whose config cannot be compared with this one; {fix}"
        )
    mine = {"config": config, "D": D}
    theirs = {"config": found.config, "D": found.D}
    if mine != theirs:
        raise SweepError(
            f"{out / RESULTS} was written with another config (differs in "
            f"{', '.join(_differences(theirs, mine))}); {fix}"
        )
    timings, warning = read_timings(out)
    return Previous(
        found.members,
        found.baseline,
        timings,
        warning,
        found.steps,
        found.fingerprints,
        found.group_sizes,
        found.loops,
    )


def _differences(a: object, b: object, path: str = "") -> list[str]:
    """The dotted paths where two JSON documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [
            p
            for k in keys
            if a.get(k) != b.get(k)
            for p in _differences(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        ]
    return [path or "the whole document"]


def save(out: Path | None, result: SweepResult, timings: dict, run: dict) -> None:
    """Writes the results (process 0 only), with the environment and ``run`` (the run's
    settings) into ``timings.json``."""
    if out is None or jax.process_index() != 0:
        return
    environment = {"backend": jax.default_backend(), "devices": len(jax.devices()), "run": run}
    write_results(out, result, timings, environment)


def group_checkpoints(out: Path) -> list[Path]:
    """The groups' checkpoint folders in ``out`` (named ``KIND-DIGEST`` by the library;
    anything else there is the user's)."""
    folder = out / CHECKPOINTS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and _GROUP.fullmatch(p.name))


def clear_checkpoints(out: Path | None) -> None:
    """Removes the groups' checkpoints (every group is done, or the run starts again),
    including one left half-deleted by a kill during clean-up; the folder goes only if
    nothing else is in it (a file or folder of the user's stays)."""
    if out is None or jax.process_index() != 0:
        return
    for group in group_checkpoints(out):
        shutil.rmtree(group, ignore_errors=True)
    with contextlib.suppress(OSError):  # not empty, or not there: left as it is
        (out / CHECKPOINTS).rmdir()


class FolderLock:
    """One writer per output folder: ``out/.subspace.lock`` holds the writer's process id,
    host and start time, made with ``O_EXCL`` (two writers cannot both make it). A lock
    whose process is gone (same host) is stale and taken over; one held by a live
    process, or by another host, refuses the second writer. Released on exit from the
    ``with`` block, whatever ended it. Process 0 of a multi-process run holds it."""

    def __init__(self, out: Path | None):
        self.path = None if out is None or jax.process_index() != 0 else out / LOCK
        self.taken_over: dict | None = None

    def __enter__(self) -> FolderLock:
        if self.path is None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and not _stale(holder):
                    raise SweepError(
                        f"{self.path.parent} is being written by another measurement (process "
                        f"{holder.get('pid')} on {holder.get('host')}, since "
                        f"{time.ctime(holder.get('started', 0))}); wait for it to end, or "
                        f"delete {self.path} if that process is gone"
                    ) from None
                self.taken_over = holder or {}
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            return self
        raise SweepError(f"{self.path} could not be taken: another writer is starting there")

    def _holder(self) -> dict | None:
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None  # unreadable (half written by a crash): stale
        return holder if isinstance(holder, dict) else None

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _stale(holder: dict) -> bool:
    """A lock of this host whose process no longer runs."""
    if holder.get("host") != socket.gethostname():
        return False  # another host's process: it cannot be checked from here
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, TypeError, OverflowError):
        return False
    return False
