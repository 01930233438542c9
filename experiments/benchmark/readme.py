"""The README's scaling table, in Markdown, from a committed ``benchmark.json``.

    python -m experiments.benchmark.readme [PATH]

Prints time per step against d (MNIST FC and MNIST LeNet) and against D (d = 1,000) for
each projection, as milliseconds and as a ratio to plain training, with the paper's GPU
figures beside ours, the machine the numbers came from, and (when measured) the ES
comparison's environment steps per second, batched against sequential. The README holds its output
between ``<!-- benchmark:start`` and ``<!-- benchmark:end -->``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["PAPER", "main", "markdown"]

DEFAULT = Path("experiments/results/benchmark/benchmark.json")
PROJECTIONS = ("dense", "sparse", "fastfood", "fastfood_shared", "fastfood_one_block", "kronqr")
# The paper's timing study (a 2017 GPU, a network of about 1M parameters; plain 2.7 ms).
PAPER = {
    "dense": "grows with d; out of memory past d = 500",
    "sparse": "grows with d (last point d = 20k)",
    "fastfood": "about 8x (22 ms), flat in d",
    "fastfood_shared": "-",
    "fastfood_one_block": "(the paper's code is one block)",
    "kronqr": "- (Lotfi et al.: 7.5-15x less GPU time than dense at d = 4k-8k)",
}


def _cell(records: list[dict], **match) -> str:
    for r in records:
        if all(r[k] == v for k, v in match.items()):
            if r["status"] != "ok":
                return "refused (memory)" if "max_bytes" in (r["reason"] or "") else "skipped"
            return f"{r['step_s']['median_s'] * 1e3:.2f} ms ({r['ratio_to_plain']:.2f}x)"
    return "-"


def _plain(records: list[dict], model: str) -> str:
    for r in records:
        if r["model"] == model and r["projection"] == "plain":
            return f"{r['step_s']['median_s'] * 1e3:.2f} ms"
    return "-"


def markdown(doc: dict) -> str:
    """The scaling tables of a benchmark document, as Markdown."""
    steps, scaling = doc["steps"], doc["scaling"]
    measured = {r["projection"] for r in steps}
    projections = [p for p in PROJECTIONS if p in measured]  # columns with numbers only
    lines = []
    header = "| model (plain step) | d | " + " | ".join(projections) + " |"
    lines += [header, "|---|---:|" + "---|" * len(projections)]
    for model in dict.fromkeys(r["model"] for r in steps):
        D = next(r["D"] for r in steps if r["model"] == model)  # noqa: N806
        dims = sorted({r["d"] for r in steps if r["model"] == model and r["d"] is not None})
        for d in dims:
            cells = [_cell(steps, model=model, projection=p, d=d) for p in projections]
            name = f"{model}, D = {D:,} ({_plain(steps, model)})"
            lines.append(f"| {name} | {d:,} | " + " | ".join(cells) + " |")
    lines.append(
        "| paper, GPU, ~1M parameters (2.7 ms) | 1k–20k | "
        + " | ".join(PAPER[p] for p in projections)
        + " |"
    )
    measured = {r["projection"] for r in scaling}
    projections = [p for p in PROJECTIONS if p in measured]
    lines += ["", "| network | D | plain | " + " | ".join(projections) + " |"]
    lines.append("|---|---:|---|" + "---|" * len(projections))
    d_scaling = doc["settings"]["scaling_d"]
    for model in dict.fromkeys(r["model"] for r in scaling):
        D = next(r["D"] for r in scaling if r["model"] == model)  # noqa: N806
        cells = [_cell(scaling, model=model, projection=p, d=d_scaling) for p in projections]
        lines.append(f"| {model} | {D:,} | {_plain(scaling, model)} | " + " | ".join(cells) + " |")
    m = doc["machine"]
    load = m["load_average_at_start"]
    lines += [
        "",
        f"Measured with `python -m experiments.benchmark` on {m['backend']} "
        f"({m['cpus_available']} of {m['cpu_count']} cores available, {m['machine']}), "
        f"jax {m['jax_version']}, batch {doc['settings']['batch_size']}, Adam, "
        f"{doc['settings']['repeats']} repeats (median), d = {d_scaling:,} against D; "
        f"load average at the start {load[0]:.2f}.",
    ]
    if doc.get("es"):
        lines += ["", *es_markdown(doc["es"])]
    return "\n".join(lines)


def es_markdown(es: dict) -> list[str]:
    """The ES comparison (batched sweep against one member after another), as Markdown."""
    lines = [
        "| ES on CartPole-v1 | end to end | environment steps/s | steady state | steady steps/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for run in ("batched", "sequential"):
        lines.append(
            f"| {run} | {es[f'{run}_s']:.1f} s | {es[f'{run}_steps_per_s']:,.0f} | "
            f"{es[f'steady_{run}_s']:.2f} s | {es[f'steady_{run}_steps_per_s']:,.0f} |"
        )
    load = es["load_average_at_start"]
    lines += [
        "",
        f"ES: {es['members']} members (d in {', '.join(map(str, sorted(set(es['ds']))))} x "
        f"{len(set(es['seeds']))} seeds, {es['projection']}, D = {es['D']}), "
        f"{es['generations']} generations of population {es['population']}, "
        f"{es['env_steps']:,} environment steps counted exactly; batched in one "
        f"`train_group` call against one call per member, compilation included (end to "
        f"end, speed-up {es['speedup']:.2f}x) and excluded (steady state, median of "
        f"{es['steady_repeats']}, speed-up {es['steady_speedup']:.2f}x); both give the same "
        f"final fitness: {'yes' if es['final_fitness_equal'] else 'NO'}; load average at "
        f"the start {load[0]:.2f}"
        + (
            " (measured apart, `python -m experiments.benchmark --only es`)."
            if es.get("measured")
            else "."
        ),
    ]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.benchmark.readme",
        description="Print the README's benchmark tables from a benchmark.json.",
    )
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT, help=f"default {DEFAULT}")
    path = parser.parse_args(argv).path
    if not path.is_file():
        parser.error(
            f"path: no benchmark file at {path}; run python -m experiments.benchmark first"
        )
    print(markdown(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
