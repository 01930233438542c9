"""Timing with warm-up, repeats, medians and spreads; the machine the numbers come from."""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import time
from collections.abc import Callable, Sequence

import jax
import numpy as np

__all__ = ["load_average", "machine_info", "measure", "summarize"]


def summarize(samples: Sequence[float], calls: int) -> dict:
    """Median, quartiles, IQR, min and max of per-call times (seconds) over repeats."""
    a = np.asarray(samples, np.float64)
    q25, median, q75 = np.percentile(a, [25, 50, 75])
    return {
        "median_s": float(median),
        "q25_s": float(q25),
        "q75_s": float(q75),
        "iqr_s": float(q75 - q25),
        "min_s": float(a.min()),
        "max_s": float(a.max()),
        "repeats": len(a),
        "calls_per_repeat": calls,
    }


def measure(
    run: Callable[[int], None], *, repeats: int, min_repeat_s: float, max_calls: int = 100_000
) -> dict:
    """Seconds per call of ``run(k)`` (k calls, then a block until the results are ready).

    The number of calls per repeat grows until one repeat lasts ``min_repeat_s`` (so the
    timer's resolution and dispatch jitter do not matter; this is also a warm-up), then
    ``repeats`` repeats are timed. Call once beforehand to keep compilation out.
    """
    if repeats < 1 or not min_repeat_s >= 0:
        raise ValueError(
            f"measure: repeats >= 1 and min_repeat_s >= 0; got {repeats}, {min_repeat_s}"
        )
    calls = 1
    while True:
        elapsed = _elapsed(run, calls)
        if elapsed >= min_repeat_s or calls >= max_calls:
            break
        wanted = math.ceil(1.2 * calls * min_repeat_s / max(elapsed, 1e-9))
        calls = min(max_calls, max(2 * calls, wanted))
    return summarize([_elapsed(run, calls) / calls for _ in range(repeats)], calls)


def _elapsed(run: Callable[[int], None], calls: int) -> float:
    start = time.perf_counter()
    run(calls)
    return time.perf_counter() - start


def machine_info() -> dict:
    """Backend, device kind, CPU count and library versions, for the results file."""
    device = jax.devices()[0]
    try:
        cpus_available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus_available = None
    return {
        "backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "cpus_available": cpus_available,
        "jax_version": jax.__version__,
        "jaxlib_version": _version("jaxlib"),
        "fht_cpu_version": _version("fht-cpu"),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "xla_flags": os.environ.get("XLA_FLAGS"),
        # Timings taken on a loaded machine are noisy: the load says how loaded it was.
        "load_average_at_start": load_average(),
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """The system's load average over 1, 5 and 15 minutes (None where unknown)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None
