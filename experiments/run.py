"""Run an intrinsic-dimension measurement from a config: the main job of the project.

    python -m experiments.run                        # the toy problem (d_int100 = 10)
    python -m experiments.run CONFIG [--dims LIST|LO..HI|geom:LO:HI:N] [--seeds N]
        [--projection dense|sparse|fastfood|all] [--epochs E] [--steps S] [--lr LR]
        [--out DIR] [--resume | --overwrite] [--set PATH=VALUE ...] [--print-config]
        [--smoke] [--list]

Load → override → :func:`subspace.measure` → report, through the library's public API:
the config (:mod:`experiments.config`) is data; the flags users know are shorthands for
overrides of its fields, and ``--set schedule.epochs=10`` (any number of times, after the
shorthands) changes any field, nested or not, with every check run again;
``--print-config`` prints the resolved config as JSON and exits. Writes
``results.json``, ``results.csv``, ``timings.json`` and ``sweep.png`` to ``--out``
(default runs/CONFIG, git-ignored; the committed reference results live in
experiments/results/CONFIG) and ends with one line per projection, e.g. ``fastfood:
d_int100 = 10``. Mistakes in flags or files print one ``error:`` line and exit with code
2, before any training.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

import subspace
from experiments import config as configs
from experiments.data.paths import DATA_DIR_ENV
from subspace.checkpoint import CheckpointError
from subspace.config import override, parse_value
from subspace.measurement import MAX_DIMS
from subspace.projections import PROJECTIONS, STORED
from subspace.sweep import projection_labels

__all__ = ["UserError", "build_parser", "main", "parse_dims", "resolve"]

RUNS = Path("runs")  # default parent of --out: users' runs, git-ignored


class UserError(Exception):
    """A mistake in the flags or the files: one ``error:`` line, exit code 2, no traceback."""


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


# --- arguments ---------------------------------------------------------------------------


def parse_dims(text: str) -> list[int]:
    """``"1..20"``, ``"2,4,8"`` or ``"geom:LO:HI:N"`` (N geometric values, rounded, unique).

    The count is checked against :data:`subspace.measurement.MAX_DIMS` before any list is
    built; the values themselves are checked by :class:`subspace.Grid`.
    """
    usage = (
        f"--dims must be LO..HI, a comma-separated list of integers or geom:LO:HI:N; got {text!r}"
    )
    try:
        if text.startswith("geom:"):
            lo, hi, count = (int(v) for v in text[5:].split(":"))
        elif ".." in text:
            lo, hi = (int(v) for v in text.split(".."))
            count = hi - lo + 1
        else:
            values = [int(v) for v in text.split(",")]
            lo = hi = None
            count = len(values)
    except ValueError:
        raise argparse.ArgumentTypeError(usage) from None
    if lo is not None and hi < lo:
        raise argparse.ArgumentTypeError(f"--dims range {text!r} is reversed: write {hi}..{lo}")
    if count > MAX_DIMS:
        raise argparse.ArgumentTypeError(
            f"--dims asks for {count:,} values of d; at most {MAX_DIMS} per command"
        )
    if lo is not None and (lo < 1 or count < 1):
        raise argparse.ArgumentTypeError(f"--dims values must be integers >= 1; got {text!r}")
    if text.startswith("geom:"):
        return sorted({int(round(v)) for v in np.geomspace(lo, hi, count)})
    return list(range(lo, hi + 1)) if lo is not None else values


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0 or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a number > 0; got {text!r}")
        return value

    return parse


def _assignment(text: str) -> tuple[str, object]:
    path, sep, value = text.partition("=")
    if not sep or not path.strip():
        raise argparse.ArgumentTypeError(
            f"--set takes PATH=VALUE (e.g. schedule.epochs=10); got {text!r}"
        )
    return path.strip(), parse_value(value)


class _Parser(argparse.ArgumentParser):
    """argparse, whose mistakes are one ``error:`` line (not the usage, then the error)."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (python -m experiments.run --help lists the flags)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m experiments.run",
        description="Measure the intrinsic dimension of a config's model and task.",
    )
    add = parser.add_argument
    add("config", nargs="?", default="toy", help=f"one of: {', '.join(configs.available())}")
    add("--dims", type=parse_dims, help="grid.dims: LO..HI, a list 2,4,8 or geom:LO:HI:N")
    add("--seeds", type=_positive(int), help="grid.seeds: seeds per d")
    add("--seed", type=int, default=0, help="first seed; members use seed, seed+1, ...")
    add("--projection", choices=[*projection_labels(), "all"], help="grid.projections")
    add("--refine", action="store_true", help="grid.refine: 4-section passes in the bracket")
    add("--epochs", type=_positive(int), help="schedule.epochs (and no steps)")
    add("--steps", type=_positive(int), help="schedule.steps (and no epochs)")
    add("--batch-size", type=_positive(int), help="schedule.batch_size")
    add("--lr", type=_positive(float), help="schedule.optimizer.learning_rate (of z)")
    add("--baseline-lr", type=_positive(float), help="schedule.baseline.learning_rate (of θ)")
    add("--per-member-shuffle", action="store_true", help="schedule.per_member_shuffle")
    add("--out", type=Path, help="run.out (default runs/CONFIG)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true", help="run.resume: continue --out")
    existing.add_argument("--overwrite", action="store_true", help="run.overwrite: start again")
    add("--checkpoint-every", type=_positive(int), help="run.checkpoint_every (steps)")
    add("--budget-mb", type=_positive(float), help="run.budget_bytes, in MB per device")
    add(
        "--set",
        type=_assignment,
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override any field of the config (JSON value), e.g. schedule.epochs=10",
    )
    add("--print-config", action="store_true", help="print the resolved config and exit")
    add("--smoke", action="store_true", help="the config's tiny test mode")
    add("--list", action="store_true", help="list the configs, one line each, and exit")
    add(
        "--distributed",
        action="store_true",
        help="call jax.distributed.initialize() first (run the same command on every host)",
    )
    add(
        "--distributed-timeout",
        type=_positive(int),
        default=300,
        help="seconds --distributed waits for the coordinator and the other hosts (300)",
    )
    add("--coordinator", help="--distributed elsewhere than a TPU pod or SLURM: HOST:PORT")
    add("--num-processes", type=_positive(int), help="--distributed: how many processes")
    add("--process-id", type=int, help="--distributed: this process's id, 0 .. N-1")
    add("--data-dir", help=f"folder of the offline dataset files (default ${DATA_DIR_ENV})")
    add("--download", action="store_true", help="let TFDS download the data set (Colab)")
    return parser


def _shorthands(args: argparse.Namespace, exp: configs.Experiment) -> dict[str, object]:
    """The flags users know, as the overrides (path -> value) they stand for."""
    sets: dict[str, object] = {}
    if args.dims:
        sets["grid.dims"] = args.dims
    if args.seeds or args.seed:
        n = args.seeds or len(exp.grid.seeds)
        sets["grid.seeds"] = list(range(args.seed, args.seed + n))
    if args.projection:
        drawn = [k for k in PROJECTIONS if k not in STORED]  # a stored P is not drawn
        chosen = drawn if args.projection == "all" else [args.projection]
        sets["grid.projections"] = chosen
    if args.refine:
        sets["grid.refine"] = True
    if args.epochs or args.steps:  # one replaces the other
        sets["schedule.epochs"], sets["schedule.steps"] = args.epochs, args.steps
    for flag, path in (
        ("batch_size", "schedule.batch_size"),
        ("lr", "schedule.optimizer.learning_rate"),
        ("baseline_lr", "schedule.baseline.learning_rate"),
        ("checkpoint_every", "run.checkpoint_every"),
    ):
        if getattr(args, flag):
            sets[path] = getattr(args, flag)
    if args.per_member_shuffle:
        sets["schedule.per_member_shuffle"] = True
    if args.budget_mb:
        sets["run.budget_bytes"] = int(args.budget_mb * 2**20)
    out = args.out or exp.run.out or RUNS / (exp.name + ("_smoke" if args.smoke else ""))
    sets["run.out"] = str(out)
    if args.resume or args.overwrite:
        sets["run.resume" if args.resume else "run.overwrite"] = True
    return sets


def resolve(args: argparse.Namespace) -> configs.Experiment:
    """The config of ``args``, with the shorthand flags and then every ``--set`` applied
    (:func:`subspace.config.override`); a mistake is a :class:`UserError`."""
    try:
        exp = configs.load(args.config, smoke=args.smoke)
    except (ValueError, ImportError) as e:  # ImportError: an extra is not installed
        raise UserError(e) from None
    changes = {**_shorthands(args, exp), **dict(args.set)}
    try:
        exp = override(exp, changes)
    except (TypeError, ValueError) as e:
        raise UserError(_one_line(e)) from None
    task, batch = exp.task, exp.schedule.batch_size
    if hasattr(task, "train_size") and batch is not None and batch > task.train_size:
        raise UserError(
            f"schedule.batch_size must be <= the {task.train_size:,} training examples of "
            f"{exp.name}; got {batch}"
        )
    return exp


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; a mistake in flags or files exits with code 2 and one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for name in configs.specs():
            print(f"{name:30s} {configs.describe(name)}")
        return 0
    try:
        exp = resolve(args)
        if args.print_config:
            print(json.dumps(exp.to_json(), indent=2))
            return 0
        if args.distributed:
            _initialize_distributed(args)
        try:
            task = exp.task.build()
        except (ValueError, ImportError) as e:
            raise UserError(e) from None
        if hasattr(exp.task, "pretrained"):  # θ0 trained first (transfer, burn-in)
            task = _pretrained(exp, task, args.data_dir, args.download)
        loader = None
        if hasattr(exp.task, "load"):

            def loader() -> subspace.Data:
                return _load_data(exp, args.data_dir, args.download)

        try:
            result = subspace.measure(
                task, exp.measurement(), data=loader, run=exp.run, progress=True
            )
        except (subspace.SweepError, CheckpointError) as e:
            raise UserError(e) from None
        except (TypeError, ValueError) as e:  # measure's own refusals, before any work
            if not str(e).startswith("measure: "):
                raise  # anything else is a bug to see whole
            raise UserError(str(e).removeprefix("measure: ")) from None
    except UserError as e:
        parser.exit(2, f"error: {_one_line(e)}\n")
    except KeyboardInterrupt as e:  # Ctrl-C: the library kept what was finished
        said = _one_line(e) or "a second Ctrl-C: the group in flight is lost"
        parser.exit(130, f"interrupted: {said}\n")
    if jax.process_index() == 0:  # the others trained the same members silently
        report(exp, result)
    return 0


def _initialize_distributed(args: argparse.Namespace) -> None:
    """``jax.distributed.initialize`` (on a Cloud TPU pod or in a SLURM job the cluster is
    detected; elsewhere ``--coordinator``, ``--num-processes``, ``--process-id``), saying
    what it waits for and for how long."""
    given = {
        "coordinator_address": args.coordinator,
        "num_processes": args.num_processes,
        "process_id": args.process_id,
    }
    timeout = args.distributed_timeout
    print(
        f"--distributed: joining the other processes through JAX's coordinator "
        f"{args.coordinator or '(detected)'} (waiting at most {timeout} s; "
        "--distributed-timeout changes it)",
        flush=True,
    )
    try:
        jax.distributed.initialize(
            **{k: v for k, v in given.items() if v is not None}, initialization_timeout=timeout
        )
    except (ValueError, RuntimeError) as e:
        raise UserError(
            f"--distributed: {_one_line(e)} (on a Cloud TPU pod or in a SLURM job the cluster "
            "is found by itself; elsewhere give --coordinator HOST:PORT, --num-processes N "
            "and --process-id I, the same coordinator on every host)"
        ) from None
    print(
        f"--distributed: process {jax.process_index()} of {jax.process_count()}, "
        f"{jax.device_count()} devices in all",
        flush=True,
    )


def _pretrained(
    exp: configs.Experiment, task: subspace.Task, data_dir: str | None, download: bool
) -> subspace.Task:
    """The config's task with its pretrained θ0, the data's errors as one line."""
    try:
        return exp.task.pretrained(task, data_dir, download, seeds=exp.grid.seeds)
    except (OSError, ValueError) as e:
        raise UserError(
            f"{exp.name}: the pretraining data could not be loaded or trained on: "
            f"{_one_line(e)} (give the folder of the files with --data-dir or "
            f"${DATA_DIR_ENV}, or let TFDS fetch them with --download)"
        ) from None


def _load_data(exp: configs.Experiment, data_dir: str | None, download: bool) -> subspace.Data:
    """The config's data, checked against its declared size (called after every check)."""
    try:
        data = exp.task.load(data_dir, download)
    except FileNotFoundError as e:
        # The loaders' message goes on to say where to download the files and how to use
        # TFDS from Python; on the command line the flags say it.
        found = _one_line(e).split(". Get ")[0].split(" TFDS failed too")[0].rstrip(".")
        raise UserError(
            f"{exp.name}: the data could not be loaded: {found}; give the folder of the files "
            f"with --data-dir or ${DATA_DIR_ENV}, or let TFDS fetch the data set with --download"
        ) from None
    except (OSError, ValueError) as e:
        raise UserError(
            f"{exp.name}: the data could not be loaded: {_one_line(e)} (give the folder "
            f"of the files with --data-dir or ${DATA_DIR_ENV}, or let TFDS fetch them "
            "with --download)"
        ) from None
    if len(data.train_x) != exp.task.train_size:
        raise UserError(
            f"{exp.name} expects {exp.task.train_size:,} training examples; the data found "
            f"have {len(data.train_x):,} (a partial or other copy of the data set?)"
        )
    return data


def report(exp: configs.Experiment, result: subspace.SweepResult) -> None:
    """The plot, the table of mean metric per d, and one line per projection."""
    out, metric, projections = Path(exp.run.out), exp.readout.metric, exp.grid.projections
    result.plot(out / "sweep.png")
    print(f"\nmean {metric} over seeds")
    print("       d  " + "  ".join(f"{p:>10}" for p in projections))
    table = {p: dict(zip(*result.means(p), strict=True)) for p in projections}
    for d in sorted({d for p in table for d in table[p]}):
        cells = [f"{table[p][d]:10.4g}" if d in table[p] else f"{'':10}" for p in projections]
        print(f"{d:8d}  " + "  ".join(cells))
    print(f"\nwrote results.json, results.csv, timings.json and sweep.png to {out}")
    for p, v in result.d_int.items():
        if v["d"] is not None and v.get("bound") != "upper":
            ci = ", ".join("inf" if c is None else f"{c:g}" for c in v["ci90"])
            print(
                f"{p}: interpolated {v['interpolated']:.4g}, 90% bootstrap interval "
                f"[{ci}], compression D/d = {v['compression']:.1f}"
            )
    for p, v in result.d_int.items():
        if v["d"] is None:
            value = f"> {max(exp.grid.dims)} (not reached)"
        elif v.get("bound") == "upper":
            value = f"<= {v['d']} (the smallest d of the grid already reaches the threshold)"
        else:
            value = v["d"]
        print(f"{p}: {exp.label} = {value}")


if __name__ == "__main__":
    sys.exit(main())
