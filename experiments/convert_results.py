"""Convert results of subspace 0.4 (results schema 2) to schema 3, checked against a config.

    python -m experiments.convert_results [FOLDER ...]    # default: experiments/results/*

Schema 2 recorded a flat ``config`` (dims, seeds, steps, metric, ..., and the command
line's ``lr``/``baseline_lr``/``epochs``/``smoke`` and ES hyper-parameters); schema 3 records
the whole :class:`subspace.Measurement`. A folder is converted only when every field the
old file recorded agrees with the current experiment config of the same name (the
optimiser, which schema 2 did not record, is the config's): then its members and baseline
are kept as they are, a metric that was named for a derived value is renamed to its
expression (``relative_loss`` -> ``final_loss/initial_loss``, ``fitness_gain`` ->
``final_fitness-initial_fitness``), and ``results.json``, ``results.csv`` (and
``sweep.png`` when the metric's name changed) are rewritten atomically. A folder already
at schema 3 is left alone; a disagreement is an ``error:`` line naming the field.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments import config as configs
from experiments.plots import plot_result
from subspace.results import SweepResult, write_csv, write_results

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


def convert(folder: Path) -> str:
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

    result = SweepResult(
        config=exp.measurement().to_json(),
        members=renamed(doc["members"]),
        baseline=renamed(doc["baseline"]),
        baseline_metric=doc.get("baseline_metric"),
        threshold=doc.get("threshold"),
        d_int=doc.get("d_int") or {},
        complete=doc.get("complete") is True,
        D=D,
        steps=steps,
    )
    timings_doc = json.loads((folder / "timings.json").read_text())
    timings = timings_doc.pop("members")
    write_results(folder, result, timings, timings_doc)
    write_csv(folder / "results.csv", result.members, result.baseline, timings)
    if metric != old["metric"]:
        plot_result(folder / "sweep.png", exp, result)
    return f"{folder}: converted to schema 3" + (
        f" (metric {old['metric']} -> {metric})" if metric != old["metric"] else ""
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.convert_results")
    parser.add_argument("folders", nargs="*", type=Path)
    args = parser.parse_args(argv)
    folders = args.folders or sorted(
        p.parent for p in Path("experiments/results").glob("*/results.json")
    )
    try:
        for folder in folders:
            print(convert(folder))
    except (OSError, ValueError, KeyError) as e:
        parser.exit(2, f"error: {' '.join(str(e).split())}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
