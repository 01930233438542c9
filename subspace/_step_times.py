"""Step times measured for the grouping, kept for this process and on this machine's disk.

``measure(group_size="auto")`` times a step of a group of members before it picks the
group size (:mod:`subspace._grouping`). The time of one compiled program on one kind of
device does not change between runs, so it is kept: in this process, and in
``step_times.json`` in the cache folder — ``$SUBSPACE_CACHE_DIR``, else
``$XDG_CACHE_HOME/subspace``, else ``~/.cache/subspace``; ``SUBSPACE_CACHE_DIR=""`` keeps
the times in the process only. A second measurement of the same model on the same machine
then chooses without timing anything. Delete the file to time again (after a change of
hardware that the key does not see, for example).

A key is the program's hash (its lowered text), the device kind and count, the CPUs this
process may use, the jax version and the group size. The file is this library's own, but
read as any file from elsewhere: at most ``MAX_BYTES``, strict JSON, every entry a string
key and a finite positive number, else it is ignored whole (and rewritten at the next
time measured); at most ``MAX_ENTRIES`` are kept (the newest). Writes are atomic; a
folder that cannot be written leaves the times in the process.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from subspace._io import atomic_write_bytes

__all__ = ["cache_path", "forget", "lookup", "store"]

FILE = "step_times.json"
MAX_BYTES = 1 << 20
MAX_ENTRIES = 2000
_PROCESS: dict[str, float] = {}


def cache_path() -> Path | None:
    """The file, or None when ``SUBSPACE_CACHE_DIR`` is set empty (the process only)."""
    folder = os.environ.get("SUBSPACE_CACHE_DIR")
    if folder is None:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(xdg, "subspace")
    return Path(folder) / FILE if folder else None


def lookup(key: str) -> tuple[float, str] | None:
    """``(seconds, where)`` for ``key`` ("this process" or the file's path), or None."""
    if key in _PROCESS:
        return _PROCESS[key], "this process"
    path = cache_path()
    seconds = _read(path).get(key) if path is not None else None
    if seconds is None:
        return None
    _PROCESS[key] = seconds
    return seconds, str(path)


def store(key: str, seconds: float) -> None:
    """Keeps ``seconds`` for ``key`` in the process and, where it can, in the file."""
    _PROCESS[key] = seconds
    path = cache_path()
    if path is None:
        return
    times = _read(path)
    times.pop(key, None)
    times[key] = seconds  # the newest last
    times = dict(list(times.items())[-MAX_ENTRIES:])
    try:
        atomic_write_bytes(path, json.dumps(times, indent=0, allow_nan=False).encode())
    except OSError:
        pass  # a read-only home: the time stays in the process


def forget() -> None:
    """Forgets the times kept in this process (the file stays)."""
    _PROCESS.clear()


def _read(path: Path) -> dict[str, float]:
    try:
        if path.stat().st_size > MAX_BYTES:
            return {}
        with open(path, "rb") as f:
            text = f.read(MAX_BYTES + 1)
        data = json.loads(text, parse_constant=_refuse)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    for value in data.values():
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (ok and math.isfinite(value) and value > 0):
            return {}
    return {str(k): float(v) for k, v in data.items()}


def _refuse(name: str) -> float:
    raise ValueError(f"{name} is not JSON")
