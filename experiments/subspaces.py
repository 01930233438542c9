"""The subspaces researchers use after 2018, from the committed results: the README's
table and plot of transfer (SAID), burn-in, lottery and Kronecker measurements.

python -m experiments.subspaces            # prints the table the README shows
python -m experiments.subspaces --plot     # writes experiments/results/subspaces.png

Every d_int90 is read at 0.9 × the full-parameter baseline of the same θ0 (its interval:
the bootstrap over seeds that every measurement records). A row whose measurement is not
committed says so.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments.io import read_json
from experiments.table import _ours

TRANSFER = ("p0", "p1", "p3", "p10")
BURN_IN = ("k0", "k20", "k100", "k500")
PLOT = "subspaces.png"


def _rows() -> list[tuple[str, str, str, str]]:
    """(results folder, projection, experiment, θ0) of every row, in the README's order."""
    rows = []
    for v in TRANSFER:
        origin = "random" if v == "p0" else f"pretrained {v[1:]} epoch(s) on 0-4"
        for p in ("fastfood", "said-fastfood"):
            rows.append((f"mnist_transfer_{v}", p, "MNIST FC, digits 5-9 (transfer)", origin))
    for v in BURN_IN:
        origin = "random" if v == "k0" else f"burn-in {v[1:]} steps"
        rows.append((f"mnist_fc_burn_in_{v}", "fastfood", "MNIST FC (burn-in)", origin))
    for p in ("fastfood", "lottery"):
        rows.append(("mnist_fc_lottery", p, "MNIST FC (lottery)", "random"))
    for p in ("dense", "fastfood", "kronqr"):
        rows.append(("mnist_lenet_projections", p, "MNIST LeNet (projections)", "random"))
    return rows


def _doc(results: Path, folder: str) -> dict | None:
    path = results / folder / "results.json"
    doc = read_json(path) if path.exists() else None
    return doc if doc and doc.get("complete") else None


def _at(doc: dict, projection: str) -> dict[int, list[float]]:
    """{d: the seeds' metric} of one projection's members (NaN: diverged)."""
    metric, out = doc["config"]["readout"]["metric"], {}
    for m in doc["members"]:
        if m["projection"] == projection:
            out.setdefault(m["d"], []).append(np.nan if m[metric] is None else m[metric])
    return dict(sorted(out.items()))


def table(results: Path) -> str:
    lines = [
        "| experiment | θ0 | projection | d_int90 (interpolated, 90% CI) | baseline | "
        "mean test accuracy at each d |",
        "|---|---|---|---|---|---|",
    ]
    for folder, projection, label, origin in _rows():
        doc = _doc(results, folder)
        if doc is None:
            lines.append(f"| {label} | {origin} | {projection} | not run yet | | |")
            continue
        v = doc["d_int"][projection]
        ours, _ = _ours(v["d"], v["interpolated"], v["ci90"], doc, v.get("bound"))
        at = ", ".join(f"{d:,}: {np.mean(x):.3f}" for d, x in _at(doc, projection).items())
        lines.append(
            f"| {label} | {origin} | {projection} | {ours} | {doc['baseline_metric']:.4f} | {at} |"
        )
    return "\n".join(lines)


def plot(results: Path) -> Path:
    """Four panels: d_int90 against pretraining epochs (plain and SAID) and against
    burn-in steps; accuracy against d of random and lottery subspaces, and of the three
    projections. A panel without its committed measurements says so."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 4))

    def curve(ax, folders, xs, projection, label):
        got = [(x, _doc(results, f)) for x, f in zip(xs, folders, strict=True)]
        got = [(x, doc["d_int"][projection]) for x, doc in got if doc is not None]
        if not got:
            return
        x = [g[0] for g in got]
        y = [g[1]["interpolated"] or g[1]["d"] or np.nan for g in got]
        lo = [g[1]["ci90"][0] if g[1]["ci90"][0] is not None else np.nan for g in got]
        hi = [g[1]["ci90"][1] if g[1]["ci90"][1] is not None else np.nan for g in got]
        ax.plot(x, y, "o-", label=label)
        ax.fill_between(x, lo, hi, alpha=0.2)

    ax = axes[0]
    epochs = [int(v[1:]) for v in TRANSFER]
    for p in ("fastfood", "said-fastfood"):
        curve(ax, [f"mnist_transfer_{v}" for v in TRANSFER], epochs, p, p)
    ax.set(xlabel="pretraining epochs (digits 0-4)", ylabel="d_int90 of fine-tuning on 5-9")
    ax.set_title("transfer (SAID's curve)")
    ax = axes[1]
    steps = [int(v[1:]) for v in BURN_IN]
    curve(ax, [f"mnist_fc_burn_in_{v}" for v in BURN_IN], steps, "fastfood", "fastfood")
    ax.set(xlabel="burn-in steps", ylabel="d_int90 (MNIST FC)", title="burn-in θ0")
    for ax, folder, projections, title in (
        (axes[2], "mnist_fc_lottery", ("fastfood", "lottery"), "MNIST FC: random vs lottery"),
        (
            axes[3],
            "mnist_lenet_projections",
            ("dense", "fastfood", "kronqr"),
            "MNIST LeNet: projections",
        ),
    ):
        doc = _doc(results, folder)
        for p in projections if doc else ():
            at = _at(doc, p)
            ds = list(at)
            ax.errorbar(
                ds,
                [np.mean(at[d]) for d in ds],
                [np.std(at[d]) for d in ds],
                fmt="o-",
                capsize=3,
                label=p,
            )
        if doc:
            ax.axhline(doc["threshold"], color="gray", ls="--", lw=1, label="threshold")
            ax.set_xscale("log")
        ax.set(xlabel="d", ylabel="test accuracy", title=title)
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "not run yet", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    out = results / PLOT
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.subspaces")
    parser.add_argument("--results", type=Path, default=Path("experiments/results"))
    parser.add_argument("--plot", action="store_true", help=f"write {PLOT} too")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        parser.error(f"--results: no such folder: {args.results}")
    print(table(args.results))
    if args.plot:
        print(f"wrote {plot(args.results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
