"""Run an intrinsic-dimension sweep from a config: the main job of the project.

    python -m experiments.run                        # the toy problem (d_int100 = 10)
    python -m experiments.run CONFIG [--dims LIST|LO..HI|geom:LO:HI:N] [--seeds N]
        [--projection dense|sparse|fastfood|all] [--epochs E] [--steps S]
        [--batch-size B] [--lr LR] [--out DIR] [--resume | --overwrite] [--refine]
        [--smoke] [--list]

For every projection the (d, seed) members are split into groups that fit the memory
budget; each group trains in one compiled, vmapped program whose member axis is split
over all devices (:mod:`subspace.loop`). After each group the results are written
atomically, so an interrupted run loses at most the group in flight and ``--resume``
picks up where it stopped. ``--refine`` then narrows d_int with K-section passes
(:func:`subspace.intrinsic.search`). Writes ``results.json``, ``results.csv``,
``timings.json`` and ``sweep.png`` to ``--out`` (default runs/CONFIG, git-ignored; the
committed reference results live in experiments/results/CONFIG) and ends with one line per
projection, e.g. ``fastfood: d_int100 = 10``. Mistakes in flags or files print one
``error:`` line and exit with code 2, before any training.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from experiments import config as configs
from experiments.data.paths import DATA_DIR_ENV
from experiments.plots import plot_sweep
from subspace.checkpoint import CheckpointError
from subspace.loop import Data
from subspace.measurement import SweepError, _Measurement
from subspace.projections import PROJECTIONS
from subspace.results import SCHEMA_VERSION, SweepResult

__all__ = ["SCHEMA_VERSION", "Settings", "UserError", "build_parser", "main", "parse_dims"]

MAX_DIMS = 1000  # values of d one command may ask for
RUNS = Path("runs")  # default parent of --out: users' runs, git-ignored


class UserError(Exception):
    """A mistake in the flags or the files: one ``error:`` line, exit code 2, no traceback."""


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


# --- arguments ---------------------------------------------------------------------------


def parse_dims(text: str) -> list[int]:
    """``"1..20"``, ``"2,4,8"`` or ``"geom:LO:HI:N"`` (N geometric values, rounded, unique).

    At most ``MAX_DIMS`` values; the count is checked before any list is built.
    """
    usage = (
        f"--dims must be LO..HI, a comma-separated list of integers or geom:LO:HI:N; got {text!r}"
    )
    try:
        if text.startswith("geom:"):
            lo, hi, n = (int(v) for v in text[5:].split(":"))
            count = n
        elif ".." in text:
            lo, hi = (int(v) for v in text.split(".."))
            count = hi - lo + 1
        else:
            values = text.split(",")
            count = len(values)
            lo = hi = None
    except ValueError:
        raise argparse.ArgumentTypeError(usage) from None
    if lo is not None and hi < lo:
        raise argparse.ArgumentTypeError(f"--dims range {text!r} is reversed: write {hi}..{lo}")
    if count > MAX_DIMS:
        raise argparse.ArgumentTypeError(
            f"--dims asks for {count:,} values of d; at most {MAX_DIMS} per command"
        )
    if lo is not None and lo < 1 or text.startswith("geom:") and count < 1:
        raise argparse.ArgumentTypeError(f"--dims values must be integers >= 1; got {text!r}")
    try:
        if text.startswith("geom:"):
            dims = sorted({int(round(v)) for v in np.geomspace(lo, hi, count)})
        elif ".." in text:
            dims = list(range(lo, hi + 1))
        else:
            dims = sorted({int(v) for v in values})
    except ValueError:
        raise argparse.ArgumentTypeError(usage) from None
    if not dims or dims[0] < 1:
        raise argparse.ArgumentTypeError(f"--dims values must be integers >= 1; got {text!r}")
    return dims


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.run",
        description="Measure the intrinsic dimension of a config's model and task.",
    )
    parser.add_argument(
        "config",
        nargs="?",
        default="toy",
        help=f"one of: {', '.join(configs.available())} (default toy)",
    )
    parser.add_argument(
        "--dims", type=parse_dims, help="grid of d: LO..HI, a list 2,4,8 or geom:LO:HI:N"
    )
    parser.add_argument("--seeds", type=_positive(int), help="seeds per d")
    parser.add_argument(
        "--seed", type=int, default=0, help="first seed; members use seed, seed+1, ... (default 0)"
    )
    parser.add_argument("--projection", choices=[*PROJECTIONS, "all"])
    parser.add_argument("--epochs", type=_positive(int))
    parser.add_argument("--steps", type=_positive(int), help="steps (full-batch configs)")
    parser.add_argument("--batch-size", type=_positive(int))
    parser.add_argument("--lr", type=_positive(float), help="learning rate of z")
    parser.add_argument(
        "--baseline-lr", type=_positive(float), help="learning rate of the full-parameter baseline"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default runs/CONFIG; the committed reference results are in "
        "experiments/results/CONFIG)",
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out: keep its finished members (same config only)",
    )
    existing.add_argument(
        "--overwrite",
        action="store_true",
        help="discard the results and checkpoints in --out and start again",
    )
    parser.add_argument(
        "--refine",
        action="store_true",
        help="narrow d_int with 4-section passes inside the bracket",
    )
    parser.add_argument("--smoke", action="store_true", help="the config's tiny test mode")
    parser.add_argument(
        "--list", action="store_true", help="list the configs, one line each, and exit"
    )
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="call jax.distributed.initialize() first: run the same command on every host "
        "of a TPU pod slice or GPU cluster",
    )
    parser.add_argument(
        "--data-dir",
        help=f"folder of the offline dataset files (default ${DATA_DIR_ENV})",
    )
    parser.add_argument(
        "--budget-mb",
        type=_positive(float),
        help="memory budget per device in MB (default: half an "
        "accelerator's memory, a quarter of the host's on the CPU)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="let TFDS download the data set when no offline files are found (Colab)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=_positive(int),
        default=500,
        help="save a group's in-flight state every N steps (default 500); --resume "
        "continues from it",
    )
    parser.add_argument(
        "--per-member-shuffle",
        action="store_true",
        help="each member its own minibatch order (default: shared)",
    )
    return parser


# --- the run -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    """What one command asks for: the config, overridden by the flags."""

    exp: configs.Experiment
    dims: tuple[int, ...]
    seeds: tuple[int, ...]
    projections: tuple[str, ...]
    steps: int
    epochs: int | None
    batch_size: int | None
    lr: float
    baseline_lr: float | None
    out: Path
    resume: bool
    overwrite: bool
    refine: bool
    smoke: bool
    data_dir: str | None
    download: bool
    budget_bytes: int | None
    checkpoint_every: int
    per_member_shuffle: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        """Checks the flags against the config; a mistake is a :class:`UserError`."""
        try:
            exp = configs.load(args.config, smoke=args.smoke)
        except (ValueError, ImportError) as e:  # ImportError: an extra is not installed
            raise UserError(e) from None
        if exp.data is not None and args.steps:
            raise UserError("--steps is for full-batch configs; use --epochs")
        if exp.data is None and (args.epochs or args.batch_size):
            raise UserError(f"{exp.name} is full-batch: use --steps, not --epochs/--batch-size")
        batch_size = args.batch_size or exp.batch_size
        epochs = None if exp.data is None else (args.epochs or exp.epochs)
        if exp.data is None:
            steps = args.steps or exp.steps
        else:
            if batch_size > exp.train_size:
                raise UserError(
                    f"--batch-size must be <= the {exp.train_size:,} training examples of "
                    f"{exp.name}; got {batch_size}"
                )
            steps = epochs * (exp.train_size // batch_size)
        if args.projection == "all":
            projections = tuple(PROJECTIONS)
        else:
            projections = (args.projection,) if args.projection else tuple(exp.projections)
        lr = args.lr or exp.lr
        return cls(
            exp=exp,
            dims=tuple(args.dims or exp.dims),
            seeds=tuple(range(args.seed, args.seed + (args.seeds or exp.seeds))),
            projections=projections,
            steps=steps,
            epochs=epochs,
            batch_size=None if exp.data is None else batch_size,
            lr=lr,
            baseline_lr=(args.baseline_lr or exp.baseline_lr or lr) if exp.baseline else None,
            out=args.out or RUNS / (exp.name + ("_smoke" if args.smoke else "")),
            resume=args.resume,
            overwrite=args.overwrite,
            refine=args.refine,
            smoke=args.smoke,
            data_dir=args.data_dir,
            download=args.download,
            budget_bytes=int(args.budget_mb * 2**20) if args.budget_mb else None,
            checkpoint_every=args.checkpoint_every,
            per_member_shuffle=args.per_member_shuffle,
        )

    def measurement(self, progress=True):
        """The library's measurement of these settings, checked (no data read yet)."""
        exp = self.exp
        try:
            return _Measurement(
                exp.task,
                dims=list(self.dims),
                optimizer=exp.optimizer(self.lr),
                seeds=list(self.seeds),
                data=None if exp.data is None else self.load_data,
                steps=self.steps,
                epochs=None,
                batch_size=self.batch_size,
                projections=list(self.projections),
                baseline=None if self.baseline_lr is None else exp.optimizer(self.baseline_lr),
                metric=exp.metric,
                metric_fn=exp.metric_fn,
                higher_is_better=exp.higher_is_better,
                fraction=exp.fraction,
                threshold=exp.threshold,
                out=self.out,
                resume=self.resume,
                overwrite=self.overwrite,
                refine=self.refine,
                name=exp.name,
                meta={
                    "smoke": self.smoke,
                    "epochs": self.epochs,
                    "lr": self.lr,
                    "baseline_lr": self.baseline_lr,
                },
                shuffle_seed=exp.shuffle_seed,
                per_member_shuffle=self.per_member_shuffle,
                budget_bytes=self.budget_bytes,
                checkpoint_every=self.checkpoint_every,
                progress=progress,
                es=exp.es,
                baseline_es=exp.baseline_es,
            )
        except ValueError as e:
            raise UserError(str(e).removeprefix("measure: ")) from None

    def load_data(self) -> Data:
        """The config's data, checked against its size (called after every other check)."""
        exp = self.exp
        try:
            data = exp.data(self.data_dir, self.download)
        except (OSError, ValueError) as e:
            raise UserError(
                f"{exp.name}: the data could not be loaded: {_one_line(e)} (give the folder "
                f"of the files with --data-dir or ${DATA_DIR_ENV}, or let TFDS fetch them "
                "with --download)"
            ) from None
        if len(data.train_x) != exp.train_size:
            raise UserError(
                f"{exp.name} expects {exp.train_size:,} training examples; the data found "
                f"have {len(data.train_x):,} (a partial or other copy of the data set?)"
            )
        return data


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; a mistake in flags or files exits with code 2 and one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for name in configs.specs():
            print(f"{name:30s} {configs.describe(name)}")
        return 0
    if args.distributed:
        jax.distributed.initialize()  # the cluster is detected (Cloud TPU, SLURM, ...)
    try:
        settings = Settings.from_args(args)
        measurement = settings.measurement()
        try:
            result = measurement.run()
        except (SweepError, CheckpointError) as e:
            raise UserError(e) from None
    except UserError as e:
        parser.exit(2, f"error: {_one_line(e)}\n")
    if jax.process_index() == 0:  # the others trained the same members silently
        report(settings, result)
    return 0


def report(settings: Settings, result: SweepResult) -> None:
    """The plot, the table of mean metric per d, and one line per projection."""
    exp, out = settings.exp, settings.out
    plot_sweep(
        out / "sweep.png",
        result.members,
        metric=exp.metric,
        label=exp.label,
        threshold=result.threshold,
        d_ints={p: v["d"] for p, v in result.d_int.items()},
        baseline=result.baseline_metric,
        log_y=not exp.higher_is_better,
        title=f"{exp.name}: D = {result.config['D']:,}",
    )
    print(f"\nmean {exp.metric} over seeds")
    print("       d  " + "  ".join(f"{p:>10}" for p in settings.projections))
    table = {p: dict(zip(*result.means(p), strict=True)) for p in settings.projections}
    for d in sorted({d for p in table for d in table[p]}):
        cells = [
            f"{table[p][d]:10.4g}" if d in table[p] else f"{'':10}" for p in settings.projections
        ]
        print(f"{d:8d}  " + "  ".join(cells))
    print(f"\nwrote results.json, results.csv, timings.json and sweep.png to {out}")
    for p, v in result.d_int.items():
        if v["d"] is not None:
            ci = ", ".join("inf" if c is None else f"{c:g}" for c in v["ci90"])
            print(
                f"{p}: interpolated {v['interpolated']:.4g}, 90% bootstrap interval "
                f"[{ci}], compression D/d = {v['compression']:.1f}"
            )
    for p, v in result.d_int.items():
        value = v["d"] if v["d"] is not None else f"> {max(settings.dims)} (not reached)"
        print(f"{p}: {exp.label} = {value}")


if __name__ == "__main__":
    sys.exit(main())
