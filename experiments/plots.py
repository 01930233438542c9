"""The sweep plot: metric against d, one curve per projection, seeds as points."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from experiments.io import atomic_write_bytes
from subspace.intrinsic import mean_by_d

__all__ = ["plot_result", "plot_sweep"]


def plot_result(path: Path, exp, result) -> None:
    """:func:`plot_sweep` of an experiment's :class:`subspace.SweepResult`."""
    plot_sweep(
        path,
        result.members,
        metric=exp.readout.metric,
        label=exp.label,
        threshold=result.threshold,
        d_ints={p: v["d"] for p, v in result.d_int.items()},
        baseline=result.baseline_metric,
        log_y=not exp.readout.higher_is_better,
        title=f"{exp.name}: D = {result.D:,}",
    )


def plot_sweep(
    path: Path,
    records: list[dict],
    *,
    metric: str,
    label: str,
    threshold: float,
    d_ints: dict[str, int | None],
    baseline: float | None = None,
    log_y: bool = False,
    title: str = "",
) -> None:
    """Writes a PNG of ``metric`` against d (log axis) for every projection in ``records``.

    Seeds are points, the mean over seeds a line; the baseline and the threshold are
    horizontal lines and each projection's d_int a vertical one.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    projections = sorted({r["projection"] for r in records})
    for i, projection in enumerate(projections):
        color = f"C{i}"
        rows = [r for r in records if r["projection"] == projection]
        ds = np.array([r["d"] for r in rows])
        values = np.array([np.nan if r[metric] is None else r[metric] for r in rows], float)
        shown = np.maximum(values, 1e-18) if log_y else values
        ax.scatter(ds, shown, s=10, color=color, alpha=0.5)
        grid, mean = mean_by_d(ds, values)
        diverged = int(np.isnan(values).sum())  # diverged members have no value
        ax.plot(
            grid,
            np.maximum(mean, 1e-18) if log_y else mean,
            "-o",
            ms=3,
            color=color,
            label=projection + (f" ({diverged} diverged)" if diverged else ""),
        )
        if d_ints.get(projection) is not None:
            ax.axvline(
                d_ints[projection],
                color=color,
                ls=":",
                lw=1.2,
                label=f"{label} = {d_ints[projection]} ({projection})",
            )
    if baseline is not None:
        ax.axhline(baseline, color="k", lw=1, label=f"baseline {baseline:.4g}")
    ax.axhline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.4g}")
    ax.set_xscale("log")
    if records:  # explicit, so that a sweep whose members all diverged still has an axis
        ds = [r["d"] for r in records]
        ax.set_xlim(min(ds) / 1.2, max(ds) * 1.2)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("subspace dimension d")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
