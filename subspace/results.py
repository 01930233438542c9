"""The results of an intrinsic-dimension measurement: one record per member, on disk.

A measurement's folder holds ``results.json`` (schema version 2, below), ``results.csv``
(one row per member and per baseline seed) and ``timings.json`` (wall times, kept apart so
that a resumed run writes the same ``results.json``). All are written atomically.

``results.json``:

* ``schema_version``: 2.
* ``config``: what the members were trained with (``name``, ``D``, ``dims``, ``seeds``,
  ``projections``, ``steps``, ``batch_size``, ``metric``, ``higher_is_better``,
  ``threshold``, ``fraction``, ``shuffle_seed``, ``per_member_shuffle``, ``refine``, and
  the caller's ``meta``: e.g. the learning rates). A resumed run must have the same.
* ``complete``: false until every member is trained and d_int is read.
* ``baseline``: one record per seed of the full-parameter training.
* ``members``: one record per (projection, d, seed): ``width``, ``steps``, ``status``
  (``ok`` or ``diverged``) and every measured value; a diverged member has every value
  null, so it never reaches a threshold.
* ``baseline_metric``, ``threshold``, ``d_int`` (per projection: ``d``, ``interpolated``,
  ``ci90``, ``compression``, ``rounds``), once complete.
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
from subspace.intrinsic import mean_by_d

__all__ = ["SCHEMA_VERSION", "SweepResult", "load_results"]

SCHEMA_VERSION = 2
RESULTS, CSV, TIMINGS = "results.json", "results.csv", "timings.json"


class ResultsError(ValueError):
    """A results file that cannot be used (corrupt, another schema or config)."""


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """A measurement: its members, baseline and d_int per projection.

    Attributes:
      config: what the members were trained with (see the module docstring).
      members: one dict per (projection, d, seed).
      baseline: one dict per seed of the full-parameter baseline (empty without one).
      baseline_metric: mean baseline metric over seeds, or None.
      threshold: the value d_int is read at (None until complete).
      d_int: per projection, ``{"d", "interpolated", "ci90", "compression", "rounds"}``;
        ``d`` is None when no grid point reaches the threshold.
      complete: every member trained and d_int read.
    """

    config: dict
    members: list[dict]
    baseline: list[dict]
    baseline_metric: float | None = None
    threshold: float | None = None
    d_int: dict[str, dict] = dataclasses.field(default_factory=dict)
    complete: bool = False

    @property
    def metric(self) -> str:
        """Name of the metric d_int is read from."""
        return self.config["metric"]

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
            "schema_version": SCHEMA_VERSION,
            "config": self.config,
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
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION:
        raise ResultsError(f"{path} is not a results file of schema version {SCHEMA_VERSION}")
    if not isinstance(doc.get("config"), dict) or not isinstance(doc["config"].get("metric"), str):
        raise ResultsError(f"{path}: 'config' is missing or malformed")
    metric = doc["config"]["metric"]
    for name, keys in (("members", ("projection", "d", "seed")), ("baseline", ("seed",))):
        problem = _check_records(doc.get(name), (*keys, "status", metric))
        if problem:
            raise ResultsError(f"{path}: {name} {problem}")
    return SweepResult(
        config=doc["config"],
        members=doc["members"],
        baseline=doc["baseline"],
        baseline_metric=doc.get("baseline_metric"),
        threshold=doc.get("threshold"),
        d_int=doc.get("d_int") or {},
        complete=doc.get("complete") is True,
    )


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
    """Writes ``results.json`` and ``timings.json`` (and ``results.csv`` once complete)."""
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
