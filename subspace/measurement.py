"""A measurement described as data: what :func:`subspace.measure` trains and reads.

Four frozen objects, each checking its own rules where it is built:

* :class:`Grid` — which members: the values of d, the seeds, the projections, refinement;
* :class:`Schedule` — how each member trains: the optimiser of z and its estimator, the
  budget (steps or epochs, batch size, minibatch order), the full-parameter baseline's
  optimiser and estimator;
* :class:`Readout` — how d_int is read: the metric, its direction, the fraction of the
  baseline or an absolute threshold;
* :class:`Run` — where and how it runs: the output folder, resume or overwrite, the
  checkpoint interval, the memory budget (it changes no result, so results files do not
  record it).

:class:`Measurement` gathers the first three with a name and the caller's ``meta``; its
JSON (:func:`subspace.config.to_json`) is what ``results.json`` records as ``config``, and
:meth:`Measurement.from_json` rebuilds it from there. :func:`split_keywords` lets
``measure(task, dims=..., epochs=..., out=...)`` take any field as a keyword, forwarded
into these same objects.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from subspace import estimators
from subspace._checks import check_bool, check_group_size, check_int
from subspace.config import from_json, to_json
from subspace.estimators import Backprop, check_estimator
from subspace.optimizers import Optimizer
from subspace.readout import Readout
from subspace.sweep import MAX_SEED, projection_labels
from subspace.train import MAX_STEPS

__all__ = [
    "MAX_DIMS",
    "Grid",
    "Measurement",
    "Run",
    "Schedule",
    "split_keywords",
]

MAX_DIMS = 1000  # values of d in one measurement


def _fail(where: str, name: str, allowed: str, value: Any, exc: type = ValueError):
    raise exc(f"{where}: {name} must be {allowed}; got {value!r:.200}")


def _ints(
    where: str, name: str, values: Any, minimum: int, maximum: int | None = None
) -> tuple[int, ...]:
    """A non-empty sequence of at most MAX_DIMS integers in [minimum, maximum], sorted and
    unique."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        _fail(where, name, "a non-empty sequence of integers", values, TypeError)
    if len(values) == 0:
        _fail(where, name, "a non-empty sequence of integers", values)
    if len(values) > MAX_DIMS:
        raise ValueError(f"{where}: {name} has {len(values)} values; at most {MAX_DIMS}")
    checked = {
        check_int(v, f"{name}[{i}]", minimum, where=where, range_repr=True, maximum=maximum)
        for i, v in enumerate(values)
    }
    return tuple(sorted(checked))


@dataclasses.dataclass(frozen=True)
class Grid:
    """Which members a measurement trains: every (projection, d, seed).

    Attributes:
      dims: the values of d (each >= 1, at most :data:`MAX_DIMS` of them); sorted.
      seeds: seeds per d (0, 1, ...), or the seeds themselves, each in [0, 2^32 - 1] (a
        PRNG key keeps 32 bits of a seed: larger ones would repeat smaller ones). Member
        (d, seed) draws θ0, P and its training randomness from ``seed``.
      projections: "dense", "sparse", "fastfood", "kronqr", or several.
      refine: after the grid, narrow d_int with passes of ``REFINE_K`` values of d inside
        the bracket (:func:`subspace.search.search`).
    """

    dims: tuple[int, ...]
    seeds: Any = 3
    projections: Any = ("fastfood",)
    refine: bool = False

    def __post_init__(self) -> None:
        where = "Grid"
        set_ = object.__setattr__
        set_(self, "dims", _ints(where, "dims", self.dims, 1))
        seeds = self.seeds
        if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
            n = check_int(seeds, "seeds", 1, where=where, range_repr=True)
            if n > MAX_DIMS:
                raise ValueError(f"{where}: seeds asks for {n} seeds; at most {MAX_DIMS}")
            set_(self, "seeds", tuple(range(n)))
        else:
            set_(self, "seeds", _ints(where, "seeds", seeds, 0, MAX_SEED))
        projections = self.projections
        names = [projections] if isinstance(projections, str) else projections
        labels = projection_labels()
        if not isinstance(names, (Sequence, np.ndarray)) or not len(names):
            _fail(where, "projections", f"names in {labels}", projections)
        for p in names:
            if p not in labels:
                _fail(where, "projections", f"in {labels}", p)
        if len(set(names)) != len(names):
            _fail(where, "projections", "distinct projection names", projections)
        set_(self, "projections", tuple(names))
        check_bool(self.refine, "refine", where=where)


def _estimator(doc: Any) -> Any:
    return estimators.from_json(doc)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """How every member trains (and the full-parameter baseline, with the same trainer).

    Attributes:
      optimizer: the optimiser of z (:class:`subspace.Optimizer`).
      steps: optimisation steps per member (ES: generations); or ``epochs`` over the
        training set (with data). Exactly one of the two.
      epochs: epochs over the training set.
      batch_size: minibatch size, with data only (the last partial batch is dropped).
      baseline: the optimiser of θ in the full-parameter baseline (one run per seed);
        d_int is then read at ``fraction`` × its mean metric. None: no baseline (the
        readout needs an absolute ``threshold``).
      estimator: where z's gradient comes from (:mod:`subspace.estimators`); backprop.
      baseline_estimator: the baseline's; None: ``estimator`` (ES's σ is per parameter of
        θ there, so it usually differs).
      shuffle_seed: seed of the minibatch order.
      per_member_shuffle: each member its own minibatch order (default: shared).
    """

    optimizer: Optimizer
    steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    baseline: Optimizer | None = None
    estimator: Any = Backprop()
    baseline_estimator: Any = None
    shuffle_seed: int = 0
    per_member_shuffle: bool = False

    JSON_FIELDS = {
        "optimizer": Optimizer.from_json,
        "baseline": Optimizer.from_json,
        "estimator": _estimator,
        "baseline_estimator": _estimator,
    }

    def __post_init__(self) -> None:
        where = "Schedule"
        for name in ("optimizer", "baseline"):
            value = getattr(self, name)
            if not isinstance(value, Optimizer) and (name == "optimizer" or value is not None):
                _fail(
                    where,
                    name,
                    "a subspace.Optimizer (e.g. subspace.Optimizer('adam', 1e-3))"
                    + ("" if name == "optimizer" else " or None (no baseline)"),
                    value,
                    TypeError,
                )
        for name in ("steps", "epochs", "batch_size"):
            if getattr(self, name) is not None:
                check_int(
                    getattr(self, name), name, 1, where=where, range_repr=True, maximum=MAX_STEPS
                )
        if (self.steps is None) == (self.epochs is None):
            raise ValueError(f"{where}: give exactly one of steps and epochs")
        check_estimator(self.estimator, where)
        if self.baseline_estimator is not None:
            check_estimator(self.baseline_estimator, f"{where} (baseline_estimator)")
        check_int(self.shuffle_seed, "shuffle_seed", 0, where=where, range_repr=True)
        check_bool(self.per_member_shuffle, "per_member_shuffle", where=where)

    @property
    def baseline_estimator_or_default(self) -> Any:
        """The baseline's estimator: ``baseline_estimator``, else ``estimator``."""
        return self.estimator if self.baseline_estimator is None else self.baseline_estimator


@dataclasses.dataclass(frozen=True)
class Run:
    """Where and how a measurement runs; none of it changes a result.

    Attributes:
      out: folder for ``results.json``, ``results.csv``, ``timings.json`` and the
        checkpoints; None keeps everything in memory.
      resume: continue the measurement in ``out`` (same config only).
      overwrite: discard the results and checkpoints in ``out`` and start again. Without
        ``resume`` or ``overwrite``, results already in ``out`` are refused.
      checkpoint_every: save a group's in-flight state every this many steps (``out`` only).
      budget_bytes: memory per device for a group (default: half an accelerator's memory,
        a quarter of the host's).
      group_size: members trained together: ``"auto"`` (on a CPU the fastest of a few
        sizes, timed on the spot; on an accelerator the largest that fits), ``"memory"``
        (the largest that fits the budget), or a number (rounded up to the device count).
        A resumed run keeps the group sizes its results record.
    """

    out: str | None = None
    resume: bool = False
    overwrite: bool = False
    checkpoint_every: int = 500
    budget_bytes: int | None = None
    group_size: Any = "auto"

    def __post_init__(self) -> None:
        where = "Run"
        if self.out is not None:
            if not isinstance(self.out, (str, os.PathLike)):
                _fail(where, "out", "a folder (str or os.PathLike) or None", self.out, TypeError)
            object.__setattr__(self, "out", os.fspath(self.out))
            if not self.out.strip():
                _fail(where, "out", "a folder's path (not empty; '.' for this folder)", self.out)
        check_bool(self.resume, "resume", where=where)
        check_bool(self.overwrite, "overwrite", where=where)
        if self.resume and self.overwrite:
            raise ValueError(f"{where}: resume and overwrite exclude each other")
        if (self.resume or self.overwrite) and self.out is None:
            raise ValueError(f"{where}: resume and overwrite need an out folder")
        check_int(self.checkpoint_every, "checkpoint_every", 1, where=where, range_repr=True)
        if self.budget_bytes is not None:
            check_int(self.budget_bytes, "budget_bytes", 1, where=where, range_repr=True)
        check_group_size(self.group_size, where)


@dataclasses.dataclass(frozen=True)
class Measurement:
    """Everything that decides a measurement's result, but the task and the data.

    Attributes:
      grid: :class:`Grid`.
      schedule: :class:`Schedule`.
      readout: :class:`Readout`.
      name: a label, recorded.
      meta: JSON facts the other fields do not show (the model, the data set): recorded,
        and a resume must match them.

    Example:
      >>> m = subspace.Measurement(
      ...     grid=subspace.Grid(dims=[100, 200, 400], seeds=3),
      ...     schedule=subspace.Schedule(subspace.Optimizer("adam", 1e-2), epochs=2,
      ...                                batch_size=128, baseline=subspace.Optimizer("adam", 1e-3)),
      ... )
      >>> subspace.measure(task, m, data=data, run=subspace.Run(out="runs/mine"))
    """

    grid: Grid
    schedule: Schedule
    readout: Readout = Readout()
    name: str = "measurement"
    meta: Any = dataclasses.field(default_factory=dict)

    JSON_FIELDS = {
        "grid": lambda doc: from_json(Grid, doc),
        "schedule": lambda doc: from_json(Schedule, doc),
        "readout": lambda doc: from_json(Readout, doc),
    }

    def __post_init__(self) -> None:
        where = "Measurement"
        for name, cls in (("grid", Grid), ("schedule", Schedule), ("readout", Readout)):
            if not isinstance(getattr(self, name), cls):
                _fail(where, name, f"a subspace.{cls.__name__}", getattr(self, name), TypeError)
        if not isinstance(self.name, str):
            _fail(where, "name", "a string", self.name, TypeError)
        try:
            meta = json.loads(json.dumps(self.meta, allow_nan=False))
        except (TypeError, ValueError):
            _fail(where, "meta", "a JSON object", self.meta, TypeError)
        if not isinstance(meta, dict):
            _fail(where, "meta", "a JSON object (dict)", self.meta, TypeError)
        object.__setattr__(self, "meta", meta)
        if self.readout.threshold is None and self.schedule.baseline is None:
            raise ValueError(
                f"{where}: give a baseline optimizer (schedule.baseline: d_int is read at "
                "readout.fraction × its metric) or an absolute readout.threshold"
            )

    def to_json(self) -> dict:
        """The JSON ``results.json`` records as ``config`` (the name first)."""
        names = ["name", *(f.name for f in dataclasses.fields(self) if f.name != "name")]
        return {name: to_json(getattr(self, name)) for name in names}

    @classmethod
    def from_json(cls, doc: Any) -> Measurement:
        """The measurement a results file's ``config`` describes."""
        return from_json(cls, doc)


_OBJECTS = {"grid": Grid, "schedule": Schedule, "readout": Readout, "run": Run}
_OWN = ("name", "meta")


def split_keywords(
    measurement: Measurement | None, run: Run | None, keywords: Mapping[str, Any], where: str
) -> tuple[Measurement, Run]:
    """``measurement`` and ``run`` with ``keywords`` forwarded into the objects that own
    them (every field name is unique across :class:`Grid`, :class:`Schedule`,
    :class:`Readout`, :class:`Run` and :class:`Measurement`); built from the keywords alone
    when ``measurement`` is None."""
    if measurement is not None and not isinstance(measurement, Measurement):
        _fail(where, "measurement", "a subspace.Measurement or None", measurement, TypeError)
    if run is not None and not isinstance(run, Run):
        _fail(where, "run", "a subspace.Run or None", run, TypeError)
    owner = {f.name: obj for obj, cls in _OBJECTS.items() for f in dataclasses.fields(cls)}
    owner.update({name: "measurement" for name in _OWN})
    parts: dict[str, dict] = {obj: {} for obj in (*_OBJECTS, "measurement")}
    for name, value in keywords.items():
        if name not in owner:
            raise TypeError(
                f"{where}: unexpected keyword {name!r}; the keywords are the fields of "
                f"Grid, Schedule, Readout and Run: {sorted(owner)}"
            )
        parts[owner[name]][name] = value
    run = dataclasses.replace(run or Run(), **parts["run"])
    if measurement is not None:
        return dataclasses.replace(
            measurement,
            **parts["measurement"],
            **{
                obj: dataclasses.replace(getattr(measurement, obj), **parts[obj])
                for obj in ("grid", "schedule", "readout")
                if parts[obj]
            },
        ), run
    for obj, required in (("grid", "dims"), ("schedule", "optimizer")):
        if required not in parts[obj]:
            raise TypeError(
                f"{where}: {required} is required (or pass a subspace.Measurement); "
                f"got the keywords {sorted(keywords)}"
            )
    return Measurement(
        grid=Grid(**parts["grid"]),
        schedule=Schedule(**parts["schedule"]),
        readout=Readout(**parts["readout"]),
        **parts["measurement"],
    ), run
