"""How ``measure`` groups members, timed: batched, one after another, and its own choice.

    python -m experiments.benchmark.grouping [--quick] [--repeats N] [--out DIR]

Two measurements of the kind where batching members can be slower on a CPU than training
them one at a time, each run whole (``subspace.measure``, compilation, timing and
evaluation included) with four groupings: ``"memory"`` (every member in the largest
group that fits: batched), ``1`` (one member after another), ``"auto"`` (what ``measure``
picks by timing a step of each, on a machine that has timed nothing: an empty
``SUBSPACE_CACHE_DIR``) and ``"auto-kept"`` (the same, with the step times an earlier
measurement of the same model kept: a warm-up run, not timed, fills that folder first).
Every run is a fresh process (nothing compiled is shared between them); the order of the
four rotates between repeats and the median of the repeats is reported:

* ``cnn``: an NNX CNN (conv 3×3 1→8 stride 2, conv 3×3 8→16 stride 2, dense 784→10; D =
  9,098) on MNIST-shaped random data (6,400 training and 1,000 test images, batch 64),
  d in 16, 64, 256, 1,024, 4,096 × 2 seeds, fastfood, 3 epochs (1 with ``--quick``), the
  full-parameter baseline too;
* ``es``: the ``cartpole_es`` config (ES on CartPole-v1, 50 members and 5 baseline seeds,
  50 generations of 64; ``--quick``: 10 generations).

Writes ``grouping.json`` to ``--out`` (default ``experiments/results/benchmark``;
``benchmark_quick`` with ``--quick``): per case and grouping, the wall times of every
repeat, their median, member-steps per second, the group sizes each run recorded, d_int,
and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from experiments.benchmark.timing import load_average, machine_info
from experiments.io import atomic_write_json

GROUPINGS = ("memory", "1", "auto", "auto-kept")
ROOT = Path(__file__).resolve().parents[2]


def _cnn(group_size: str, out: Path, quick: bool) -> None:
    """One measurement of the CNN case (run in its own process)."""
    import numpy as np
    from flax import nnx

    import subspace

    class CNN(nnx.Module):
        def __init__(self, rngs):
            self.conv1 = nnx.Conv(1, 8, (3, 3), strides=2, rngs=rngs)
            self.conv2 = nnx.Conv(8, 16, (3, 3), strides=2, rngs=rngs)
            self.out = nnx.Linear(7 * 7 * 16, 10, rngs=rngs)

        def __call__(self, x):
            x = nnx.relu(self.conv2(nnx.relu(self.conv1(x))))
            return self.out(x.reshape((x.shape[0], -1)))

    rng = np.random.default_rng(0)
    x = rng.normal(size=(7400, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, 7400).astype(np.int32)
    subspace.measure(
        subspace.nnx_task(CNN),
        data=subspace.Data(x[:6400], y[:6400], x[6400:], y[6400:]),
        dims=[16, 64, 256, 1024, 4096],
        seeds=2,
        epochs=1 if quick else 3,
        batch_size=64,
        optimizer=subspace.Optimizer("adam", 1e-2),
        baseline=subspace.Optimizer("adam", 1e-3),
        group_size=group_size if group_size in ("memory", "auto") else int(group_size),
        out=out,
        overwrite=True,
        progress=False,
    )


def _es(group_size: str, out: Path, quick: bool) -> None:
    """One measurement of the ES case (run in its own process)."""
    from experiments import run

    argv = ["cartpole_es", "--out", str(out), "--overwrite", "--set"]
    argv += [
        f"run.group_size={json.dumps(group_size if not group_size.isdigit() else int(group_size))}"
    ]
    if quick:
        argv += ["--steps", "10"]
    run.main(argv)


CASES = {"cnn": _cnn, "es": _es}


def _timed_run(case: str, grouping: str, quick: bool, kept: str) -> dict:
    """Runs one measurement in a fresh process; its wall time and what it recorded.
    ``kept``: the step-times folder of ``"auto-kept"``; any other grouping gets an empty one."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "m"
        command = [sys.executable, "-m", "experiments.benchmark.grouping", "--run", case]
        command += ["--grouping", grouping.removesuffix("-kept"), "--into", str(out)]
        command += ["--quick"] if quick else []
        env = dict(os.environ, SUBSPACE_CACHE_DIR=kept if grouping == "auto-kept" else folder)
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{case} with group_size={grouping} failed:\n{done.stderr[-3000:]}")
        results = json.loads((out / "results.json").read_text())
    members = len(results["members"]) + len(results["baseline"])
    return {
        "wall_s": wall,
        "member_steps": members * results["steps"],
        "group_sizes": results["group_sizes"],
        "d_int": results["d_int"]["fastfood"]["d"],
    }


def compare(quick: bool, repeats: int) -> dict:
    """Every case with every grouping, ``repeats`` times, the order rotating."""
    record = {"quick": quick, "repeats": repeats, "load_average_at_start": load_average()}
    for case in CASES:
        runs: dict[str, list[dict]] = {g: [] for g in GROUPINGS}
        kept = tempfile.mkdtemp(prefix="subspace-step-times-")
        print(f"  grouping, {case}, warm-up of auto-kept (not timed)", flush=True)
        _timed_run(case, "auto-kept", quick, kept)
        for r in range(repeats):
            k = r % len(GROUPINGS)
            for grouping in GROUPINGS[k:] + GROUPINGS[:k]:
                print(f"  grouping, {case}, group_size={grouping}, repeat {r + 1}", flush=True)
                runs[grouping].append(_timed_run(case, grouping, quick, kept))
        shutil.rmtree(kept, ignore_errors=True)
        record[case] = {}
        for grouping, done in runs.items():
            wall = statistics.median(d["wall_s"] for d in done)
            record[case][grouping] = {
                "wall_s": [d["wall_s"] for d in done],
                "median_s": wall,
                "member_steps_per_s": done[0]["member_steps"] / wall,
                "group_sizes": done[0]["group_sizes"],
                "d_int": [d["d_int"] for d in done],
            }
        one = record[case]["1"]["median_s"]
        for grouping in GROUPINGS:
            record[case][grouping]["speedup_over_one_at_a_time"] = (
                one / record[case][grouping]["median_s"]
            )
    record["load_average_at_end"] = load_average()
    record["machine"] = machine_info()
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmark.grouping")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--run", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--grouping", choices=GROUPINGS, help=argparse.SUPPRESS)
    parser.add_argument("--into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:  # one measurement, in the process the comparison started for it
        CASES[args.run](args.grouping, args.into, args.quick)
        return 0
    repeats = args.repeats or (1 if args.quick else 3)
    out = args.out or ROOT / "experiments/results" / (
        "benchmark_quick" if args.quick else "benchmark"
    )
    record = compare(args.quick, repeats)
    atomic_write_json(out / "grouping.json", record)
    for case in CASES:
        cells = ", ".join(
            f"{g}: {record[case][g]['median_s']:.1f} s ({record[case][g]['group_sizes']})"
            for g in GROUPINGS
        )
        print(f"{case}: {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
