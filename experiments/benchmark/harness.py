"""The benchmark's sizes, its run from start to end, and the command line."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from experiments.benchmark.es import compare_es
from experiments.benchmark.hadamard import compare_fwht
from experiments.benchmark.memory import state_records
from experiments.benchmark.plots import write_plots
from experiments.benchmark.steps import Net, grid, param_count, step_records
from experiments.benchmark.summary import format_summary
from experiments.benchmark.sweep import compare_sweep
from experiments.benchmark.targets import evaluate_targets
from experiments.benchmark.timing import load_average, machine_info
from experiments.io import atomic_write_json, read_json
from models import FC, LeNet

__all__ = [
    "FULL",
    "QUICK",
    "SCHEMA_VERSION",
    "Sizes",
    "main",
    "merge_es",
    "run",
    "run_benchmark",
]

# 2: the ES comparison ("es", part_wall_s["es"]); a file of version 1 has no "es".
SCHEMA_VERSION = 2
MNIST = (28, 28, 1)
ALL = ("dense", "sparse", "fastfood", "kronqr")
FASTFOOD_VARIANTS = ("fastfood_butterfly", "fastfood_shared")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What the benchmark measures and how long it times each thing.

    Attributes:
      step_nets: networks whose step is timed at each of their (projection, d) points.
      scaling_nets: networks of growing D, timed with every projection at ``scaling_d``.
      scaling_d: d of the comparison against D.
      projections: projections of the comparison against D and of the state sizes.
      batch_size: examples per step.
      repeats: timed repeats per measurement (the median is reported, with the IQR).
      min_repeat_s: calls per repeat are raised until one repeat lasts this long.
      dense_max_bytes: the memory budget of a dense P; above it ``subspace.projections.dense``
        refuses and the measurement is recorded as skipped.
      fwht_sizes: the Walsh–Hadamard comparison's sizes: a length n (one 1-D transform)
        or a shape (a batch over the last axis, as fastfood runs it).
      sweep_net, sweep_dims: the network and the values of d of the sweep comparison.
      sweep_examples: training examples of the sweep (random, MNIST's size in full).
      sweep_steps: steps of the sweep; None is one epoch.
      sweep_projection: the projection of the sweep.
      es_dims, es_seeds: the members (every d with every seed) of the ES comparison
        (CartPole-v1, fastfood, width max(es_dims)); empty es_dims skips it.
      es_generations, es_population: ES generations and population of every member.
      es_max_steps: episode length cap (None: CartPole's 500).
      es_steady_repeats: timed repeats of both runs with their programs compiled.
    """

    step_nets: tuple[Net, ...]
    scaling_nets: tuple[Net, ...]
    scaling_d: int
    projections: tuple[str, ...]
    batch_size: int
    repeats: int
    min_repeat_s: float
    dense_max_bytes: int
    fwht_sizes: tuple[int | tuple[int, ...], ...]
    sweep_net: Net
    sweep_dims: tuple[int, ...]
    sweep_examples: int
    sweep_steps: int | None
    sweep_projection: str = "fastfood"
    es_dims: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16)
    es_seeds: tuple[int, ...] = (0, 1, 2)
    es_generations: int = 20
    es_population: int = 64
    es_max_steps: int | None = None
    es_steady_repeats: int = 3


MNIST_FC = Net("MNIST FC", FC(width=200, depth=2), MNIST)  # D = 199,210
MNIST_LENET = Net("MNIST LeNet", LeNet(), MNIST)  # D = 44,426

FULL = Sizes(
    step_nets=(
        MNIST_FC._replace(
            points=grid(ALL, (10, 100, 1000, 10_000))
            + grid((*FASTFOOD_VARIANTS, "fastfood_one_block"), (100, 1000, 10_000))
        ),
        MNIST_LENET._replace(
            points=grid(ALL, (10, 100, 300, 1000, 10_000)) + grid(FASTFOOD_VARIANTS, (300,))
        ),
    ),
    scaling_nets=(
        Net("FC 784-120-120-10", FC(width=120, depth=2), MNIST),  # D = 109,930
        Net("FC 784-1000-10", FC(width=1000, depth=1), MNIST),  # D = 795,010
        Net("FC 784-1000-1000-10", FC(width=1000, depth=2), MNIST),  # D = 1,796,010
    ),
    scaling_d=1000,
    projections=ALL,
    batch_size=128,
    repeats=15,
    min_repeat_s=0.2,
    dense_max_bytes=2**30,  # the library's default
    fwht_sizes=(*(2**k for k in range(10, 23)), (195, 1024), (13, 16384)),
    sweep_net=MNIST_FC,
    sweep_dims=tuple(range(100, 1700, 100)),
    sweep_examples=60_000,
    sweep_steps=None,
)

# The targets' points (every projection on MNIST FC at d = 1000), fastfood's flatness in
# d, one net of ~1M parameters against D; the sweep keeps its 16 members (its cost is
# mostly compilation, 16 programs in the sequential loop).
QUICK = dataclasses.replace(
    FULL,
    step_nets=(
        MNIST_FC._replace(
            points=grid(ALL, (1000,))
            + grid(("fastfood",), (100, 10_000))
            + grid(FASTFOOD_VARIANTS, (1000,))
        ),
        MNIST_LENET._replace(points=grid(("fastfood",), (300,))),
    ),
    scaling_nets=FULL.scaling_nets[1:2],
    repeats=5,
    min_repeat_s=0.05,
    dense_max_bytes=2**28,  # MNIST FC's dense P at d = 1000 (800 MB) is left to the full run
    fwht_sizes=(*(2**k for k in (10, 14, 16, 18, 20)), (195, 1024)),
    sweep_examples=2000,
    sweep_steps=15,
    es_dims=(2, 4, 8),
    es_seeds=(0, 1),
    es_generations=5,
    es_population=32,
    es_steady_repeats=3,
)


def run_benchmark(sizes: Sizes, *, quick: bool = False) -> dict:
    """Runs every part of the benchmark in this process; returns the results document."""
    start = time.perf_counter()
    machine = machine_info()
    common = {
        "batch_size": sizes.batch_size,
        "repeats": sizes.repeats,
        "min_repeat_s": sizes.min_repeat_s,
        "dense_max_bytes": sizes.dense_max_bytes,
    }
    part_wall_s = {}

    def part(name: str, title: str, measure_part: Callable[[], Any]) -> Any:
        print(title, flush=True)
        part_start = time.perf_counter()
        result = measure_part()
        part_wall_s[name] = time.perf_counter() - part_start
        print(f"  ({name}: {part_wall_s[name]:.1f} s)", flush=True)
        return result

    def scaling_records() -> list[dict]:
        records = [r for r in steps if r["model"] == "MNIST FC" and r["d"] in (None, d_scaling)]
        for net in sizes.scaling_nets:
            points = grid(sizes.projections, (d_scaling,))
            records += step_records(net._replace(points=points), **common)
        return sorted(records, key=lambda r: (r["D"], r["projection"] != "plain"))

    d_scaling = sizes.scaling_d
    steps = part(
        "steps",
        f"step time, batch {sizes.batch_size}, Adam ({sizes.repeats} repeats)",
        lambda: [r for net in sizes.step_nets for r in step_records(net, **common)],
    )
    scaling = part("scaling", f"step time against D, d = {d_scaling}", scaling_records)
    fwht = part(
        "fwht",
        "Walsh-Hadamard transform",
        lambda: compare_fwht(
            sizes.fwht_sizes, repeats=sizes.repeats, min_repeat_s=sizes.min_repeat_s
        ),
    )
    sweep = part(
        "sweep",
        f"sweep of {len(sizes.sweep_dims)} values of d",
        lambda: compare_sweep(
            sizes.sweep_net,
            sizes.sweep_dims,
            examples=sizes.sweep_examples,
            steps=sizes.sweep_steps,
            batch_size=sizes.batch_size,
            projection=sizes.sweep_projection,
        ),
    )
    es = part("es", _es_title(sizes), lambda: measure_es(sizes)) if sizes.es_dims else None
    nets = [(n.name, param_count(n), sorted({d for _, d in n.points})) for n in sizes.step_nets]
    state_labels = (*sizes.projections, "fastfood_shared")
    memory = part("memory", "projection state", lambda: state_records(nets, state_labels))
    doc = {
        "schema_version": SCHEMA_VERSION,
        "quick": quick,
        "machine": {**machine, "load_average_at_end": load_average()},
        "settings": {
            **common,
            "projections": list(sizes.projections),
            "optimizer": "adam",
            "lr": 1e-3,
            "scaling_d": d_scaling,
            "subspace_passed_as": "argument",
        },
        "wall_time_s": time.perf_counter() - start,
        "part_wall_s": part_wall_s,
        "steps": steps,
        "scaling": scaling,
        "fwht": fwht,
        "sweep": sweep,
        "es": es,
        "memory": memory,
    }
    doc["targets"] = evaluate_targets(doc)
    return doc


def _es_title(sizes: Sizes) -> str:
    members = len(sizes.es_dims) * len(sizes.es_seeds)
    return (
        f"ES on CartPole-v1, {members} members, {sizes.es_generations} generations of "
        f"{sizes.es_population}"
    )


def measure_es(sizes: Sizes) -> dict:
    """The ES comparison (:func:`compare_es`) at ``sizes``."""
    return compare_es(
        sizes.es_dims,
        sizes.es_seeds,
        generations=sizes.es_generations,
        population=sizes.es_population,
        max_steps=sizes.es_max_steps,
        steady_repeats=sizes.es_steady_repeats,
    )


def merge_es(sizes: Sizes, out: Path, *, quick: bool = False) -> dict:
    """Measures only the ES comparison and merges it into ``out/benchmark.json``.

    The file must come from a run of the same mode (``quick``); its other parts, plots and
    machine record are kept, ``es`` and ``part_wall_s["es"]`` replaced, the targets
    re-evaluated and the schema version raised to this one. The ES record says it was
    measured apart (``"measured": "--only es"``) and carries its own load averages.
    """
    path = out / "benchmark.json"
    if not path.is_file():
        raise SystemExit(f"--only es merges into {path}, which does not exist; run the benchmark")
    doc = read_json(path)
    if doc.get("schema_version") not in (1, SCHEMA_VERSION) or doc.get("quick") != quick:
        raise SystemExit(
            f"{path}: schema version {doc.get('schema_version')}, quick={doc.get('quick')}; "
            f"--only es needs version 1 or {SCHEMA_VERSION} of the same mode (quick={quick})"
        )
    print(_es_title(sizes), flush=True)
    start = time.perf_counter()
    es = {**measure_es(sizes), "measured": "--only es"}
    doc["part_wall_s"]["es"] = time.perf_counter() - start
    doc["es"] = es
    doc["schema_version"] = SCHEMA_VERSION
    doc["targets"] = evaluate_targets(doc)
    atomic_write_json(path, doc)
    return doc


def write_results(out: Path, doc: dict) -> None:
    """The plots, then ``benchmark.json`` naming them, each written atomically."""
    doc["plots"] = write_plots(out, doc)
    atomic_write_json(out / "benchmark.json", doc)


def run(sizes: Sizes, out: Path, *, quick: bool = False) -> dict:
    """Runs the benchmark, writes its files to ``out`` and prints the summary."""
    doc = run_benchmark(sizes, quick=quick)
    write_results(out, doc)
    print("\n" + format_summary(doc))
    print(f"\nwrote benchmark.json and {', '.join(doc['plots'])} to {out}")
    return doc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.benchmark",
        description="Time subspace training against plain training, the Walsh-Hadamard "
        "transform against fht_cpu, and the batched sweep against a sequential loop.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer sizes, repeats and sweep steps (under two minutes on a 2-core CPU)",
    )
    parser.add_argument(
        "--only",
        choices=["es"],
        help="measure only this part and merge it into the benchmark.json in the output "
        "folder (written before by a run of the same mode)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output folder (default experiments/results/benchmark, or benchmark_quick)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    default = "benchmark_quick" if args.quick else "benchmark"
    out = args.out or Path("experiments/results") / default
    sizes = QUICK if args.quick else FULL
    if args.only == "es":
        doc = merge_es(sizes, out, quick=args.quick)
        print("\n" + format_summary(doc))
        print(f"\nmerged the ES comparison into {out / 'benchmark.json'}")
    else:
        run(sizes, out, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
