"""The results of an intrinsic-dimension measurement: one record per member, on disk.

A measurement's folder holds ``results.json`` (schema version 3, below), ``results.csv``
(one row per member and per baseline seed) and ``timings.json`` (wall times and how the
run ran, kept apart so that a resumed run writes the same ``results.json``). All are
written atomically.

``results.json``:

* ``schema_version``: 3.
* ``config``: the whole :class:`subspace.Measurement` (``name``, ``grid``, ``schedule``,
  ``readout``, ``meta``) as JSON: :attr:`SweepResult.measurement` rebuilds it. A resumed
  run must have the same.
* ``D`` (parameters of the model) and ``steps`` (per member, resolved from epochs).
* ``group_sizes`` and ``loops``: the members per group and the loop form each kind of
  group trained with (by ``kind/width``), which a resumed run keeps.
* ``complete``: false until every member is trained and d_int is read.
* ``baseline``: one record per seed of the full-parameter training.
* ``members``: one record per (projection, d, seed): ``width``, ``steps``, ``status``
  (``ok`` or ``diverged``) and every measured value; a diverged member has every value
  null, so it never reaches a threshold.
* ``baseline_metric``, ``threshold``, ``d_int`` (per projection: ``d``, ``interpolated``,
  ``ci90``, ``compression``, ``rounds``), once complete.

Files of schema version 2 (subspace 0.4, whose ``config`` was a flat dict with ``D`` and
``steps`` inside) still load: :func:`load_results` gives their records with that config
as it is (``SweepResult.schema_version`` 2); they cannot be resumed or rebuilt.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from subspace._io import atomic_write_bytes
from subspace._lottery_bases import LOTTERY
from subspace._networks import TrainedMember
from subspace.intrinsic import mean_by_d
from subspace.loop import LOOPS

__all__ = [
    "SCHEMA_VERSION",
    "ResultsError",
    "SweepError",
    "SweepResult",
    "TrainedMember",
    "load_results",
]

SCHEMA_VERSION = 3
READABLE = (2, 3)  # schema versions load_results reads
RESULTS, CSV, TIMINGS = "results.json", "results.csv", "timings.json"


class ResultsError(ValueError):
    """A results file that cannot be used (corrupt, another schema or config)."""


class SweepError(ValueError):
    """A measurement that cannot go on: results in the way, another config, a diverged
    baseline. The message says what to do."""


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """A measurement: its members, baseline and d_int per projection.

    Attributes:
      config: the :class:`subspace.Measurement` as JSON (see the module docstring; for a
        schema-2 file its flat config).
      members: one dict per (projection, d, seed).
      baseline: one dict per seed of the full-parameter baseline (empty without one).
      baseline_metric: mean baseline metric over seeds, or None.
      threshold: the value d_int is read at (None until complete).
      d_int: per projection, ``{"d", "interpolated", "ci90", "compression", "rounds"}``;
        ``d`` is None when no grid point reaches the threshold.
      complete: every member trained and d_int read.
      D: the model's number of parameters.
      steps: training steps per member.
      fingerprints: ``{"task": ..., "data": ...}``, hashes of θ0 (first seed) and of the
        data (None without data), which a resume compares; None for schema 2.
      group_sizes: members per group, by ``kind/width`` (``fastfood/1500``,
        ``baseline/199210``): a resumed run keeps them (another group size rounds
        differently); empty for schema 2.
      loops: the loop form of those groups (:data:`subspace.loop.LOOPS`), by the same
        keys: a resumed run keeps it (the forms round differently); a group it does not
        name ran as ``"scan"`` (the only form before there were two).
      schema_version: of the file it was read from (3 for a new result).
    """

    config: dict
    members: list[dict]
    baseline: list[dict]
    baseline_metric: float | None = None
    threshold: float | None = None
    d_int: dict[str, dict] = dataclasses.field(default_factory=dict)
    complete: bool = False
    D: int | None = None
    steps: int | None = None
    fingerprints: dict | None = None
    group_sizes: dict = dataclasses.field(default_factory=dict)
    loops: dict = dataclasses.field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    folder: Path | None = dataclasses.field(default=None, compare=False, repr=False)
    networks: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def metric(self) -> str:
        """Name of the metric d_int is read from."""
        if self.schema_version == 2:
            return self.config["metric"]
        return self.config["readout"]["metric"]

    def member(self, task: Any, d: int, seed: int, projection: str | None = None) -> Any:
        """Member (d, seed) as trained, rebuilt: a :class:`subspace.results.TrainedMember`
        with its ``Subspace`` (θ0 and P redrawn from its seed), z and model state exactly as
        measured, ``.params`` = θ0 + P z and ``.save_compressed(path)``.

        Args:
          task: the task the measurement trained (it rebuilds θ0; the results hold no model).
          d, seed: the member.
          projection: needed when the result has several.
        """
        from subspace._networks import read_network, trained_member

        where = "SweepResult.member"
        projections = sorted({r["projection"] for r in self.members})
        if projection is None:
            if len(projections) != 1:
                raise ValueError(f"{where}: give projection, one of {projections}")
            projection = projections[0]
        found = [
            r for r in self.members if (r["projection"], r["d"], r["seed"]) == (projection, d, seed)
        ]
        if not found:
            raise ValueError(
                f"{where}: no member ({projection}, d={d}, seed={seed}); the result has "
                f"d in {sorted({r['d'] for r in self.members})}, seeds "
                f"{sorted({r['seed'] for r in self.members})}"
            )
        arrays = read_network(self.folder, self.networks, found[0])
        if projection == LOTTERY:  # its P: the seed's basis, kept beside the networks
            arrays = {**arrays, "basis": self._basis(seed, where)}
        return trained_member(task, found[0], arrays, where)

    def _basis(self, seed: int, where: str) -> Any:
        """The kept lottery basis of ``seed`` (D × the grid's largest d)."""
        from subspace._lottery_bases import basis_file, read_basis

        if (LOTTERY, seed) in self.networks:
            return self.networks[(LOTTERY, seed)]
        path = None if self.folder is None else basis_file(self.folder, seed)
        if path is None or not path.is_file():
            raise FileNotFoundError(
                f"{where}: the lottery basis of seed {seed} is not kept here "
                f"({path or 'no out folder'}): measure again with resume=True (--resume), "
                "which recomputes it from the same seed and config"
            )
        return read_basis(path, self.D, max(self.config["grid"]["dims"]))

    def summary(self) -> str:
        """A few lines: baseline, threshold, the mean metric at every d, d_int (or the bound
        it is at an end of the grid) per projection (:func:`subspace.report.summary`)."""
        from subspace.report import summary

        return summary(self)

    def plot(self, path: str | os.PathLike | None = None, *, title: str | None = None) -> Any:
        """The metric against d with the baseline, threshold and d_int; the matplotlib
        Figure, also written to ``path`` as a PNG if given (:func:`subspace.report.plot`;
        ``pip install "subspace-intrinsic[plot]"``)."""
        from subspace.report import plot

        return plot(self, path, title=title)

    def baseline_network(self, task: Any, seed: int) -> tuple[Any, Any]:
        """``(params, model_state)`` of the full-parameter baseline of ``seed``, as trained."""
        from subspace._networks import baseline_network, read_network

        where = "SweepResult.baseline_network"
        found = [r for r in self.baseline if r["seed"] == seed]
        if not found:
            seeds = sorted(r["seed"] for r in self.baseline)
            raise ValueError(f"{where}: no baseline of seed {seed}; the result has {seeds}")
        return baseline_network(
            task, found[0], read_network(self.folder, self.networks, found[0]), where
        )

    @property
    def measurement(self) -> Any:
        """The :class:`subspace.Measurement` these results were measured with (rebuilt
        from ``config``): ``subspace.measure(task, result.measurement, data=...)`` repeats
        it."""
        if self.schema_version != SCHEMA_VERSION:
            raise ResultsError(
                f"results of schema version {self.schema_version} (subspace 0.4) record no "
                "whole measurement; it cannot be rebuilt from them"
            )
        from subspace.measurement import Measurement  # measurement imports this module's users

        return Measurement.from_json(self.config)

    def values(self, projection: str) -> tuple[list[int], list[float]]:
        """(d, metric) of every member of ``projection``; NaN for a diverged member."""
        rows = [r for r in self.members if r["projection"] == projection]
        return [r["d"] for r in rows], [_value(r, self.metric) for r in rows]

    def means(self, projection: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted distinct d and the mean metric over seeds at each (NaN if one diverged)."""
        ds, values = self.values(projection)
        if not ds:
            raise ValueError(
                f"SweepResult.means: no members of projection {projection!r}; the result "
                f"has {sorted({r['projection'] for r in self.members})}"
            )
        return mean_by_d(ds, values)

    def to_json(self) -> dict:
        """The ``results.json`` document."""
        document = {
            "schema_version": self.schema_version,
            "config": self.config,
            **(
                {
                    "D": self.D,
                    "steps": self.steps,
                    "fingerprints": self.fingerprints,
                    "group_sizes": self.group_sizes,
                    "loops": self.loops,
                }
                if self.schema_version > 2
                else {}
            ),
            "complete": self.complete,
            "baseline": self.baseline,
            "members": sorted(self.members, key=lambda r: (r["projection"], r["d"], r["seed"])),
        }
        if self.complete:
            document.update(
                baseline_metric=self.baseline_metric, threshold=self.threshold, d_int=self.d_int
            )
        return document

    @classmethod
    def load(cls, folder: str | os.PathLike) -> SweepResult:
        """Reads ``folder/results.json`` (written by :func:`subspace.measure`)."""
        return load_results(folder)


def _value(record: dict, metric: str) -> float:
    v = record.get(metric)
    return np.nan if v is None else float(v)


def load_results(folder: str | os.PathLike) -> SweepResult:
    """The :class:`SweepResult` in ``folder``; a corrupt or foreign file raises
    ``ValueError`` naming it and what is wrong."""
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"load_results: folder must be a str or os.PathLike; got {folder!r}")
    path = Path(folder) / RESULTS
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"load_results: no {RESULTS} in {folder}") from None
    except (OSError, ValueError) as e:  # UnicodeDecodeError and JSONDecodeError included
        raise ResultsError(f"{path} is not valid JSON ({e})") from None
    version = doc.get("schema_version") if isinstance(doc, dict) else None
    if version not in READABLE or isinstance(version, bool):
        raise ResultsError(
            f"{path} is not a results file of schema version {' or '.join(map(str, READABLE))}"
        )
    config = doc.get("config")
    readout = config.get("readout") if isinstance(config, dict) and version > 2 else config
    if not isinstance(readout, dict) or not isinstance(readout.get("metric"), str):
        raise ResultsError(f"{path}: 'config' is missing or malformed")
    metric = readout["metric"]
    sizes = {"D": config.get("D"), "steps": config.get("steps")} if version == 2 else doc
    for name in ("D", "steps"):
        value = sizes.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ResultsError(f"{path}: '{name}' is missing or malformed")
    for name, keys in (("members", ("projection", "d", "seed")), ("baseline", ("seed",))):
        problem = _check_records(doc.get(name), (*keys, "status", metric))
        if problem:
            raise ResultsError(f"{path}: {name} {problem}")

    def sizes_or_loops(name: str) -> dict:
        found = doc.get(name) if version > 2 else None
        if found is None:
            return {}
        good = (lambda v: v in LOOPS) if name == "loops" else _positive_int
        if not isinstance(found, dict) or not all(good(v) for v in found.values()):
            allowed = f"one of {LOOPS}" if name == "loops" else "a positive integer"
            raise ResultsError(f"{path}: '{name}' must map each group's kind/width to {allowed}")
        return found

    return SweepResult(
        config=config,
        members=doc["members"],
        baseline=doc["baseline"],
        baseline_metric=doc.get("baseline_metric"),
        threshold=doc.get("threshold"),
        d_int=doc.get("d_int") or {},
        complete=doc.get("complete") is True,
        D=sizes["D"],
        steps=sizes["steps"],
        fingerprints=doc.get("fingerprints") if version > 2 else None,
        group_sizes=sizes_or_loops("group_sizes"),
        loops=sizes_or_loops("loops"),
        schema_version=version,
        folder=Path(folder),
    )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_records(records: Any, keys: Sequence[str]) -> str | None:
    """What is wrong with a list of result records read from a file, or None."""
    if not isinstance(records, list):
        return "is not a list"
    for i, r in enumerate(records):
        missing = [k for k in keys if not isinstance(r, dict) or k not in r]
        if missing:
            return f"record {i} lacks {', '.join(missing)}"
        ints = [r[k] for k in ("d", "seed") if k in keys]
        if r["status"] not in ("ok", "diverged") or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in ints
        ):
            return f"record {i} is malformed: {r!r}"
    return None


def read_timings(folder: Path) -> tuple[dict, str | None]:
    """Wall times of finished groups and a warning if the file was unreadable (they are
    cosmetic: a bad file never blocks a resume)."""
    path = folder / TIMINGS
    if not path.exists():
        return {}, None
    try:
        timings = json.loads(path.read_text()).get("members", {})
        if not isinstance(timings, dict):
            raise ValueError("'members' is not an object")
        return timings, None
    except (OSError, ValueError, AttributeError) as e:
        return {}, f"{path} is unreadable ({' '.join(str(e).split())}); its wall times are dropped"


def write_results(folder: Path, result: SweepResult, timings: dict, environment: dict) -> None:
    """Writes ``results.json`` and ``timings.json`` (and ``results.csv`` once complete);
    ``environment`` (backend, devices, the run's settings) goes into ``timings.json``."""
    _write_json(folder / RESULTS, result.to_json())
    _write_json(folder / TIMINGS, {**environment, "members": timings})
    if result.complete:
        write_csv(folder / CSV, result.members, result.baseline, timings)


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def write_csv(path: Path, members: list[dict], baseline: list[dict], timings: dict) -> None:
    """``results.csv``: one row per member (and per baseline seed, projection "baseline")."""
    rows = [{"projection": "baseline", **r} for r in baseline] + sorted(
        members, key=lambda r: (r["projection"], r["d"], r["seed"])
    )
    fields = ["projection", "d", "seed", "width", "steps", "status"]
    fields += sorted({k for r in rows for k in r} - set(fields)) + ["wall_time_s"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "wall_time_s": timings.get(timing_key(r))})
    atomic_write_bytes(path, buf.getvalue().encode())


def timing_key(record: dict) -> str:
    """``projection/d/seed`` of a member, ``baseline/-/seed`` of a baseline seed."""
    if "d" in record:
        return f"{record['projection']}/{record['d']}/{record['seed']}"
    return f"baseline/-/{record['seed']}"
