"""The Walsh–Hadamard transform: :func:`subspace.hadamard.fwht` against the C library ``fht_cpu``.

Both are timed out of place (the input kept, a new output array), float32: our jitted
``fwht`` (its default Kronecker method, and the radix-2 butterfly beside it) on an array
already on the device, ``fht_cpu.fht(x, inplace=False)`` on a numpy array. A size is a
length n (one 1-D transform) or a shape (a batch of transforms over the last axis, as
fastfood runs them: ``(195, 1024)`` is MNIST FC at d = 1,000). ``fht_cpu`` is optional
(``pip install -e ".[bench]"``); without it only our transform is timed and the
comparison is recorded as skipped.
"""

from __future__ import annotations

import math
import time
from types import ModuleType

import jax.numpy as jnp
import numpy as np

from experiments.benchmark.timing import measure
from subspace.hadamard import fwht

__all__ = [
    "FHT_CPU_MISSING",
    "compare_fwht",
    "fht_cpu_module",
    "fwht_equal",
    "fwht_error",
    "label",
]

FHT_CPU_MISSING = 'fht_cpu is not installed; install it with pip install -e ".[bench]"'
# Float32 rounding of log2(n) butterfly stages stays far below this, relative to sqrt(n).
TOLERANCE = 1e-4


def fht_cpu_module() -> ModuleType | None:
    """The ``fht_cpu`` module, or None if it is not installed."""
    try:
        import fht_cpu
    except ImportError:
        return None
    return fht_cpu


def fwht_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """max |ours - reference| / sqrt(n): for x with unit-variance entries, the entries of
    H x have standard deviation sqrt(n), so this is the error relative to their size."""
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    if ours.shape != reference.shape:
        raise ValueError(f"fwht_error: shapes differ: {ours.shape} and {reference.shape}")
    return float(np.max(np.abs(ours - reference)) / math.sqrt(ours.shape[-1]))


def fwht_equal(ours: np.ndarray, reference: np.ndarray, *, tol: float = TOLERANCE) -> bool:
    """Whether two transforms of x (unit-variance entries) agree: ``np.allclose`` with an
    absolute tolerance of ``tol * sqrt(n)``."""
    ours, reference = np.asarray(ours), np.asarray(reference)
    if ours.shape != reference.shape:
        return False
    atol = tol * math.sqrt(ours.shape[-1])
    return bool(np.allclose(ours, reference, rtol=0.0, atol=atol))


def compare_fwht(
    sizes: tuple[int | tuple[int, ...], ...], *, repeats: int, min_repeat_s: float
) -> dict:
    """Seconds per transform of ours (both methods) and of ``fht_cpu`` for every size, the
    ratio ours / fht_cpu, the butterfly's time over ours, and whether the results agree."""
    fht_cpu = fht_cpu_module()
    rows = []
    for size in sizes:
        shape = (size,) if isinstance(size, int) else tuple(size)
        n = shape[-1]
        x = np.random.default_rng(n).standard_normal(shape, dtype=np.float32)
        x_device = jnp.asarray(x)
        start = time.perf_counter()
        ours = np.asarray(fwht(x_device))  # the first call compiles
        first_call_s = time.perf_counter() - start
        fwht_s = measure(_runner(x_device), repeats=repeats, min_repeat_s=min_repeat_s)
        butterfly_s = measure(
            _runner(x_device, "butterfly"), repeats=repeats, min_repeat_s=min_repeat_s
        )
        row = {
            "n": n,
            "shape": list(shape),
            "log2_n": n.bit_length() - 1,
            "first_call_s": first_call_s,
            "fwht_s": fwht_s,
            "butterfly_s": butterfly_s,
            "butterfly_over_fwht": butterfly_s["median_s"] / fwht_s["median_s"],
            "fht_cpu_s": None,
            "ratio": None,
            "max_error": None,
            "equal": None,
        }
        if fht_cpu is not None:
            reference = fht_cpu.fht(x, inplace=False)
            row["fht_cpu_s"] = measure(
                lambda k, x=x: _repeat_fht(fht_cpu, x, k),
                repeats=repeats,
                min_repeat_s=min_repeat_s,
            )
            row["ratio"] = row["fwht_s"]["median_s"] / row["fht_cpu_s"]["median_s"]
            row["max_error"] = fwht_error(ours, reference)
            row["equal"] = fwht_equal(ours, reference)
        rows.append(row)
        _report(row)
    return {
        "status": "ok" if fht_cpu is not None else "skipped",
        "reason": None if fht_cpu is not None else FHT_CPU_MISSING,
        "dtype": "float32",
        "tolerance": TOLERANCE,
        "rows": rows,
    }


def _runner(x, method: str = "kronecker"):
    def run(calls: int) -> None:
        for _ in range(calls):
            y = fwht(x, method=method)
        y.block_until_ready()

    return run


def _repeat_fht(fht_cpu: ModuleType, x: np.ndarray, calls: int) -> None:
    for _ in range(calls):
        fht_cpu.fht(x, inplace=False)


def label(row: dict) -> str:
    """``2^k`` for a 1-D transform, ``B x 2^k`` for a batch of B."""
    batch = math.prod(row["shape"][:-1])
    return f"2^{row['log2_n']}" if len(row["shape"]) == 1 else f"{batch} x 2^{row['log2_n']}"


def _report(row: dict) -> None:
    ours = row["fwht_s"]["median_s"]
    line = (
        f"  fwht {label(row)}: {ours * 1e6:.1f} us (butterfly "
        f"{row['butterfly_s']['median_s'] * 1e6:.1f} us)"
    )
    if row["ratio"] is not None:
        line += (
            f", fht_cpu {row['fht_cpu_s']['median_s'] * 1e6:.1f} us, ratio {row['ratio']:.2f}, "
            f"{'equal' if row['equal'] else 'DIFFERENT'} (error {row['max_error']:.1e})"
        )
    print(line, flush=True)
