"""The paper's Table 1 next to ours, from the committed results, as a Markdown table.

python -m experiments.table          # prints the table the README shows
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments.io import read_json

# (config, the paper's row, its D, its d_int90), from the paper's Table 1.
ROWS = (
    ("mnist_fc", "MNIST FC", 199_210, 750),
    ("mnist_fc_shuffled_pixels", "MNIST FC, shuffled pixels", 199_210, 750),
    ("mnist_lenet", "MNIST LeNet", 44_426, 290),
    ("mnist_lenet_shuffled_pixels", "MNIST LeNet, shuffled pixels", 44_426, 1_400),
    ("cifar_fc", "CIFAR-10 FC *", 656_810, 9_000),
    ("cifar_lenet", "CIFAR-10 LeNet *", 62_006, 2_900),
    ("mnist_shuffled_labels", "MNIST shuffled labels (reduced, train acc.)", 959_610, 190_000),
)


def _fmt(x: float | None) -> str:
    return "inf" if x is None else f"{x:,.0f}"


def table(results: Path) -> str:
    lines = [
        "| task | paper d_int90 | ours d_int90 (interpolated, 90% CI) | D | D/d_int90 | "
        "baseline | budget |",
        "|---|---|---|---|---|---|---|",
    ]
    for config, label, paper_D, paper in ROWS:
        path = results / config / "results.json"
        doc = read_json(path) if path.exists() else None
        if not doc or not doc.get("complete"):
            lines.append(f"| {label} | {paper:,} | not run yet | {paper_D:,} | | | |")
            continue
        c, v = doc["config"], doc["d_int"]["fastfood"]
        ours = (
            f"> {max(c['dims']):,} (not reached)"
            if v["d"] is None
            else f"{v['d']:,} ({v['interpolated']:,.0f}, [{_fmt(v['ci90'][0])}, "
            f"{_fmt(v['ci90'][1])}])"
        )
        ratio = "" if v["d"] is None else f"{c['D'] / v['d']:,.0f}×"
        budget = (
            f"{c['epochs']} epochs, batch {c['batch_size']}, Adam z {c['lr']:g} / "
            f"θ {c['baseline_lr']:g}, {len(c['seeds'])} seeds"
        )
        lines.append(
            f"| {label} | {paper:,} | {ours} | {c['D']:,} | {ratio} | "
            f"{doc['baseline_metric']:.4f} | {budget} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.table")
    parser.add_argument("--results", type=Path, default=Path("experiments/results"))
    print(table(parser.parse_args(argv).results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
