"""What a study reads next to the numbers: a text summary and the metric-against-d plot.

:meth:`subspace.SweepResult.summary` and :meth:`subspace.SweepResult.plot` call these.
The plot needs matplotlib (``pip install "subspace-intrinsic[plot]"``), imported when a
plot is made.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from subspace._io import atomic_write_bytes
from subspace.intrinsic import mean_by_d

__all__ = ["plot", "summary"]


def _readout(result: Any) -> tuple[str, bool, float]:
    """(metric, higher_is_better, fraction) of a result of schema 3 or 2."""
    c = result.config
    r = c["readout"] if result.schema_version > 2 else c
    return r["metric"], r["higher_is_better"], r["fraction"]


def _label(result: Any) -> str:
    """``d_int90``, ``d_int100``, ...: the fraction the result reads d_int at."""
    return f"d_int{round(_readout(result)[2] * 100)}"


def _d_int_text(result: Any, projection: str) -> str:
    """One projection's d_int as a reader wants it: the value, its interpolation and
    interval, or the bound it is at either end of the grid."""
    v = result.d_int.get(projection)
    if not result.complete or v is None:
        return "not read yet (the measurement is not complete)"
    ds = [r["d"] for r in result.members if r["projection"] == projection]
    if v["d"] is None:
        return f"> {max(ds):,} (no d of the grid reaches the threshold)"
    if v.get("bound") == "upper":
        return f"<= {v['d']:,} (the smallest d of the grid already reaches the threshold)"
    lo, hi = ("inf" if c is None else f"{c:,.4g}" for c in v["ci90"])
    return (
        f"{v['d']:,} (interpolated {v['interpolated']:,.4g}, 90% bootstrap interval "
        f"[{lo}, {hi}], D/d = {v['compression']:,.1f})"
    )


def _check(result: Any, where: str) -> None:
    from subspace.results import SweepResult

    if not isinstance(result, SweepResult):
        raise TypeError(f"{where}: result must be a subspace.SweepResult; got {result!r:.100}")


def summary(result: Any) -> str:
    """The measurement in a few lines: baseline, threshold, the mean metric over seeds at
    every d (diverged members counted), and d_int per projection."""
    _check(result, "summary")
    metric, _, _ = _readout(result)
    name = result.config.get("name", "measurement")
    lines = [f"{name}: D = {result.D:,}, {result.steps:,} steps per member" if result.D else name]
    if result.baseline_metric is not None:
        lines.append(f"baseline {metric} = {result.baseline_metric:.6g} (mean over seeds)")
    if result.threshold is not None:
        lines.append(f"threshold {result.threshold:.6g}")
    for projection in sorted({r["projection"] for r in result.members}):
        rows = [r for r in result.members if r["projection"] == projection]
        lines.append(f"{projection}: d, mean {metric} over seeds (seeds, diverged)")
        for d in sorted({r["d"] for r in rows}):
            at = [r for r in rows if r["d"] == d]
            values = [r[metric] for r in at if r[metric] is not None]
            mean = f"{np.mean(values):.6g}" if len(values) == len(at) else "nan"
            bad = sum(r["status"] == "diverged" for r in at)
            lines.append(f"  {d:>8,}  {mean:>12}  ({len(at)}, {bad})")
        lines.append(f"{projection}: {_label(result)} = {_d_int_text(result, projection)}")
    return "\n".join(lines)


def plot(result: Any, path: str | os.PathLike | None = None, *, title: str | None = None) -> Any:
    """The metric against d (log axis) for every projection: seeds as points, their mean
    as a line, the baseline and threshold as horizontal lines, d_int as a vertical one.

    Returns the matplotlib ``Figure``; with ``path``, also writes it there as a PNG
    (atomically). A lower-is-better metric gets a log axis too.
    """
    _check(result, "plot")
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            'SweepResult.plot needs matplotlib: pip install "subspace-intrinsic[plot]"'
        ) from e
    metric, higher, _ = _readout(result)
    log_y = not higher
    records = result.members
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, projection in enumerate(sorted({r["projection"] for r in records})):
        color = f"C{i}"
        rows = [r for r in records if r["projection"] == projection]
        ds = np.array([r["d"] for r in rows])
        values = np.array([np.nan if r[metric] is None else r[metric] for r in rows], float)
        ax.scatter(ds, np.maximum(values, 1e-18) if log_y else values, s=10, color=color, alpha=0.5)
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
        found = (result.d_int.get(projection) or {}).get("d")
        if found is not None:
            ax.axvline(
                found,
                color=color,
                ls=":",
                lw=1.2,
                label=f"{_label(result)} = {found} ({projection})",
            )
    if result.baseline_metric is not None:
        ax.axhline(
            result.baseline_metric, color="k", lw=1, label=f"baseline {result.baseline_metric:.4g}"
        )
    if result.threshold is not None:
        ax.axhline(
            result.threshold, color="k", ls="--", lw=1, label=f"threshold {result.threshold:.4g}"
        )
    ax.set_xscale("log")
    if records:  # explicit, so that a sweep whose members all diverged still has an axis
        ds = [r["d"] for r in records]
        ax.set_xlim(min(ds) / 1.2, max(ds) * 1.2)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("subspace dimension d")
    ax.set_ylabel(metric)
    name = result.config.get("name", "")
    ax.set_title(title if title is not None else f"{name}: D = {result.D:,}" if result.D else name)
    ax.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120)
        plt.close(fig)
        atomic_write_bytes(path, buf.getvalue())
    return fig
