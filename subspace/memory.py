"""How many sweep members fit in memory at once: a measured estimate and the grouping.

The estimate compiles the step of a one-member group and reads XLA's
``memory_analysis()`` (arguments + outputs + temporaries), so it counts what the
compiler really allocates: θ0, P's state, z and the optimiser state, the forward and
backward activations of one batch. Members are then split into groups of equal size
that fit the budget; every group has the same shape, so they share one compilation.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import jax

from subspace._checks import check_int

__all__ = ["compiled_bytes", "default_budget", "group_size", "program_bytes"]


def program_bytes(fn: Callable, *args: Any) -> int:
    """Bytes that the compiled ``jax.jit(fn)(*args)`` needs: arguments, outputs, temporaries."""
    if not callable(fn):
        raise TypeError(f"program_bytes: fn must be callable; got {fn!r}")
    return compiled_bytes(jax.jit(fn).lower(*args).compile(), *args)


def compiled_bytes(compiled: Any, *args: Any) -> int:
    """Bytes a compiled program (``jax.jit(fn).lower(*args).compile()``) needs."""
    if not callable(getattr(compiled, "memory_analysis", None)):
        raise TypeError(
            "compiled_bytes: compiled must be a compiled program "
            f"(jax.jit(fn).lower(...).compile()); got {compiled!r:.100}"
        )
    stats = compiled.memory_analysis()
    if stats is None:  # a backend without memory analysis: count the arguments only
        return sum(x.nbytes for x in jax.tree_util.tree_leaves(args) if hasattr(x, "nbytes"))
    return int(stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes)


def default_budget(device: jax.Device | None = None) -> int:
    """Bytes a sweep may use on ``device``: half of an accelerator's memory limit, or a
    quarter of the host's physical memory on the CPU."""
    if device is not None and not isinstance(device, jax.Device):
        raise TypeError(
            f"default_budget: device must be a jax.Device (e.g. jax.devices()[0]) or None; "
            f"got {device!r}"
        )
    device = jax.devices()[0] if device is None else device
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"]) // 2
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4


def group_size(members: int, member_bytes: int, budget: int, multiple: int = 1) -> int:
    """The largest group (a multiple of ``multiple``, the device count) that fits ``budget``.

    ``budget`` is per device: a group of g members puts g / multiple members on each.
    Never less than ``multiple`` (one member per device), never more than needed for
    ``members`` (rounded up to the multiple).
    """
    for name, value in (
        ("members", members),
        ("member_bytes", member_bytes),
        ("budget", budget),
        ("multiple", multiple),
    ):
        check_int(
            value, name, 1, where="group_size", types=int, type_error=ValueError, range_repr=True
        )
    per_device = max(1, budget // member_bytes)
    needed = math.ceil(members / multiple) * multiple
    return min(needed, per_device * multiple)
