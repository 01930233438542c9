"""The main job: measure the intrinsic dimension of the toy problem (known answer: 10).

    python -m experiments.run                      # d = 1..20, 3 seeds, all projections
    python -m experiments.run --seed 7 --dims 5,9,10,11 --projection fastfood --out /tmp/toy

For every projection, all (d, seed) members are trained at once in one compiled program
(z padded to the largest d, see :mod:`subspace.sweep`). Prints a table of the mean relative
final loss per d, writes ``results.json`` and ``toy.png`` to ``--out`` and ends with one
line per projection, ``fastfood: d_int100 = 10``. Takes about 20 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np
from jax.sharding import Mesh

from experiments import toy
from experiments.io import atomic_write_bytes, atomic_write_json, read_json
from subspace.intrinsic import d_int, mean_by_d
from subspace.projections import PROJECTIONS
from subspace.sharding import constrain_members, member_array, member_mesh, pad_members
from subspace.sweep import make_sweep

SCHEMA_VERSION = 1
DEFAULT_OUT = Path("experiments/results/toy")


def parse_dims(text: str) -> list[int]:
    """``"1..20"``, ``"2,4,8"`` or ``"geom:LO:HI:N"`` (N geometric values, rounded, unique)."""
    try:
        if text.startswith("geom:"):
            lo, hi, n = (int(v) for v in text[5:].split(":"))
            if not 1 <= lo <= hi or n < 1:
                raise ValueError
            dims = sorted({int(round(v)) for v in np.geomspace(lo, hi, n)})
        elif ".." in text:
            lo, hi = (int(v) for v in text.split(".."))
            dims = list(range(lo, hi + 1))
        else:
            dims = sorted({int(v) for v in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--dims must be LO..HI, a comma-separated list of integers or geom:LO:HI:N; "
            f"got {text!r}"
        ) from None
    if not dims or dims[0] < 1 or dims[-1] > toy.D:
        raise argparse.ArgumentTypeError(
            f"--dims values must be integers in [1, D={toy.D}]; got {text!r}"
        )
    return dims


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.run",
        description="Intrinsic dimension of the toy problem (D = 1000, d_int100 = 10).",
    )
    parser.add_argument(
        "--dims",
        type=parse_dims,
        default=list(range(1, 21)),
        help="grid of d: LO..HI, a list 2,4,8 or geom:LO:HI:N (default 1..20)",
    )
    parser.add_argument("--seeds", type=_positive_int, default=3, help="seeds per d (default 3)")
    parser.add_argument(
        "--seed", type=int, default=0, help="first seed; members use seed, seed+1, ... (default 0)"
    )
    parser.add_argument("--projection", choices=[*PROJECTIONS, "all"], default="all")
    parser.add_argument(
        "--steps",
        type=_positive_int,
        default=toy.STEPS,
        help=f"L-BFGS steps per member (default {toy.STEPS})",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the finished groups (projections) of a results.json with the same config",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    return parser


def train_projection(
    projection: str,
    dims: Sequence[int],
    seeds: Sequence[int],
    steps: int,
    mesh: Mesh | None = None,
):
    """Trains every (d, seed) member of one projection in one compiled program.

    The member axis is split over ``mesh`` (default: all devices); the member count is
    padded to a multiple of the device count and the copies dropped.

    Returns per-member arrays (ds, seeds, initial loss, final loss) as numpy.
    """
    mesh = member_mesh() if mesh is None else mesh
    sweep = make_sweep(toy.TASK, toy.optimizer(), projection=projection, width=max(dims))
    ds = np.repeat(np.asarray(dims), len(seeds))
    member_seeds = np.tile(np.asarray(seeds), len(dims))
    n, size = len(ds), mesh.devices.size

    @jax.jit
    def run(ds, member_seeds):
        state = constrain_members(sweep.init(ds, member_seeds), mesh)
        initial = sweep.evaluate(state, None)["loss"]

        def body(state, _):
            state, metrics = sweep.update(state, None)
            return constrain_members(state, mesh), metrics

        state, _ = jax.lax.scan(body, state, None, length=steps)
        return initial, sweep.evaluate(state, None)["loss"]

    initial, final = run(
        member_array(pad_members(ds, size), mesh),
        member_array(pad_members(member_seeds, size), mesh),
    )
    return ds, member_seeds, np.asarray(initial)[:n], np.asarray(final)[:n]


def plot(path: Path, runs: dict, tolerance: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for (name, members), color in zip(runs.items(), ["C0", "C1", "C2"], strict=False):
        ds = np.array([m["d"] for m in members])
        rel = np.array(
            [np.nan if m["relative_loss"] is None else m["relative_loss"] for m in members]
        )
        ax.scatter(ds, np.maximum(rel, 1e-18), s=10, color=color, alpha=0.5)
        grid, mean = mean_by_d(ds, rel)
        ax.plot(grid, np.maximum(mean, 1e-18), "-o", ms=3, color=color, label=name)
    ax.axhline(tolerance, color="k", ls="--", lw=1, label=f"tolerance {tolerance:g}")
    ax.axvline(10, color="grey", ls=":", lw=1, label="known answer d = 10")
    ax.set_yscale("log")
    ax.set_xlabel("subspace dimension d")
    ax.set_ylabel("final loss / initial loss")
    ax.set_title("Toy problem (D = 1000): d_int100 = first d below tolerance")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None  # JSON has no NaN/inf: null


def member_records(ds, member_seeds, initial, final) -> list[dict]:
    """One record per member; a non-finite final loss is ``diverged`` and not solved."""
    records = []
    for d, s, i, f in zip(ds, member_seeds, initial, final, strict=True):
        rel = f / i
        diverged = not np.isfinite(rel)
        records.append(
            {
                "d": int(d),
                "seed": int(s),
                "initial_loss": _finite(i),
                "final_loss": _finite(f),
                "relative_loss": _finite(rel),
                "solved": bool(not diverged and rel <= toy.TOLERANCE),
                "status": "diverged" if diverged else "ok",
            }
        )
    return records


def load_previous(path: Path, config: dict, resume: bool) -> dict:
    """The finished groups of an earlier run with the same config, or {} for a new run.

    A corrupt file, or one written with another config, is refused, never overwritten.
    """
    if not path.exists():
        return {}
    previous = read_json(path)
    if not isinstance(previous, dict) or previous.get("schema_version") != SCHEMA_VERSION:
        raise SystemExit(
            f"error: {path} is not a results file of schema version {SCHEMA_VERSION}; "
            "refusing to overwrite it: choose another --out or remove it"
        )
    if previous.get("config") != config:
        old = previous.get("config") or {}
        keys = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
        raise SystemExit(
            f"error: {path} was written with another config (differs in {', '.join(keys)}); "
            "refusing to overwrite it: choose another --out or remove it"
        )
    return previous.get("runs", {}) if resume else {}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    projections = list(PROJECTIONS) if args.projection == "all" else [args.projection]
    seeds = list(range(args.seed, args.seed + args.seeds))
    grid = [int(d) for d in args.dims]
    config = {
        "D": toy.D,
        "dims": grid,
        "seeds": seeds,
        "steps": args.steps,
        "optimizer": "optax.lbfgs()",
        "theta0_scale": toy.THETA0_SCALE,
        "tolerance": toy.TOLERANCE,
        "projections": projections,
    }
    results_path = args.out / "results.json"
    runs = load_previous(results_path, config, args.resume)
    print(
        f"toy problem: D = {toy.D}, d in {grid[0]}..{grid[-1]} ({len(grid)} values), "
        f"seeds {seeds}, {args.steps} L-BFGS steps, tolerance {toy.TOLERANCE:g} "
        f"(final/initial loss); {len(jax.devices())} {jax.default_backend()} device(s)"
    )

    def document(runs: dict) -> dict:
        done = [p for p in projections if p in runs]
        d_ints = {
            p: d_int(
                [m["d"] for m in runs[p]],
                [np.nan if m["relative_loss"] is None else m["relative_loss"] for m in runs[p]],
                toy.TOLERANCE,
                higher_is_better=False,
            )
            for p in done
        }
        return {
            "schema_version": SCHEMA_VERSION,
            "experiment": "toy",
            "config": config,
            "complete": len(done) == len(projections),
            "runs": {p: runs[p] for p in done},
            "d_int100": {p: d_ints[p].d for p in done},
            "d_int100_interpolated": {p: d_ints[p].interpolated for p in done},
        }

    # One group per projection: its members train in one program, then the results are
    # written atomically, so an interruption loses at most the group in flight.
    wall = {}
    for projection in projections:
        if projection in runs:
            print(f"{projection}: finished in an earlier run (--resume), skipped")
            continue
        start = time.perf_counter()
        ds, member_seeds, initial, final = train_projection(projection, grid, seeds, args.steps)
        wall[projection] = round(time.perf_counter() - start, 3)
        runs[projection] = member_records(ds, member_seeds, initial, final)
        diverged = sum(m["status"] == "diverged" for m in runs[projection])
        print(
            f"{projection}: {len(ds)} members in one program, {wall[projection]:.1f} s, "
            f"{diverged} diverged"
        )
        atomic_write_json(results_path, document(runs))

    results = document(runs)
    atomic_write_json(results_path, results)
    write_csv(args.out / "results.csv", runs, projections)
    atomic_write_json(
        args.out / "timings.json",
        {"wall_time_s": wall, "backend": jax.default_backend(), "devices": len(jax.devices())},
    )
    plot(args.out / "toy.png", runs, toy.TOLERANCE)

    print("\nmean final/initial loss over seeds")
    print("    d  " + "  ".join(f"{p:>10}" for p in projections))
    means = {
        p: mean_by_d(
            [m["d"] for m in runs[p]],
            [np.nan if m["relative_loss"] is None else m["relative_loss"] for m in runs[p]],
        )[1]
        for p in projections
    }
    for i, d in enumerate(grid):
        print(f"{d:5d}  " + "  ".join(f"{means[p][i]:10.2e}" for p in projections))
    print(f"\nwrote results.json, results.csv, timings.json and toy.png to {args.out}")
    for p in projections:
        value = results["d_int100"][p]
        print(f"{p}: d_int100 = {value if value is not None else f'> {grid[-1]} (not reached)'}")
    return 0


def write_csv(path: Path, runs: dict, projections: Sequence[str]) -> None:
    """``results.csv``: one row per member."""
    fields = [
        "projection",
        "d",
        "seed",
        "initial_loss",
        "final_loss",
        "relative_loss",
        "solved",
        "status",
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for p in projections:
        for m in runs[p]:
            writer.writerow({"projection": p, **m})
    atomic_write_bytes(path, buf.getvalue().encode())


if __name__ == "__main__":
    sys.exit(main())
