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
does; an integer pins the group size.

The loop form (:data:`subspace.loop.LOOPS`): on a CPU (in ``"auto"``), the chosen group's
steps are also timed inside the training's own compiled scan, and one step per dispatch
replaces the scan when it is more than 10% faster. XLA:CPU runs a convolution several
times slower inside a compiled loop than in a program of its own (jax-ml/jax#12868:
CIFAR-10 LeNet, 135 ms a step in a scan against 54 ms alone on a 2-core CPU,
``experiments.benchmark.loops``), while a fully connected net's two forms are within 20%.
Otherwise the scan: when the whole training costs less than timing would, and with
``"memory"`` or a pinned size (which time nothing, so that they train the same way on
every run). The chunk of steps between two looks at the host (progress, Ctrl-C) is set
from the chosen form's step time to take about two seconds; a resumed run takes its
recorded group size and form and times a step of them for its chunk (kept times are
reused).
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
from subspace.loop import _chunk_runner, _chunk_runner_full_batch, init_group
from subspace.memory import compiled_bytes, group_size
from subspace.sharding import constrain_members, member_array, replicated_array

__all__ = ["Grouping", "choose"]

CHUNK_SECONDS = 2.0  # a chunk of steps takes about this long
MAX_CHUNK = 100  # as before auto grouping: a step timed at θ0 can be faster than later ones
OVERHEAD = 3.0  # timing a larger group costs about this many one-member compilations
LOOP_MARGIN = 1.1  # one step per dispatch must be this much faster to replace the scan
SCAN_STEPS = 4  # the timed scan's length: it runs again until SCAN_SECONDS have passed
SCAN_SECONDS = 0.25


class Grouping(NamedTuple):
    """The group size, the steps per chunk, the loop form (:data:`subspace.loop.LOOPS`) and
    why (a line for the reader)."""

    size: int
    chunk: int
    loop: str
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
    recorded: tuple[int, str] | None,
) -> Grouping:
    """The grouping of the members ``(ds, seeds)`` of ``sweep`` (see the module docstring);
    ``recorded``: the ``(size, loop)`` results.json keeps for them, or None."""
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
    local = jax.default_backend() == "cpu" and jax.process_count() == 1  # timed here
    timer = _Timer(sweep, ds, seeds, data, batch_size, mesh, one, lowered) if local else None
    if recorded is not None:
        size, loop = recorded
        chunk = _chunk(timer.seconds(size, loop)) if local else MAX_CHUNK
        why = f"groups of {size}, {loop} loop, as results.json records ({memory})"
        return Grouping(size, chunk, loop, why)
    if isinstance(rule, int):
        size = min(math.ceil(rule / devices) * devices, needed)
        # Nothing timed: a pinned size trains the same way on every run (in the scan).
        return Grouping(size, MAX_CHUNK, "scan", f"groups of {size}, as asked ({memory})")
    if rule == "memory" or fits <= devices or not local:
        why = f"groups of {fits}, the largest that fits ("
        why += f"{'several processes; ' if jax.process_count() > 1 else ''}{memory})"
        return Grouping(fits, MAX_CHUNK, "scan", why)
    seconds = {}
    for g in (devices, fits):
        seconds[g] = timer.seconds(g, "steps")
        alone = n / devices * steps * seconds[g]  # the members, one per device at a time
        if g == devices and alone < OVERHEAD * compile_s and not timer.kept(fits, "steps"):
            why = (
                f"groups of {devices}: one member per device needs about {alone:.1f} s in all, "
                f"less than timing a group of {fits} would cost (about {OVERHEAD:g} x the "
                f"{compile_s:.1f} s the one-member step took to compile; {memory})"
            )
            return Grouping(devices, _chunk(seconds[g]), "scan", why)
    rate = {g: g / s for g, s in seconds.items()}  # member-steps per second
    best = max(rate.values())
    size = min(g for g in sorted(seconds) if rate[g] >= 0.9 * best)
    timed = ", ".join(f"{g}: {rate[g]:,.1f}" for g in sorted(seconds))
    why = f"groups of {size}, the fastest (member-steps/s by group size, one step at a time: "
    loop, chunk, form = _form(timer, size)
    why += f"{timed}); {form}; {timer.sources()}; {memory})"
    return Grouping(size, chunk, loop, why)


def _form(timer: _Timer, size: int) -> tuple[str, int, str]:
    """The loop form of groups of ``size``, their chunk, and a phrase saying why."""
    steps = timer.seconds(size, "steps")
    scan = timer.seconds(size, "scan")
    loop = "steps" if steps < scan / LOOP_MARGIN else "scan"
    why = (
        f"{loop} loop (member-steps/s one step per dispatch {size / steps:,.1f}, in a "
        f"compiled scan {size / scan:,.1f}"
    )
    return loop, _chunk(steps if loop == "steps" else scan), why


class _Timer:
    """Seconds per step of a group of ``g`` members in a loop form: kept, or timed here."""

    def __init__(self, sweep, ds, seeds, data, batch_size, mesh, one, lowered):
        self.sweep, self.data, self.batch_size, self.mesh = sweep, data, batch_size, mesh
        self.one = one
        self.devices = mesh.devices.size
        fill = np.minimum(np.arange(self.devices), len(ds) - 1)
        self.members = (ds[fill], seeds[fill])
        program = hashlib.sha256(lowered.as_text().encode()).hexdigest()
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        kind = jax.devices()[0].device_kind
        self.prefix = f"{program}|{kind}x{self.devices}|cpus {cpus}|jax {jax.__version__}"
        self.base = None  # one member per device: the training's own initial program
        self.kept_in: set[str] = set()  # where kept times came from
        self.timed_here = False
        self.found: dict[tuple[int, str], float] = {}  # this choice's times

    def _key(self, g: int, loop: str) -> str:
        return f"{self.prefix}|group {g}" + ("" if loop == "steps" else f"|{loop}")

    def kept(self, g: int, loop: str) -> bool:
        return _step_times.lookup(self._key(g, loop)) is not None

    def seconds(self, g: int, loop: str) -> float:
        if (g, loop) in self.found:  # asked again by this choice
            return self.found[g, loop]
        kept = _step_times.lookup(self._key(g, loop))
        if kept is not None:
            self.kept_in.add(kept[1])
            self.found[g, loop] = kept[0]
            return kept[0]
        if self.base is None:
            self.base = init_group(
                self.sweep, self.members, group_size=self.devices, mesh=self.mesh
            )
        args = (self.sweep, self.base, g, self.data, self.batch_size, self.mesh)
        if loop == "steps":
            seconds = _seconds_per_step(*args, self.one if g == 1 else None)
        else:
            seconds = _seconds_per_scan_step(*args)
        _step_times.store(self._key(g, loop), seconds)
        self.timed_here = True
        self.found[g, loop] = seconds
        return seconds

    def sources(self) -> str:
        """Where the times came from: "timed here", "kept in ...", or both."""
        where = ["timed here"] if self.timed_here else []
        if self.kept_in:
            where.append(f"kept in {', '.join(sorted(self.kept_in))}")
        return " and ".join(where)


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


def _seconds_per_scan_step(sweep, base, g, data, batch_size, mesh) -> float:
    """The wall time per step of a group of ``g`` members in the ``"scan"`` loop form (the
    training's own chunk program, ``SCAN_STEPS`` steps on the first minibatch), after one
    untimed chunk; chunks are timed until ``SCAN_SECONDS`` have passed."""
    state = _tiled(base, g, mesh)  # a copy: the chunk program donates its state
    finite = member_array(np.ones(g, bool), mesh)
    if data is None:
        program = _chunk_runner_full_batch(sweep, mesh)
        args = (SCAN_STEPS,)
    else:
        program = _chunk_runner(sweep, mesh, False)
        rows = np.tile(np.arange(batch_size, dtype=np.int32), (SCAN_STEPS, 1))
        xy = (replicated_array(a[:batch_size], mesh) for a in (data.train_x, data.train_y))
        args = (*xy, rows)
    state, finite, loss = program(state, finite, *args)
    jax.block_until_ready(loss)
    start, runs = time.perf_counter(), 0
    while runs == 0 or time.perf_counter() - start < SCAN_SECONDS:
        state, finite, loss = program(state, finite, *args)
        jax.block_until_ready(loss)
        runs += 1
    return (time.perf_counter() - start) / (runs * SCAN_STEPS)


def _tiled(base: Any, g: int, mesh: Any) -> Any:
    """``g`` members: copies of ``base``'s, each with its own key (``fold_in`` its index)."""

    @jax.jit
    def tile(state):
        idx = jnp.arange(g) % len(state.train.step)
        state = jax.tree_util.tree_map(lambda a: a[idx], state)
        keys = jax.vmap(jax.random.fold_in)(state.train.key, jnp.arange(g))
        return constrain_members(state._replace(train=state.train._replace(key=keys)), mesh)

    return tile(base)
