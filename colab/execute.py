"""Re-executes the notebooks in small mode and saves them with their outputs.

    python colab/execute.py [NAME ...]      # from the repository root; default: all three

Runs each notebook top to bottom with nbclient (kernel ``python3``, from the repository
root, ``SUBSPACE_NOTEBOOK_SMALL=1``), prints its wall time, drops the per-cell timing
metadata, and refuses to save a notebook whose outputs show an absolute path of this
machine. Run it again after new results are committed, so that reproduce_paper.ipynb
shows them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["quickstart", "reproduce_paper", "bring_your_own_model"]


def execute(name: str) -> float:
    path = ROOT / "colab" / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        startup_timeout=120,
        record_timing=False,
        resources={"metadata": {"path": str(ROOT)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    outputs = json.dumps([c.get("outputs", []) for c in nb.cells])
    for machine_path in {str(ROOT), str(Path.home()), "/tmp/"}:
        if len(machine_path) > 1 and machine_path in outputs:
            raise SystemExit(f"{name}: an output shows {machine_path}; not saved")
    nbformat.write(nb, path)
    return seconds


def main(names: list[str]) -> None:
    os.environ["SUBSPACE_NOTEBOOK_SMALL"] = "1"
    for name in names or NOTEBOOKS:
        print(f"{name}: {execute(name):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
