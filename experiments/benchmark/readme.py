"""The README's scaling table, in Markdown, from a committed ``benchmark.json``.

    python -m experiments.benchmark.readme [PATH]

Prints time per step against d (MNIST FC and MNIST LeNet) and against D (d = 1,000) for
each projection, as milliseconds and as a ratio to plain training, with the paper's GPU
figures beside ours, and the machine the numbers came from. The README holds its output
between ``<!-- benchmark:start`` and ``<!-- benchmark:end -->``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["PAPER", "main", "markdown"]

DEFAULT = Path("experiments/results/benchmark/benchmark.json")
PROJECTIONS = ("dense", "sparse", "fastfood", "fastfood_shared", "fastfood_one_block")
# The paper's timing study (a 2017 GPU, a network of about 1M parameters; plain 2.7 ms).
PAPER = {
    "dense": "grows with d; out of memory past d = 500",
    "sparse": "grows with d (last point d = 20k)",
    "fastfood": "about 8x (22 ms), flat in d",
    "fastfood_shared": "-",
    "fastfood_one_block": "(the paper's code is one block)",
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
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT
    if not path.is_file():
        raise SystemExit(f"no benchmark file at {path}; run python -m experiments.benchmark first")
    print(markdown(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
