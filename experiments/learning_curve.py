"""The learning curve of a config's full-parameter baseline (or of one subspace member).

    python -m experiments.learning_curve CONFIG --epochs E [--every K] [--d D] [--seed S]
        [--data-dir DIR] [--smoke] [--out DIR]

Trains seed S of CONFIG's baseline (with ``--d``, its first projection's member of that
d) with the config's optimiser and batch size for E epochs, evaluating on the training
and test sets after every K epochs (one run: the point at epoch e is the state a run of e
epochs ends in, as the measurement's minibatch order and constant learning rate make it).
Writes ``learning_curve[_dD].json`` and ``.png`` to ``experiments/results/CONFIG`` (or
``--out``) and prints the test metric's gain over the last 20% of the epochs: how a
budget is chosen (the baseline close to converged when it gains less than half a point
there).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import subspace
from experiments import config as configs
from experiments.io import atomic_write_json, atomic_write_png
from experiments.run import UserError, _load_data, _one_line

ROOT = Path(__file__).resolve().parents[1]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"error: {message} (python -m experiments.learning_curve --help)\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="python -m experiments.learning_curve", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("config", help="a config of experiments/configs with data")
    parser.add_argument("--epochs", type=_positive, required=True, help="epochs to train")
    parser.add_argument("--every", type=_positive, default=1, help="epochs between points")
    parser.add_argument("--d", type=_positive, help="a subspace member of this d, not the baseline")
    parser.add_argument("--seed", type=int, default=0, help="the member's seed (default 0)")
    parser.add_argument("--data-dir", help="the folder of the data files (README, Data)")
    parser.add_argument("--download", action="store_true", help="let TFDS fetch the data")
    parser.add_argument("--smoke", action="store_true", help="the config's smoke size")
    parser.add_argument("--out", type=Path, help="folder to write to")
    args = parser.parse_args(argv)
    try:
        record = run(args)
    except UserError as e:
        parser.exit(2, f"error: {_one_line(e)}\n")
    except KeyboardInterrupt:
        parser.exit(130, "interrupted: no curve written\n")
    metric = record["metric"]
    for epoch, value in zip(record["epochs"], record[f"test_{metric}"], strict=True):
        print(f"epoch {epoch:4d}: test {metric} {value:.4f}")
    print(f"gain over the last 20% of the epochs: {record['last_fifth_gain']:+.4f}")
    return 0


def run(args: argparse.Namespace) -> dict:
    """Trains and evaluates the member; writes and returns the curve's record."""
    exp = configs.load(args.config, smoke=args.smoke)
    if exp.task.kind != "image":
        raise UserError(f"config must train on a data set; {args.config!r} does not")
    if args.every > args.epochs:
        raise UserError(f"--every must be <= --epochs ({args.epochs}); got {args.every}")
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0; got {args.seed}")
    schedule = exp.schedule
    task = exp.task.build()
    data = _load_data(exp, args.data_dir, args.download)
    per_epoch = len(data.train_x) // schedule.batch_size
    if args.d is None:
        sweep = subspace.make_baseline(task, (schedule.baseline or schedule.optimizer).build())
        d = sweep.width
    else:
        sweep = subspace.make_sweep(
            task, schedule.optimizer.build(), projection=exp.grid.projections[0], width=args.d
        )
        d = args.d
    start = time.perf_counter()
    out = subspace.train_group(
        sweep,
        (np.array([d]), np.array([args.seed])),
        steps=args.epochs * per_epoch,
        data=data,
        batch_size=schedule.batch_size,
        shuffle_seed=schedule.shuffle_seed,
        curve_every=args.every * per_epoch,
    )
    wall = time.perf_counter() - start
    if not out["finite"][0]:
        raise UserError(f"{args.config}: the run diverged; no curve")
    metric = exp.readout.metric.removeprefix("test_")
    epochs = [int(s) // per_epoch for s in out["curve_step"][0]]
    record = {
        "config": exp.name,
        "smoke": args.smoke,
        "member": "baseline" if args.d is None else f"{exp.grid.projections[0]}/{args.d}",
        "seed": args.seed,
        "optimizer": dataclasses.asdict(
            schedule.baseline if args.d is None else schedule.optimizer
        ),
        "batch_size": schedule.batch_size,
        "metric": metric,
        "epochs": epochs,
        **{
            k.removeprefix("curve_"): [float(v) for v in out[k][0]]
            for k in out
            if k.startswith("curve_") and k != "curve_step"
        },
        "wall_s": wall,
    }
    test = record[f"test_{metric}"]
    record["last_fifth_gain"] = test[-1] - _at(epochs, test, 0.8 * args.epochs)
    folder = args.out or (
        Path(tempfile.mkdtemp(prefix="subspace-curve-"))
        if args.smoke
        else ROOT / "experiments" / "results" / exp.name.replace(":", "_")
    )
    stem = "learning_curve" if args.d is None else f"learning_curve_d{args.d}"
    atomic_write_json(folder / f"{stem}.json", record)
    plot(record, folder / f"{stem}.png")
    print(f"wrote {folder / stem}.json and .png ({wall:.0f} s)", file=sys.stderr)
    return record


def _at(epochs: list[int], values: list[float], epoch: float) -> float:
    """The value at the last point at or before ``epoch`` (the first point if none)."""
    before = [v for e, v in zip(epochs, values, strict=True) if e <= epoch]
    return before[-1] if before else values[0]


def plot(record: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = record["metric"]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for split in ("train", "test"):
        ax.plot(record["epochs"], record[f"{split}_{metric}"], marker="o", ms=3, label=split)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(f"{record['config']}: {record['member']}, seed {record['seed']}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write_png(fig, path)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
