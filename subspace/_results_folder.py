"""A measurement's output folder: refused, resumed or overwritten, and written (private:
:func:`subspace.measure` uses it).

Every decision about earlier work in ``out`` is taken here, before any data is loaded or
program compiled: results or an in-flight checkpoint there are refused unless the run
resumes (same measurement only: its config, D and steps must be the file's) or
overwrites; a resumed run keeps the finished members and the wall times of their groups.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import jax

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

__all__ = [
    "CHECKPOINTS",
    "Previous",
    "check_out",
    "clear_checkpoints",
    "previous",
    "save",
]

CHECKPOINTS = "checkpoints"  # the subfolder of in-flight group checkpoints


class Previous:
    """What an earlier run in the folder left: finished members, baseline seeds, timings."""

    def __init__(self, members=None, baseline=None, timings=None, warning=None, steps=None):
        self.members = members or []
        self.baseline = baseline or []
        self.timings = timings or {}
        self.warning = warning
        self.steps = steps  # per member in the earlier run (None: no earlier run)

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
    """Refuses an output folder that cannot be written, before any work."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"measure: out {out} is a file, not a folder")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"measure: out {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"measure: out {out}: {parent} is not writable")


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
    checkpoints = out / CHECKPOINTS
    if overwrite:
        if jax.process_index() == 0:
            shutil.rmtree(checkpoints, ignore_errors=True)
        return Previous()
    results = out / RESULTS
    in_flight = checkpoints.is_dir() and any(checkpoints.iterdir())
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
    return Previous(found.members, found.baseline, timings, warning, found.steps)


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


def clear_checkpoints(out: Path | None) -> None:
    """Every group is done: no checkpoint is needed any more, including one left behind
    by a run killed while it was cleaning up."""
    if out is not None and jax.process_index() == 0:
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
