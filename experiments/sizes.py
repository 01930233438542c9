"""File size of a compressed model, (projection, key, d, z), for each of the paper's models.

    python -m experiments.sizes          # writes experiments/results/compression/sizes.json

For every model of the paper's Table 1 at the paper's d_int90, a fastfood subspace around
the model's own initialisation is saved with :func:`subspace.save_compressed` (z drawn at
random: its size, not its values, matters here) and the file is compared with the D
float32 parameters. θ0 is not stored: it is redrawn from its key at load time.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp

import subspace
from experiments.io import atomic_write_json
from models import FC, LeNet

# (row, model, input shape, the paper's d_int90)
MODELS = (
    ("MNIST FC", FC(width=200, depth=2), (28, 28, 1), 750),
    ("MNIST LeNet", LeNet(), (28, 28, 1), 290),
    ("MNIST LeNet, shuffled pixels", LeNet(), (28, 28, 1), 1_400),
    ("CIFAR-10 FC", FC(width=200, depth=2), (32, 32, 3), 9_000),
    ("CIFAR-10 LeNet", LeNet(), (32, 32, 3), 2_900),
    ("MNIST FC 5x400, shuffled labels", FC(width=400, depth=5), (28, 28, 1), 190_000),
)


def measure() -> list[dict]:
    rows = []
    init_key, proj_key, z_key = jax.random.split(jax.random.key(0), 3)
    with tempfile.TemporaryDirectory() as folder:
        for name, model, shape, d in MODELS:
            params, _ = subspace.linen_task(model, shape).init(init_key)
            sub = subspace.wrap(params, d, projection="fastfood", key=proj_key)
            z = 0.01 * jax.random.normal(z_key, (d,), jnp.float32)
            path = Path(folder) / "model.npz"
            subspace.save_compressed(
                path, sub, z, key=proj_key, theta0_key=init_key, model={"name": name}
            )
            report = subspace.compress.size_report(path)
            rows.append(
                {
                    "model": name,
                    "D": report.D,
                    "d": report.d,
                    "file_bytes": report.file_bytes,
                    "float32_bytes": report.full_bytes,
                    "ratio": round(report.ratio, 1),
                }
            )
    return rows


def main() -> int:
    rows = measure()
    atomic_write_json(Path("experiments/results/compression/sizes.json"), {"rows": rows})
    print("| model | D | d (paper's d_int90) | file | float32 parameters | ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['D']:,} | {r['d']:,} | {r['file_bytes']:,} B | "
            f"{r['float32_bytes']:,} B | {r['ratio']:,.0f}× |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
