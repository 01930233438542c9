"""How many members train together: the largest group that fits memory, or the fastest.

Memory bounds a group (:mod:`subspace.memory`: the measured bytes of a one-member step
against the budget per device). Within that bound, more members in one vmapped program is
faster on an accelerator, but not always on a CPU: a CNN step batched over members can be
several times slower per member than one member's step, and an ES generation's episodes
run until the batch's longest one ends. So with ``Run(group_size="auto")`` (the default)
a CPU measurement times one step of one member per device, and of the largest group that
fits (the one-per-device state tiled, so that only the larger step compiles), on the
hardware at hand, and takes the most member-steps per second; within 10% of
the best it takes the smaller (small groups checkpoint, report and stop sooner, and the
lockstep cost of long ES episodes grows as training goes on). When the members one at a
time would need less time than timing the larger group costs (its compilation, about
``OVERHEAD`` times the one-member step's), the larger group is not timed: it could not win
that time back. The times are kept per program and device, in the process and on the
machine's disk (:mod:`subspace._step_times`): the same model measured again on the same
machine chooses without timing. The choice is recorded in ``results.json`` so that a
resumed run keeps its groups. An accelerator, and a measurement over several processes
(each would time on its own), takes the largest group that fits. ``"memory"`` always
does; an integer pins the group size. The chunk of steps between two looks at the host
(progress, Ctrl-C) is set from the step time to take about two seconds.
"""

from __future__ import annotations

import hashlib
import math
import os
import statistics
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from subspace import _step_times
from subspace.loop import init_group
from subspace.memory import compiled_bytes, group_size
from subspace.sharding import constrain_members, replicated_array

__all__ = ["Grouping", "choose"]

CHUNK_SECONDS = 2.0  # a chunk of steps takes about this long
MAX_CHUNK = 100  # as before auto grouping: a step timed at θ0 can be faster than later ones
OVERHEAD = 3.0  # timing a larger group costs about this many one-member compilations


class Grouping(NamedTuple):
    """The group size, the steps per chunk, and why (a line for the reader)."""

    size: int
    chunk: int
    why: str


def choose(
    sweep: Any,
    ds: np.ndarray,
    seeds: np.ndarray,
    *,
    steps: int,
    data: Any,
    batch_size: int | None,
    budget: int,
    mesh: Any,
    rule: int | str,
    recorded: int | None,
) -> Grouping:
    """The grouping of the members ``(ds, seeds)`` of ``sweep`` (see the module docstring)."""
    devices = mesh.devices.size
    n = len(ds)
    state = jax.eval_shape(sweep.init, ds[:1], seeds[:1])
    state = jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype), state)
    batch = _batch_shapes(data, batch_size)
    lowered = jax.jit(sweep.update).lower(state, batch)
    t0 = time.perf_counter()
    one = lowered.compile()  # the one-member step: its memory, and its time on one device
    compile_s = time.perf_counter() - t0
    per_member = compiled_bytes(one, state, batch)
    data_bytes = 0 if data is None else data.train_x.nbytes
    fits = group_size(n, per_member, max(budget - data_bytes, per_member), devices)
    memory = (
        f"{per_member / 2**20:.1f} MB per member (XLA memory analysis of a one-member step), "
        f"budget {budget / 2**20:.0f} MB per device: at most {fits} per group"
    )
    needed = math.ceil(n / devices) * devices
    if recorded is not None:
        return Grouping(recorded, 100, f"groups of {recorded}, as results.json records ({memory})")
    if isinstance(rule, int):
        size = min(math.ceil(rule / devices) * devices, needed)
        return Grouping(size, 100, f"groups of {size}, as asked ({memory})")
    if rule == "memory" or fits <= devices or jax.default_backend() != "cpu":
        return Grouping(fits, 100, f"groups of {fits}, the largest that fits ({memory})")
    if jax.process_count() > 1:  # every process must take the same size: no local timing
        why = f"groups of {fits}, the largest that fits (several processes; {memory})"
        return Grouping(fits, 100, why)
    program = hashlib.sha256(lowered.as_text().encode()).hexdigest()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    where = f"{jax.devices()[0].device_kind}x{devices}|cpus {cpus}|jax {jax.__version__}"
    key = {g: f"{program}|{where}|group {g}" for g in (devices, fits)}
    seconds, cached = {}, set()
    base = None  # the state of one member per device, tiled for the larger group
    for g in (devices, fits):
        kept = _step_times.lookup(key[g])
        if kept is None:
            if base is None:  # the training's own initial program for a group of `devices`
                fill = np.minimum(np.arange(devices), n - 1)
                base = init_group(sweep, (ds[fill], seeds[fill]), group_size=devices, mesh=mesh)
            step = one if g == 1 else None  # compiled above; another size compiles its own
            seconds[g] = _seconds_per_step(sweep, base, g, data, batch_size, mesh, step)
            _step_times.store(key[g], seconds[g])
        else:
            seconds[g] = kept[0]
            cached.add(kept[1])
        alone = n / devices * steps * seconds[g]  # the members, one per device at a time
        cheap = alone < OVERHEAD * compile_s
        if g == devices and cheap and _step_times.lookup(key[fits]) is None:
            chunk = _chunk(seconds[g])
            why = (
                f"groups of {devices}: one member per device needs about {alone:.1f} s in all, "
                f"less than timing a group of {fits} would cost (about {OVERHEAD:g} x the "
                f"{compile_s:.1f} s the one-member step took to compile; {memory})"
            )
            return Grouping(devices, chunk, why)
    candidates = sorted(seconds)
    rate = {g: g / s for g, s in seconds.items()}  # member-steps per second
    best = max(rate.values())
    size = min(g for g in candidates if rate[g] >= 0.9 * best)
    timed = ", ".join(f"{g}: {rate[g]:,.1f}" for g in candidates)
    chunk = _chunk(seconds[size])
    source = "one step timed here" + (f", or kept in {', '.join(sorted(cached))}" if cached else "")
    why = f"groups of {size}, the fastest (member-steps/s by group size, {source}: {timed}; "
    why += f"{memory})"
    return Grouping(size, chunk, why)


def _chunk(seconds_per_step: float) -> int:
    """Steps per chunk: a power of two taking about ``CHUNK_SECONDS``, at most MAX_CHUNK."""
    steps = max(1.0, CHUNK_SECONDS / max(seconds_per_step, 1e-9))
    return max(1, min(MAX_CHUNK, 2 ** int(math.log2(steps))))


def _batch_shapes(data: Any, batch_size: int | None) -> Any:
    if data is None:
        return None
    x, y = data.train_x, data.train_y
    return (
        jax.ShapeDtypeStruct((batch_size, *x.shape[1:]), x.dtype),
        jax.ShapeDtypeStruct((batch_size,), y.dtype),
    )


def _seconds_per_step(sweep, base, g, data, batch_size, mesh, step) -> float:
    """The wall time of one compiled step of a group of ``g`` members (the median of three
    for one member per device), after one untimed step; the first minibatch of the data.
    The larger group is ``base`` (one member per device) tiled, each copy drawing its own
    randomness, so that only its step compiles (not its initial program)."""
    state = base if g == len(base.train.step) else _tiled(base, g, mesh)
    batch = None
    if data is not None:
        batch = tuple(replicated_array(a[:batch_size], mesh) for a in (data.train_x, data.train_y))
    if step is None:
        step = jax.jit(sweep.update).lower(state, batch).compile()
    state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    times = []
    for _ in range(3 if g == len(base.train.step) else 1):  # the larger step, slower, once
        start = time.perf_counter()
        state, metrics = step(state, batch)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _tiled(base: Any, g: int, mesh: Any) -> Any:
    """``g`` members: copies of ``base``'s, each with its own key (``fold_in`` its index)."""

    @jax.jit
    def tile(state):
        idx = jnp.arange(g) % len(state.train.step)
        state = jax.tree_util.tree_map(lambda a: a[idx], state)
        keys = jax.vmap(jax.random.fold_in)(state.train.key, jnp.arange(g))
        return constrain_members(state._replace(train=state.train._replace(key=keys)), mesh)

    return tile(base)
