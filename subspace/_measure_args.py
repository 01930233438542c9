"""The arguments of :func:`subspace.measure`, checked and normalised before any work."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any

import optax

from subspace._checks import check_bool, check_int
from subspace.es import ES, ESTask
from subspace.loop import Data
from subspace.progress import Progress
from subspace.projections import PROJECTIONS
from subspace.sweep import Task

MAX_DIMS = 1000  # values of d in one measurement


@dataclasses.dataclass(frozen=True)
class MeasureArgs:
    dims: list[int]
    optimizer: optax.GradientTransformation
    seeds: list[int]
    data: Any
    steps: int | None
    epochs: int | None
    batch_size: int | None
    projections: list[str]
    baseline: optax.GradientTransformation | None
    metric: str
    metric_fn: Callable | None
    higher_is_better: bool
    fraction: float
    threshold: float | None
    out: str | os.PathLike | None
    resume: bool
    overwrite: bool
    refine: bool
    name: str
    meta: dict
    shuffle_seed: int
    per_member_shuffle: bool
    budget_bytes: int | None
    checkpoint_every: int
    progress: bool | Progress
    es: ES | None
    baseline_es: ES | None


def _fail(name: str, allowed: str, value: Any, exc: type = ValueError):
    raise exc(f"measure: {name} must be {allowed}; got {value!r}")


def _int(name: str, value: Any, minimum: int, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    return check_int(value, name, minimum, where="measure", range_repr=True)


def _bool(name: str, value: Any) -> bool:
    return check_bool(value, name, where="measure")


def _optimizer(name: str, value: Any) -> None:
    if not isinstance(value, optax.GradientTransformation):
        _fail(name, "an optax.GradientTransformation (e.g. optax.adam(1e-3))", value, TypeError)


def _ints(name: str, values: Any) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        _fail(name, "a non-empty sequence of integers", values, TypeError)
    if len(values) > MAX_DIMS:
        raise ValueError(f"measure: {name} has {len(values)} values; at most {MAX_DIMS}")
    return sorted(
        {_int(f"{name}[{i}]", v, 0 if name == "seeds" else 1) for i, v in enumerate(values)}
    )


def check_measure_arguments(task: Any, **kw: Any) -> MeasureArgs:
    """Every argument of :func:`subspace.measure`, checked; the normalised set."""
    if not isinstance(task, (Task, ESTask)):
        _fail(
            "task",
            "a subspace.Task (see subspace.linen_task / nnx_task) or a subspace.ESTask "
            "(see subspace.rl)",
            task,
            TypeError,
        )
    es, baseline_es = _check_es(task, kw)
    dims = _ints("dims", kw["dims"])
    _optimizer("optimizer", kw["optimizer"])
    seeds = kw["seeds"]
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        seeds = list(range(_int("seeds", seeds, 1)))
    else:
        seeds = _ints("seeds", seeds)
    data = kw["data"]
    if data is not None and not isinstance(data, Data) and not callable(data):
        _fail("data", "a subspace.Data, a function returning one, or None", data, TypeError)
    steps = _int("steps", kw["steps"], 1, optional=True)
    epochs = _int("epochs", kw["epochs"], 1, optional=True)
    if (steps is None) == (epochs is None):
        raise ValueError("measure: give exactly one of steps and epochs")
    if epochs is not None and data is None:
        raise ValueError("measure: epochs needs data; a full-batch problem takes steps")
    batch_size = _int("batch_size", kw["batch_size"], 1, optional=True)
    if (batch_size is None) != (data is None):
        raise ValueError("measure: batch_size is required with data, and only with data")
    projections = kw["projections"]
    projections = [projections] if isinstance(projections, str) else list(projections)
    for p in projections:
        if p not in PROJECTIONS:
            _fail("projections", f"in {sorted(PROJECTIONS)}", p)
    if not projections or len(set(projections)) != len(projections):
        _fail("projections", "distinct projection names", kw["projections"])
    if kw["baseline"] is not None:
        _optimizer("baseline", kw["baseline"])
    if not isinstance(kw["metric"], str) or not kw["metric"]:
        _fail("metric", "the name of a metric (e.g. 'test_accuracy')", kw["metric"], TypeError)
    if kw["metric_fn"] is not None and not callable(kw["metric_fn"]):
        _fail("metric_fn", "callable or None", kw["metric_fn"], TypeError)
    fraction = kw["fraction"]
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        _fail("fraction", "a number in (0, 1]", fraction, TypeError)
    if not 0 < fraction <= 1:
        _fail("fraction", "a number in (0, 1]", fraction)
    threshold = kw["threshold"]
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not math.isfinite(threshold)
    ):
        _fail("threshold", "a finite number or None", threshold, TypeError)
    if threshold is None and kw["baseline"] is None:
        raise ValueError(
            "measure: give a baseline optimizer (d_int is read at fraction × its metric) "
            "or an absolute threshold"
        )
    out = kw["out"]
    if out is not None and not isinstance(out, (str, os.PathLike)):
        _fail("out", "a folder (str or os.PathLike) or None", out, TypeError)
    flags = {k: _bool(k, kw[k]) for k in ("resume", "overwrite", "refine", "per_member_shuffle")}
    flags["higher_is_better"] = _bool("higher_is_better", kw["higher_is_better"])
    if flags["resume"] and flags["overwrite"]:
        raise ValueError("measure: resume and overwrite exclude each other")
    if (flags["resume"] or flags["overwrite"]) and out is None:
        raise ValueError("measure: resume and overwrite need an out folder")
    if not isinstance(kw["name"], str):
        _fail("name", "a string", kw["name"], TypeError)
    meta = {} if kw["meta"] is None else kw["meta"]
    try:
        meta = json.loads(json.dumps(meta))
    except (TypeError, ValueError):
        _fail("meta", "a JSON object", meta, TypeError)
    if not isinstance(meta, dict):
        _fail("meta", "a JSON object (dict)", meta, TypeError)
    budget = kw["budget_bytes"]
    if budget is not None:
        budget = _int("budget_bytes", budget, 1)
    progress = kw["progress"]
    if not isinstance(progress, (bool, Progress)):
        _fail("progress", "True, False or a subspace.Progress", progress, TypeError)
    return MeasureArgs(
        dims=dims,
        optimizer=kw["optimizer"],
        seeds=seeds,
        data=data,
        steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        projections=projections,
        baseline=kw["baseline"],
        metric=kw["metric"],
        metric_fn=kw["metric_fn"],
        fraction=float(fraction) if not isinstance(fraction, int) else fraction,
        threshold=threshold,
        out=out,
        name=kw["name"],
        meta=meta,
        shuffle_seed=_int("shuffle_seed", kw["shuffle_seed"], 0),
        budget_bytes=budget,
        checkpoint_every=_int("checkpoint_every", kw["checkpoint_every"], 1),
        progress=progress,
        es=es,
        baseline_es=baseline_es,
        **flags,
    )


def _check_es(task: Any, kw: dict) -> tuple[ES | None, ES | None]:
    """An ESTask needs ``es`` (and trains for ``steps`` generations, without data); a
    gradient-trained Task takes neither ``es`` nor ``baseline_es``."""
    es, baseline_es = kw["es"], kw["baseline_es"]
    if not isinstance(task, ESTask):
        if es is not None or baseline_es is not None:
            raise ValueError(
                "measure: es and baseline_es are for an ESTask (evolution strategies); "
                "a subspace.Task trains by gradient"
            )
        return None, None
    if not isinstance(es, ES):
        _fail("es", "a subspace.ES(population, sigma, ...) with an ESTask", es, TypeError)
    if baseline_es is not None and not isinstance(baseline_es, ES):
        _fail("baseline_es", "a subspace.ES or None (None: the same as es)", baseline_es, TypeError)
    if kw["data"] is not None or kw["epochs"] is not None or kw["batch_size"] is not None:
        raise ValueError(
            "measure: an ESTask takes no data, epochs or batch_size; give steps (generations)"
        )
    return es, baseline_es or es
