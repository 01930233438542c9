"""The benchmark's PNG plots, each written atomically."""

from __future__ import annotations

import io
from pathlib import Path

from experiments.io import atomic_write_bytes

__all__ = ["write_plots"]

PROJECTIONS = (
    "dense",
    "sparse",
    "fastfood",
    "fastfood_butterfly",
    "fastfood_shared",
    "fastfood_one_block",
    "kronqr",
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    _pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path.name


def _ok(records: list[dict], **match) -> list[dict]:
    return [r for r in records if r["status"] == "ok" and all(r[k] == v for k, v in match.items())]


def _errorbars(records: list[dict]) -> tuple[list[float], list[list[float]]]:
    median = [r["step_s"]["median_s"] * 1e3 for r in records]
    low = [m - r["step_s"]["q25_s"] * 1e3 for m, r in zip(median, records, strict=True)]
    high = [r["step_s"]["q75_s"] * 1e3 - m for m, r in zip(median, records, strict=True)]
    return median, [low, high]


def plot_step_time(path: Path, steps: list[dict]) -> str:
    """ms per step against d, one panel per model; plain training as a horizontal line."""
    plt = _pyplot()
    models = list(dict.fromkeys(r["model"] for r in steps))
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.0), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        for i, projection in enumerate(PROJECTIONS):
            rows = sorted(_ok(steps, model=model, projection=projection), key=lambda r: r["d"])
            if rows:
                median, err = _errorbars(rows)
                ds = [r["d"] for r in rows]
                ax.errorbar(ds, median, yerr=err, fmt="-o", ms=3, color=f"C{i}", label=projection)
        for r in _ok(steps, model=model, projection="plain"):
            ax.axhline(r["step_s"]["median_s"] * 1e3, color="k", lw=1, label="plain")
        ax.set(xscale="log", yscale="log", xlabel="d", ylabel="ms per step")
        D = next(r["D"] for r in steps if r["model"] == model)  # noqa: N806
        ax.set_title(f"{model} (D = {D:,})")
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_step_time_vs_D(path: Path, scaling: list[dict], d: int) -> str:  # noqa: N802
    """ms per step against D at a fixed d, for plain training and every projection."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    for i, projection in enumerate(("plain", *PROJECTIONS)):
        rows = sorted(_ok(scaling, projection=projection), key=lambda r: r["D"])
        if rows:
            median, err = _errorbars(rows)
            color = "k" if projection == "plain" else f"C{i - 1}"
            ax.errorbar(
                [r["D"] for r in rows],
                median,
                yerr=err,
                fmt="-o",
                ms=3,
                color=color,
                label=projection,
            )
    ax.set(xscale="log", yscale="log", xlabel="D (parameters)", ylabel="ms per step")
    ax.set_title(f"FC networks, d = {d:,}")
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_fwht(path: Path, fwht: dict) -> str:
    """Time per transform against n, ours and fht_cpu's."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    rows = [r for r in fwht["rows"] if len(r.get("shape", [r["n"]])) == 1]  # 1-D only
    ns = [r["n"] for r in rows]
    ax.plot(
        ns,
        [r["fwht_s"]["median_s"] * 1e6 for r in rows],
        "-o",
        ms=3,
        label="subspace.hadamard.fwht",
    )
    ax.plot(
        ns,
        [r["butterfly_s"]["median_s"] * 1e6 for r in rows],
        "-o",
        ms=3,
        label='fwht(method="butterfly")',
    )
    timed = [r for r in rows if r["fht_cpu_s"] is not None]
    if timed:
        ax.plot(
            [r["n"] for r in timed],
            [r["fht_cpu_s"]["median_s"] * 1e6 for r in timed],
            "-o",
            ms=3,
            label="fht_cpu",
        )
    ax.set(xscale="log", yscale="log", xlabel="n", ylabel="us per transform")
    ax.set_title("Walsh-Hadamard transform, float32, 1-D")
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_sweep(path: Path, sweep: dict) -> str:
    """Wall time of the batched and the sequential sweep."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    ax.bar(
        ["batched", "sequential"], [sweep["batched_s"], sweep["sequential_s"]], color=["C2", "C7"]
    )
    ax.set_ylabel("wall time, s (compilation included)")
    ax.set_title(f"{sweep['members']} values of d, {sweep['steps']} steps: {sweep['speedup']:.2f}x")
    return _save(fig, path)


def write_plots(out: Path, doc: dict) -> list[str]:
    """Writes every plot of ``doc`` to ``out``; returns the file names."""
    return [
        plot_step_time(out / "step_time.png", doc["steps"]),
        plot_step_time_vs_D(
            out / "step_time_vs_D.png", doc["scaling"], doc["settings"]["scaling_d"]
        ),
        plot_fwht(out / "fwht.png", doc["fwht"]),
        plot_sweep(out / "sweep.png", doc["sweep"]),
    ]
