"""The two loop forms of ``train_group`` side by side: a compiled scan, one step per dispatch.

    python -m experiments.benchmark.loops [--quick] [--repeats N] [--cases A,B] [--out DIR]

XLA:CPU runs a convolution several times slower inside a compiled loop than in a program
of its own (jax-ml/jax#12868), so ``measure`` times both forms on a CPU and takes the
faster (:mod:`subspace._grouping`). This measures what that choice is worth on whole
training chunks: for each case and group size, ``subspace.train_group`` runs
``(repeats + 1) × chunk`` steps in each form (``loop="scan"`` and ``loop="steps"``), the
host noting the time at the end of every chunk; the first chunk (compilation) is dropped
and the median of the others, per step, is reported, with member-steps per second and
the ratio scan / steps. The two forms of a case run one after the other in one process,
the order alternating between cases. The data are random arrays of the data set's shape
(a step's time does not depend on the pixel values; no download), 1,280 training images.

Cases, each with a config's model, optimiser, batch size and projection:

* ``cifar_lenet_baseline``: CIFAR-10 LeNet (D = 62,006), the full-parameter baseline, one
  member (how the baseline trains);
* ``cifar_lenet_fastfood``: fastfood d = 12,000 (the sweep's width), groups of 1 and 21
  (21: the whole sweep in one group, as it trained before the loop form was chosen);
* ``mnist_fc_fastfood``: MNIST FC (D = 199,210), fastfood d = 1,000, groups of 1 and 8.

``--quick``: groups of 1 only, chunks of 2 steps, 2 repeats. Writes ``loops.json`` to
``--out`` (default ``experiments/results/benchmark``, ``benchmark_quick`` with ``--quick``)
with the load average before and after, and the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from experiments import config as configs
from experiments.benchmark.timing import load_average, machine_info
from experiments.io import atomic_write_json

ROOT = Path(__file__).resolve().parents[2]
TRAIN_IMAGES = 1280


class Case(NamedTuple):
    config: str
    projection: str | None  # None: the full-parameter baseline
    d: int | None
    groups: tuple[int, ...]
    chunk: int  # steps per timed chunk


CASES = {
    "cifar_lenet_baseline": Case("cifar_lenet", None, None, (1,), 8),
    "cifar_lenet_fastfood": Case("cifar_lenet", "fastfood", 12_000, (1, 21), 4),
    "mnist_fc_fastfood": Case("mnist_fc", "fastfood", 1_000, (1, 8), 16),
}


def _data(config: str):
    import subspace

    shape = (32, 32, 3) if config.startswith("cifar") else (28, 28, 1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((TRAIN_IMAGES + 128, *shape)).astype(np.float32)
    y = rng.integers(0, 10, len(x)).astype(np.int32)
    n = TRAIN_IMAGES
    return subspace.Data(x[:n], y[:n], x[n:], y[n:])


def time_case(name: str, case: Case, repeats: int, quick: bool, scan_first: bool) -> list[dict]:
    """Seconds per step of each group size of ``case`` in both loop forms."""
    import subspace

    exp = configs.load(case.config)
    task, schedule = exp.task.build(), exp.schedule
    if case.projection is None:
        sweep = subspace.make_baseline(task, schedule.baseline.build())
        d = sweep.width
    else:
        sweep = subspace.make_sweep(
            task, schedule.optimizer.build(), projection=case.projection, width=case.d
        )
        d = case.d
    data = _data(case.config)
    chunk = 2 if quick else case.chunk
    rows = []
    for g in (1,) if quick else case.groups:
        row = {"case": name, "config": case.config, "projection": case.projection or "baseline"}
        row.update(d=d, group_size=g, chunk=chunk, repeats=repeats)
        forms = ("scan", "steps") if scan_first else ("steps", "scan")
        for loop in forms:
            stamps = [time.perf_counter()]
            subspace.train_group(
                sweep,
                (np.full(g, d), np.arange(g)),
                steps=chunk * (repeats + 1),
                data=data,
                batch_size=schedule.batch_size,
                chunk=chunk,
                loop=loop,
                on_steps=lambda k, stamps=stamps: stamps.append(time.perf_counter()),
            )
            per_step = [b / chunk for b in np.diff(stamps)[1:]]  # the first chunk compiles
            row[f"{loop}_s_per_step"] = statistics.median(per_step)
            row[f"{loop}_member_steps_per_s"] = g / row[f"{loop}_s_per_step"]
        row["scan_over_steps"] = row["scan_s_per_step"] / row["steps_s_per_step"]
        print(
            f"{name}, group of {g}: scan {row['scan_s_per_step'] * 1e3:,.1f} ms a step, "
            f"one step per dispatch {row['steps_s_per_step'] * 1e3:,.1f} ms: "
            f"{row['scan_over_steps']:.2f}x",
            flush=True,
        )
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmark.loops")
    parser.add_argument("--quick", action="store_true", help="groups of 1, short chunks")
    parser.add_argument("--repeats", type=int, default=5, help="timed chunks per form")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--out", type=Path, help="folder to write loops.json to")
    args = parser.parse_args(argv)
    names = [c for c in args.cases.split(",") if c]
    unknown = [c for c in names if c not in CASES]
    if unknown or not names:
        parser.error(f"--cases must name some of {', '.join(CASES)}; got {args.cases!r}")
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1; got {args.repeats}")
    repeats = 2 if args.quick else args.repeats
    out = args.out or ROOT / "experiments/results" / (
        "benchmark_quick" if args.quick else "benchmark"
    )
    record = {"quick": args.quick, "load_average_at_start": load_average(), "rows": []}
    for i, name in enumerate(names):
        record["rows"] += time_case(name, CASES[name], repeats, args.quick, i % 2 == 0)
    record["load_average_at_end"] = load_average()
    record["machine"] = machine_info()
    atomic_write_json(out / "loops.json", record)
    print(f"wrote {out / 'loops.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
