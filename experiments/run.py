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
import contextlib
import csv
import hashlib
import io
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np
from tqdm import tqdm

from experiments import config as configs
from experiments.data.paths import DATA_DIR_ENV
from experiments.io import atomic_write_bytes, atomic_write_json, read_json
from experiments.plots import plot_sweep
from subspace.checkpoint import CheckpointError, GroupCheckpoint
from subspace.intrinsic import bootstrap_d_int, d_int, mean_by_d, search
from subspace.loop import train_group
from subspace.memory import default_budget, group_size, program_bytes
from subspace.projections import PROJECTIONS
from subspace.sharding import member_mesh
from subspace.sweep import make_baseline, make_sweep

SCHEMA_VERSION = 2
REFINE_K = 4
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
        help=f"narrow d_int with {REFINE_K}-section passes inside the bracket",
    )
    parser.add_argument("--smoke", action="store_true", help="the config's tiny test mode")
    parser.add_argument(
        "--list", action="store_true", help="list the configs, one line each, and exit"
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


class Run:
    """One invocation: the experiment, its settings, and the results on disk.

    Everything a flag or a file can get wrong is checked here, before any training: the
    config, the grid, the output folder, earlier results in it, the batch size against
    the data set, and the data themselves.
    """

    def __init__(self, args: argparse.Namespace, *, load_data: bool = True):
        try:
            exp = configs.load(args.config, smoke=args.smoke)
        except ValueError as e:
            raise UserError(e) from None
        self.exp = exp
        self.dims = args.dims or list(exp.dims)
        self.seeds = list(range(args.seed, args.seed + (args.seeds or exp.seeds)))
        if args.projection == "all":
            self.projections = list(PROJECTIONS)
        else:
            self.projections = [args.projection] if args.projection else list(exp.projections)
        self.lr = args.lr or exp.lr
        self.baseline_lr = (
            (args.baseline_lr or exp.baseline_lr or self.lr) if exp.baseline else None
        )
        self.batch_size = args.batch_size or exp.batch_size
        self.args = args
        self.out = args.out or RUNS / (exp.name + ("_smoke" if args.smoke else ""))
        params, _ = jax.eval_shape(exp.task.init, jax.random.key(0))
        self.D = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))
        if self.dims[-1] > self.D:
            raise UserError(f"--dims values must be <= D = {self.D}; got {self.dims[-1]}")
        if exp.data is not None and args.steps:
            raise UserError("--steps is for full-batch configs; use --epochs")
        if exp.data is None and (args.epochs or args.batch_size):
            raise UserError(f"{exp.name} is full-batch: use --steps, not --epochs/--batch-size")
        if exp.data is None:
            self.steps = args.steps or exp.steps
        else:
            if self.batch_size > exp.train_size:
                raise UserError(
                    f"--batch-size must be <= the {exp.train_size:,} training examples of "
                    f"{exp.name}; got {self.batch_size}"
                )
            self.steps = (args.epochs or exp.epochs) * (exp.train_size // self.batch_size)
        check_out(self.out)
        self.mesh = member_mesh()
        self.budget = int(args.budget_mb * 2**20) if args.budget_mb else default_budget()
        self.config = {
            "name": exp.name,
            "smoke": args.smoke,
            "D": self.D,
            "dims": self.dims,
            "seeds": self.seeds,
            "projections": self.projections,
            "steps": self.steps,
            "epochs": None if exp.data is None else (args.epochs or exp.epochs),
            "batch_size": None if exp.data is None else self.batch_size,
            "lr": self.lr,
            "baseline_lr": self.baseline_lr,
            "metric": exp.metric,
            "higher_is_better": exp.higher_is_better,
            "threshold": exp.threshold,
            "fraction": exp.fraction,
            "shuffle_seed": exp.shuffle_seed,
            "per_member_shuffle": args.per_member_shuffle,
            "refine": args.refine,
        }
        self.results_path = self.out / "results.json"
        self.members, self.baseline, self.timings = self._load_previous()
        self.data = self._load_data() if exp.data is not None and load_data else None

    def _load_data(self):
        exp, args = self.exp, self.args
        try:
            data = exp.data(args.data_dir, args.download)
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

    # results on disk

    def _load_previous(self) -> tuple[list, list, dict]:
        """Finished members of an earlier run with the same config (--resume), else none.

        Results already in --out are never replaced without --overwrite, and a corrupt
        file, or one written with another config, is refused, never overwritten.
        """
        if self.args.overwrite:
            shutil.rmtree(self.out / "checkpoints", ignore_errors=True)
            return [], [], {}
        checkpoints = self.out / "checkpoints"
        in_flight = checkpoints.is_dir() and any(checkpoints.iterdir())
        if not self.args.resume and (self.results_path.exists() or in_flight):
            what = "results" if self.results_path.exists() else "an unfinished group's checkpoint"
            raise UserError(
                f"{self.out} already holds {what}: --resume continues that run, --overwrite "
                "discards it and starts again (or choose another --out)"
            )
        if not self.results_path.exists():
            return [], [], {}
        fix = "choose another --out, or --overwrite to discard it"
        try:
            previous = read_json(self.results_path)
        except (OSError, ValueError) as e:
            raise UserError(f"{_one_line(e)}; {fix}") from None
        if not isinstance(previous, dict) or previous.get("schema_version") != SCHEMA_VERSION:
            raise UserError(
                f"{self.results_path} is not a results file of schema version "
                f"{SCHEMA_VERSION}; {fix}"
            )
        if previous.get("config") != self.config:
            old = previous.get("config")
            old = old if isinstance(old, dict) else {}
            keys = sorted(
                k for k in set(old) | set(self.config) if old.get(k) != self.config.get(k)
            )
            raise UserError(
                f"{self.results_path} was written with another config (differs in "
                f"{', '.join(keys)}); {fix}"
            )
        members, baseline = previous.get("members"), previous.get("baseline")
        for name, records, keys in (
            ("members", members, ("projection", "d", "seed")),
            ("baseline", baseline, ("seed",)),
        ):
            problem = check_records(records, (*keys, "status", self.exp.metric))
            if problem:
                raise UserError(f"{self.results_path}: {name} {problem}; {fix}")
        return members, baseline, self._load_timings()

    def _load_timings(self) -> dict:
        """Wall times of the finished groups: cosmetic, so a bad file is only reported."""
        path = self.out / "timings.json"
        if not path.exists():
            return {}
        try:
            timings = read_json(path).get("members", {})
            if not isinstance(timings, dict):
                raise ValueError("'members' is not an object")
            return timings
        except (OSError, ValueError, AttributeError) as e:
            print(f"warning: {path} is unreadable ({_one_line(e)}); its wall times are dropped")
            return {}

    def save(self, summary: dict | None = None) -> None:
        document = {
            "schema_version": SCHEMA_VERSION,
            "config": self.config,
            "complete": summary is not None,
            "baseline": self.baseline,
            "members": sorted(self.members, key=lambda r: (r["projection"], r["d"], r["seed"])),
            **(summary or {}),
        }
        atomic_write_json(self.results_path, document)
        atomic_write_json(
            self.out / "timings.json",
            {
                "backend": jax.default_backend(),
                "devices": len(jax.devices()),
                "members": self.timings,
            },
        )

    # training

    def _records(self, kind, keys, out, width, wall):
        """One record per member. A diverged member (a NaN/inf loss, or a non-finite
        metric) keeps no measured value: it can never count as reaching a threshold."""
        records = []
        values = np.asarray(self.exp.metric_fn(out), np.float64)
        for i, key in enumerate(keys):
            ok = bool(out["finite"][i]) and bool(np.isfinite(values[i]))
            measured = {
                name: float(v[i]) if ok and np.isfinite(v[i]) else None
                for name, v in sorted(out.items())
                if name not in ("finite", "z")
            }
            record = {
                **key,
                "width": width,
                "steps": self.steps,
                "status": "ok" if ok else "diverged",
                **measured,
                self.exp.metric: float(values[i]) if ok else None,
            }
            records.append(record)
            self.timings[f"{kind}/{key.get('d', '-')}/{key['seed']}"] = round(wall, 3)
        return records

    def _groups(self, sweep, init_args_one, n):
        """Members per group from a measured one-member step, printed."""
        state = jax.eval_shape(sweep.init, *init_args_one)
        state = jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype), state)
        if self.data is None:
            batch = None
        else:
            x, y = self.data.train_x, self.data.train_y
            batch = (
                jax.ShapeDtypeStruct((self.batch_size, *x.shape[1:]), x.dtype),
                jax.ShapeDtypeStruct((self.batch_size,), y.dtype),
            )
        per_member = program_bytes(sweep.update, state, batch)
        data_bytes = 0 if self.data is None else self.data.train_x.nbytes
        budget = max(self.budget - data_bytes, per_member)
        devices = self.mesh.devices.size
        size = group_size(n, per_member, budget, devices)
        print(
            f"  memory: {per_member / 2**20:.1f} MB per member (XLA memory analysis of a "
            f"one-member step), budget {budget / 2**20:.0f} MB per device -> groups of "
            f"{size} ({math.ceil(n / size)} group(s), {devices} device(s))"
        )
        return size

    def train(
        self, kind: str, sweep, keys: list[dict], init_args: list[np.ndarray], width: int
    ) -> None:
        """Trains the members ``keys`` in groups, saving after each group."""
        n = len(keys)
        size = self._groups(sweep, [a[:1] for a in init_args], n)
        with tqdm(
            total=n * self.steps,
            unit="member-step",
            unit_scale=True,
            desc=kind,
            leave=False,
            # In a log file (no terminal) the bar is written every 30 s, not redrawn.
            mininterval=1 if sys.stderr.isatty() else 30,
        ) as bar:  # closed (its line cleared) also when a group fails
            for g, start in enumerate(range(0, n, size)):
                self._train_group(kind, sweep, keys, init_args, width, size, g, start, bar)

    def _train_group(self, kind, sweep, keys, init_args, width, size, g, start, bar) -> None:
        """Trains group ``g`` (members ``start .. start + size``), then saves the results."""
        n = len(keys)
        t0 = time.perf_counter()
        sel = slice(start, start + size)
        # The group's in-flight checkpoint is named after its members, so a resumed
        # run finds it only for exactly the same group.
        ident = hashlib.sha256(
            json.dumps([self.config, keys[sel]], sort_keys=True).encode()
        ).hexdigest()[:16]
        checkpoint = GroupCheckpoint(
            self.out / "checkpoints" / f"{kind}-{ident}",
            identity={"config": self.config, "kind": kind, "members": keys[sel]},
        )
        try:
            out = train_group(
                sweep,
                tuple(a[sel] for a in init_args),
                steps=self.steps,
                data=self.data,
                batch_size=self.batch_size,
                shuffle_seed=self.exp.shuffle_seed,
                per_member_shuffle=self.args.per_member_shuffle,
                group_size=size,
                mesh=self.mesh,
                on_steps=bar.update,
                checkpoint=checkpoint,
                checkpoint_every=self.args.checkpoint_every,
            )
        except CheckpointError as e:
            raise UserError(f"--resume: {e}") from None
        wall = time.perf_counter() - t0
        records = self._records(kind, keys[sel], out, width, wall)
        if kind == "baseline":
            self.baseline += records
        else:
            self.members += records
        self.save()
        checkpoint.clear()
        with contextlib.suppress(OSError):  # only if no other group's checkpoint is left
            checkpoint.directory.parent.rmdir()
        values = [r[self.exp.metric] for r in records if r[self.exp.metric] is not None]
        best = (max if self.exp.higher_is_better else min)(values) if values else None
        diverged = sum(r["status"] == "diverged" for r in records)
        ds = [r["d"] for r in records if "d" in r]
        span = f", d {min(ds)}..{max(ds)}" if ds else ""
        tqdm.write(
            f"  {kind} group {g + 1}/{math.ceil(n / size)}: {len(records)} members"
            f"{span}, {wall:.1f} s, best {self.exp.metric} "
            f"{best if best is None else f'{best:.4g}'}, {diverged} diverged"
        )

    def run_baseline(self) -> float | None:
        if not self.exp.baseline:
            return None
        done = {r["seed"] for r in self.baseline}
        todo = [s for s in self.seeds if s not in done]
        if todo:
            print(f"baseline: full-parameter training, D = {self.D}, seeds {todo}")
            sweep = make_baseline(self.exp.task, self.exp.optimizer(self.baseline_lr))
            self.train("baseline", sweep, [{"seed": s} for s in todo], [np.array(todo)], 0)
        diverged = [r["seed"] for r in self.baseline if r[self.exp.metric] is None]
        if diverged:
            raise UserError(
                f"the full-parameter baseline diverged (seeds {diverged}: NaN/inf loss), so "
                f"there is no threshold to measure d_int against; lower --baseline-lr "
                f"(was {self.baseline_lr:g}) and start again with --overwrite"
            )
        return float(np.mean([r[self.exp.metric] for r in self.baseline]))

    def run_dims(self, projection: str, dims: Sequence[int]) -> tuple[list[int], list[float]]:
        """Trains the missing (d, seed) members of ``dims``; returns (ds, values) of all."""
        done = {(r["d"], r["seed"]) for r in self.members if r["projection"] == projection}
        todo = [(d, s) for d in dims for s in self.seeds if (d, s) not in done]
        if todo:
            width = max(dims)
            print(
                f"{projection}: {len(todo)} members, d in {sorted({d for d, _ in todo})}, "
                f"z padded to {width}"
            )
            sweep = make_sweep(
                self.exp.task, self.exp.optimizer(self.lr), projection=projection, width=width
            )
            keys = [{"projection": projection, "d": d, "seed": s} for d, s in todo]
            init_args = [np.array([d for d, _ in todo]), np.array([s for _, s in todo])]
            self.train(projection, sweep, keys, init_args, width)
        rows = [r for r in self.members if r["projection"] == projection and r["d"] in dims]
        return (
            [r["d"] for r in rows],
            [np.nan if r[self.exp.metric] is None else r[self.exp.metric] for r in rows],
        )


def check_out(out: Path) -> None:
    """Refuses an output folder that cannot be written, before any work."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"--out {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out {out}: {parent} is not writable")


def check_records(records, keys: Sequence[str]) -> str | None:
    """What is wrong with a list of result records read from a file, or None."""
    if not isinstance(records, list):
        return "is not a list"
    for i, r in enumerate(records):
        missing = [k for k in keys if not isinstance(r, dict) or k not in r]
        if missing:
            return f"record {i} lacks {', '.join(missing)}"
        if r["status"] not in ("ok", "diverged") or not all(
            isinstance(r[k], int) and not isinstance(r[k], bool) for k in keys if k in ("d", "seed")
        ):
            return f"record {i} is malformed: {r!r}"
    return None


def write_csv(path: Path, members: list[dict], baseline: list[dict], timings: dict) -> None:
    """``results.csv``: one row per member (and per baseline seed, projection "baseline")."""
    rows = [{"projection": "baseline", **r} for r in baseline] + members
    fields = ["projection", "d", "seed", "width", "steps", "status"]
    fields += sorted({k for r in rows for k in r} - set(fields)) + ["wall_time_s"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        key = f"{r['projection'] if 'd' in r else 'baseline'}/{r.get('d', '-')}/{r['seed']}"
        writer.writerow({**r, "wall_time_s": timings.get(key)})
    atomic_write_bytes(path, buf.getvalue().encode())


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; a mistake in flags or files exits with code 2 and one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for name in configs.specs():
            print(f"{name:30s} {configs.describe(name)}")
        return 0
    try:
        return _run(Run(args))
    except UserError as e:
        parser.exit(2, f"error: {_one_line(e)}\n")


def _run(run: Run) -> int:
    args, exp = run.args, run.exp
    print(
        f"{exp.name}: D = {run.D}, d in {run.dims}, seeds {run.seeds}, projections "
        f"{run.projections}, {run.steps} steps per member; {len(jax.devices())} "
        f"{jax.default_backend()} device(s)"
    )
    baseline = run.run_baseline()
    threshold = exp.threshold if exp.threshold is not None else exp.fraction * baseline
    if baseline is not None:
        print(f"baseline {exp.metric} = {baseline:.4f} -> threshold {threshold:.4f}")

    summary = {"baseline_metric": baseline, "threshold": threshold, "d_int": {}}
    for projection in run.projections:
        if args.refine:
            result = search(
                lambda dims, p=projection: run.run_dims(p, dims),
                run.dims,
                threshold,
                higher_is_better=exp.higher_is_better,
                k=REFINE_K,
            )
            ds, values = result.ds, result.values
            rounds = [list(r) for r in result.rounds]
        else:
            ds, values = run.run_dims(projection, run.dims)
            rounds = [run.dims]
        point = d_int(ds, values, threshold, higher_is_better=exp.higher_is_better)
        lo, hi = bootstrap_d_int(ds, values, threshold, higher_is_better=exp.higher_is_better)
        summary["d_int"][projection] = {
            "d": point.d,
            "interpolated": point.interpolated,
            "ci90": [None if not np.isfinite(lo) else lo, None if not np.isfinite(hi) else hi],
            "compression": None if point.d is None else run.D / point.d,
            "rounds": rounds,
        }
    run.save(summary)
    # Every group is done: no checkpoint is needed any more, including one left behind by
    # a run killed while it was cleaning up.
    shutil.rmtree(run.out / "checkpoints", ignore_errors=True)
    write_csv(run.out / "results.csv", run.members, run.baseline, run.timings)
    plot_sweep(
        run.out / "sweep.png",
        run.members,
        metric=exp.metric,
        label=exp.label,
        threshold=threshold,
        d_ints={p: v["d"] for p, v in summary["d_int"].items()},
        baseline=baseline,
        log_y=not exp.higher_is_better,
        title=f"{exp.name}: D = {run.D:,}",
    )

    print(f"\nmean {exp.metric} over seeds")
    print("       d  " + "  ".join(f"{p:>10}" for p in run.projections))
    table = {
        p: dict(
            zip(
                *mean_by_d(
                    [r["d"] for r in run.members if r["projection"] == p],
                    [
                        np.nan if r[exp.metric] is None else r[exp.metric]
                        for r in run.members
                        if r["projection"] == p
                    ],
                ),
                strict=True,
            )
        )
        for p in run.projections
    }
    for d in sorted({d for p in table for d in table[p]}):
        cells = [f"{table[p][d]:10.4g}" if d in table[p] else f"{'':10}" for p in run.projections]
        print(f"{d:8d}  " + "  ".join(cells))
    print(f"\nwrote results.json, results.csv, timings.json and sweep.png to {run.out}")
    for p, v in summary["d_int"].items():
        if v["d"] is not None:
            ci = ", ".join("inf" if c is None else f"{c:g}" for c in v["ci90"])
            print(
                f"{p}: interpolated {v['interpolated']:.4g}, 90% bootstrap interval "
                f"[{ci}], compression D/d = {v['compression']:.1f}"
            )
    for p, v in summary["d_int"].items():
        value = v["d"] if v["d"] is not None else f"> {max(run.dims)} (not reached)"
        print(f"{p}: {exp.label} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
