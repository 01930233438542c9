"""Convert results of subspace 0.4 (results schema 2) to schema 3, checked against a config.

    python -m experiments.convert_results [--data-dir DIR] [FOLDER ...]
        # default: experiments/results/*; DIR: the offline data sets (see README "Data")

Schema 2 recorded a flat ``config`` (dims, seeds, steps, metric, ..., and the command
line's ``lr``/``baseline_lr``/``epochs``/``smoke`` and ES hyper-parameters); schema 3 records
the whole :class:`subspace.Measurement`. A folder is converted only when every field the
old file recorded agrees with the current experiment config of the same name (the
optimiser, which schema 2 did not record, is the config's): then its members and baseline
are kept as they are, a metric that was named for a derived value is renamed to its
expression (``relative_loss`` -> ``final_loss/initial_loss``, ``fitness_gain`` ->
``final_fitness-initial_fitness``), what schema 3 adds is filled in (the fingerprints of
the task and the data, computed here from the config; each kind's group size, read off
``timings.json``, where a group's members share one wall time; whether d_int is a bound
at an end of the grid), and ``results.json``, ``results.csv`` (and ``sweep.png`` when the
metric's name changed) are rewritten atomically. A folder already
at schema 3 is left alone; a disagreement is an ``error:`` line naming the field.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments import config as configs
from subspace.fingerprints import data_fingerprint, task_fingerprint
from subspace.results import SweepResult, timing_key, write_csv, write_results

RENAMED = {
    "relative_loss": "final_loss/initial_loss",
    "fitness_gain": "final_fitness-initial_fitness",
}


def _spec(folder: Path) -> str:
    for spec in configs.specs():
        if spec.replace(":", "_") == folder.name:
            return spec
    raise ValueError(f"{folder} matches no config")


def _expected_old(exp: configs.Experiment) -> dict:
    """What a schema-2 file of this experiment would have recorded (its config keys)."""
    s, g, r = exp.schedule, exp.grid, exp.readout
    old = {
        "name": exp.name,
        "dims": list(g.dims),
        "seeds": list(g.seeds),
        "projections": list(g.projections),
        "batch_size": s.batch_size,
        "metric": r.metric,
        "higher_is_better": r.higher_is_better,
        "threshold": r.threshold,
        "fraction": r.fraction,
        "shuffle_seed": s.shuffle_seed,
        "per_member_shuffle": s.per_member_shuffle,
        "refine": g.refine,
        "smoke": exp.smoke,
        "epochs": s.epochs,
        "lr": s.optimizer.learning_rate or 1.0,  # schema 2 recorded the toy's unused lr as 1.0
        "baseline_lr": None if s.baseline is None else s.baseline.learning_rate,
    }
    if s.estimator.name == "es":
        for key, estimator in (("es", s.estimator), ("baseline_es", s.baseline_estimator)):
            old[key] = {
                "population": estimator.population,
                "sigma": estimator.sigma,
                "antithetic": estimator.antithetic,
                "eval_episodes": exp.task.eval_episodes,
                "weight_decay": s.optimizer.weight_decay,
                "sigma_in_theta": estimator.sigma_in_theta,
            }
    return old


def _fingerprints(exp: configs.Experiment, data_dir: str | None) -> dict:
    data = exp.task.load(data_dir) if hasattr(exp.task, "load") else None
    return {
        "task": task_fingerprint(exp.task.build(), exp.grid.seeds[0]),
        "data": data_fingerprint(data),
    }


def _group_sizes(records: list[dict], timings: dict, D: int) -> dict:  # noqa: N803
    """Each kind's group size: the most members that share one group's wall time."""
    groups: dict[tuple, int] = {}
    for r in records:
        kind = f"{r['projection']}/{r['width']}" if "d" in r else f"baseline/{D}"
        key = (kind, timings[timing_key(r)])
        groups[key] = groups.get(key, 0) + 1
    sizes: dict[str, int] = {}
    for (kind, _), count in groups.items():
        sizes[kind] = max(sizes.get(kind, 0), count)
    return sizes


def _bounds(d_int: dict, members: list[dict]) -> dict:
    """``d_int`` with each projection's ``bound`` (see subspace.runner)."""
    out = {}
    for projection, v in d_int.items():
        ds = [m["d"] for m in members if m["projection"] == projection]
        bound = "lower" if v["d"] is None else ("upper" if v["d"] == min(ds) else None)
        if bound == "upper":
            v = {**v, "interpolated": None, "ci90": [None, v["ci90"][1]]}
        out[projection] = {**v, "bound": bound}
    return out


def convert(folder: Path, data_dir: str | None = None) -> str:
    """Converts ``folder``'s results in place; returns what was done."""
    path = folder / "results.json"
    doc = json.loads(path.read_text())
    if doc.get("schema_version") == 3:
        return f"{folder}: already schema 3"
    if doc.get("schema_version") != 2:
        raise ValueError(f"{path}: schema version {doc.get('schema_version')!r} is not 2")
    exp = configs.load(_spec(folder))
    old = dict(doc["config"])
    D, steps = old.pop("D"), old.pop("steps")  # noqa: N806
    metric = RENAMED.get(old["metric"], old["metric"])
    expected = _expected_old(exp)
    found = {**old, "metric": metric}
    for key in sorted(set(expected) | set(found)):
        if expected.get(key) != found.get(key):
            raise ValueError(
                f"{path}: config field {key} is {found.get(key)!r}, the current config has "
                f"{expected.get(key)!r}: re-run it instead (python -m experiments.run "
                f"{_spec(folder)} --out {folder} --overwrite)"
            )
    if exp.schedule.epochs is None and steps != exp.schedule.steps:
        raise ValueError(f"{path}: {steps} steps, the config has {exp.schedule.steps}")

    def renamed(records: list[dict]) -> list[dict]:
        return [{(metric if k == old["metric"] else k): v for k, v in r.items()} for r in records]

    timings_doc = json.loads((folder / "timings.json").read_text())
    timings = timings_doc.pop("members")
    members, baseline = renamed(doc["members"]), renamed(doc["baseline"])
    result = SweepResult(
        config=exp.measurement().to_json(),
        members=members,
        baseline=baseline,
        baseline_metric=doc.get("baseline_metric"),
        threshold=doc.get("threshold"),
        d_int=_bounds(doc.get("d_int") or {}, members),
        complete=doc.get("complete") is True,
        D=D,
        steps=steps,
        fingerprints=_fingerprints(exp, data_dir),
        group_sizes=(sizes := _group_sizes(members + baseline, timings, D)),
        loops=dict.fromkeys(sizes, "scan"),  # the only loop form subspace 0.4 had
    )
    write_results(folder, result, timings, timings_doc)
    write_csv(folder / "results.csv", result.members, result.baseline, timings)
    if metric != old["metric"]:
        result.plot(folder / "sweep.png")
    return f"{folder}: converted to schema 3" + (
        f" (metric {old['metric']} -> {metric})" if metric != old["metric"] else ""
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.convert_results")
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--data-dir", help="folder of the offline data sets (MNIST, CIFAR-10)")
    args = parser.parse_args(argv)
    folders = args.folders or sorted(
        p.parent for p in Path("experiments/results").glob("*/results.json")
    )
    try:
        for folder in folders:
            print(convert(folder, args.data_dir))
    except (OSError, ValueError, KeyError) as e:
        parser.exit(2, f"error: {' '.join(str(e).split())}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
