"""Bounding a measurement's members in one call against one call per member.

    python -m experiments.benchmark.bounds [--config mnist_fc] [--data-dir DIR] [--out DIR]

Reads the committed measurement of ``--config`` (its trained networks) and bounds its
members with ``subspace.bounds.bound_members`` twice, in one process, side by side: all
members in one call (grouped as ``measure`` groups them) and one call per member, each
with L = 7 and 100 fine-tuning steps, compilation included. Checks that both give the
same quantised errors and message lengths (the grouping changes the rounding of the
fine-tuning, so they are compared to 1e-3 in error, 5% in bits), and writes
``bounds_batched.json`` to ``--out`` (default ``experiments/results/benchmark``): both
wall times, the ratio, the members and the load average.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from experiments import config as configs
from experiments.benchmark.timing import load_average, machine_info
from experiments.io import atomic_write_json
from experiments.run import _load_data

ROOT = Path(__file__).resolve().parents[2]


def compare(name: str, data_dir: str | None) -> dict:
    import subspace
    from subspace import bounds

    exp = configs.load(name)
    task, data = exp.task.build(), _load_data(exp, data_dir, False)
    result = subspace.SweepResult.load(ROOT / "experiments" / "results" / name.replace(":", "_"))
    q = bounds.Quantisation(levels=(7,), steps=100, batch_size=exp.schedule.batch_size)
    record = {
        "config": name,
        "members": len(result.members),
        "load_average_at_start": load_average(),
    }
    start = time.perf_counter()
    together = bounds.bound_members(result, task, data, quantisation=q)
    record["one_call_s"] = time.perf_counter() - start
    start = time.perf_counter()
    alone = []
    for member in [m for m in result.members if m.get("status", "ok") == "ok"]:
        one = dataclasses.replace(result, members=[member])
        alone += bounds.bound_members(one, task, data, quantisation=q)
    record["one_call_per_member_s"] = time.perf_counter() - start
    record["speedup"] = record["one_call_per_member_s"] / record["one_call_s"]
    record["same_errors_and_bits"] = all(
        abs(a["train_error"] - b["train_error"]) <= 1e-3
        and abs(a["message_bits"] - b["message_bits"]) <= 0.05 * b["message_bits"]
        for a, b in zip(together, alone, strict=True)
    )
    record["load_average_at_end"] = load_average()
    record["machine"] = machine_info()
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmark.bounds")
    parser.add_argument("--config", default="mnist_fc")
    parser.add_argument("--data-dir")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/benchmark")
    args = parser.parse_args(argv)
    record = compare(args.config, args.data_dir)
    atomic_write_json(args.out / "bounds_batched.json", record)
    print(
        f"{args.config}: {record['members']} members bounded in {record['one_call_s']:.1f} s "
        f"in one call, {record['one_call_per_member_s']:.1f} s one call per member "
        f"({record['speedup']:.2f}x); same errors and bits: {record['same_errors_and_bits']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
