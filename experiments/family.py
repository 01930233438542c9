"""Summary of the MNIST FC width/depth family: d_int90 against width and depth.

    python -m experiments.family [--results experiments/results]

Reads ``mnist_fc_family_<variant>/results.json`` for every variant of
``experiments/configs/mnist_fc_family.py`` that has been run, writes
``mnist_fc_family/summary.json`` and ``mnist_fc_family/family.png`` (the paper's Figure 4:
d_int90 varies little with width and depth), and lists the variants still to run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments.configs.mnist_fc_family import VARIANTS, parse_variant
from experiments.io import atomic_write_json, atomic_write_png, read_json


def collect(results: Path) -> list[dict]:
    """One row per finished variant: width, depth, D, baseline, d_int90 and interval."""
    rows = []
    for variant in VARIANTS:
        path = results / f"mnist_fc_family_{variant}" / "results.json"
        if not path.exists():
            continue
        doc = read_json(path)
        if not doc.get("complete"):
            continue
        width, depth = parse_variant(variant)
        d_int = doc["d_int"]["fastfood"]
        rows.append(
            {
                "variant": variant,
                "width": width,
                "depth": depth,
                "D": doc["D"],
                "baseline": doc["baseline_metric"],
                "d_int90": d_int["d"],
                "interpolated": d_int["interpolated"],
                "ci90": d_int["ci90"],
            }
        )
    return rows


def plot(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, key, fixed, label in (
        (axes[0], "width", ("depth", 2), "width (depth 2)"),
        (axes[1], "depth", ("width", 200), "depth (width 200)"),
    ):
        sel = sorted(
            (r for r in rows if r[fixed[0]] == fixed[1] and r["d_int90"]), key=lambda r: r[key]
        )
        ax.plot([r[key] for r in sel], [r["interpolated"] for r in sel], "-o")
        for r in sel:
            ax.annotate(f"D={r['D']:,}", (r[key], r["interpolated"]), fontsize=7)
        ax.set_xlabel(label)
    axes[0].set_ylabel("d_int90 (interpolated)")
    fig.suptitle("MNIST FC family: d_int90 against width and depth")
    fig.tight_layout()
    atomic_write_png(fig, path)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.family")
    parser.add_argument("--results", type=Path, default=Path("experiments/results"))
    args = parser.parse_args(argv)
    rows = collect(args.results)
    out = args.results / "mnist_fc_family"
    atomic_write_json(out / "summary.json", {"rows": rows})
    if rows:
        plot(out / "family.png", rows)
    for r in rows:
        print(
            f"{r['variant']}: D = {r['D']:,}, baseline {r['baseline']:.4f}, "
            f"d_int90 = {r['d_int90']} (interpolated {r['interpolated']})"
        )
    missing = [v for v in VARIANTS if v not in {r["variant"] for r in rows}]
    if missing:
        print("not run yet: " + ", ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
