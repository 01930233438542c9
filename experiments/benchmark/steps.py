"""Time per training step: full-parameter (plain) training against subspace training.

Both runs use the same trainer (:func:`subspace.make_trainer`, Adam) on the same loss
(:func:`subspace.linen_task`), on one random batch of the right shape;
the subspace loss calls the task loss on ``sub.params(z)`` = θ0 + P z. What is timed is
the jitted, donated ``trainer.step``, after its compilation (timed apart, ahead of time,
with XLA's memory analysis of the same program).
"""

from __future__ import annotations

import math
import time
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import optax

import subspace
from experiments.benchmark.timing import measure
from subspace.train import Trainer

__all__ = [
    "VARIANTS",
    "Net",
    "grid",
    "param_count",
    "projection_options",
    "random_batch",
    "step_records",
    "time_trainer",
]

# Benchmark labels for a library projection with options, measured beside the defaults.
# "fastfood_one_block" is the original code's construction: one block of L = 2^ceil(log2 D).
VARIANTS = {
    "fastfood_butterfly": ("fastfood", {"fwht_method": "butterfly"}),  # the 0.1 transform
    "fastfood_shared": ("fastfood", {"shared_input": True}),  # opt-in: half the transforms
    "fastfood_one_block": ("fastfood", {"block_size": None}),  # filled in from D
}


def projection_options(label: str, D: int) -> tuple[str, dict]:  # noqa: N803
    """The library projection and its keyword options behind a benchmark label."""
    name, options = VARIANTS.get(label, (label, {}))
    options = dict(options)
    if "block_size" in options:
        options["block_size"] = 1 << (D - 1).bit_length()
    return name, options


class Net(NamedTuple):
    """A network to time: its name, the linen model, one example's shape, and the
    (projection, d) points at which to time subspace training."""

    name: str
    model: nn.Module
    input_shape: tuple[int, ...]
    points: tuple[tuple[str, int], ...] = ()


def grid(projections: tuple[str, ...], dims: tuple[int, ...]) -> tuple[tuple[str, int], ...]:
    """Every (projection, d) pair, projection by projection."""
    return tuple((projection, d) for projection in projections for d in dims)


def param_count(net: Net) -> int:
    """D, the number of parameters of ``net`` (from shapes only, nothing allocated)."""
    task = subspace.linen_task(net.model, net.input_shape)
    params, _ = jax.eval_shape(task.init, jax.random.key(0))
    return sum(math.prod(p.shape) for p in jax.tree_util.tree_leaves(params))


def random_batch(
    input_shape: tuple[int, ...], batch_size: int, *, key: jax.Array, classes: int = 10
) -> tuple[jax.Array, jax.Array]:
    """Random inputs (N(0, 1)) and integer labels: the cost of a step does not depend on data."""
    x_key, y_key = jax.random.split(key)
    x = jax.random.normal(x_key, (batch_size, *input_shape))
    return x, jax.random.randint(y_key, (batch_size,), 0, classes)


def subspace_loss(task_loss: Any) -> Any:
    """The task loss at θ0 + P z, with the :class:`subspace.Subspace` in the batch.

    θ0 and P reach the step as an argument (the batch is not donated), as in the sweep
    engine, not as closed-over constants: XLA folds closed-over arrays into the program,
    so a dense P of 800 MB would take about 10 s to compile.
    """

    def loss_fn(z, model_state, batch, key):
        sub, data = batch
        return task_loss(sub.params(z), model_state, data, key)

    return loss_fn


def time_trainer(
    trainer: Trainer,
    z: Any,
    model_state: Any,
    batch: Any,
    *,
    key: jax.Array,
    repeats: int,
    min_repeat_s: float,
) -> dict:
    """Compile time, first call, seconds per step and XLA's memory analysis of ``trainer.step``."""
    # The step donates the whole state, its key too (Trainer.init copies z and the model
    # state, not the key): a key of its own keeps the caller's alive for the next trainer.
    state = trainer.init(z, key=jax.random.fold_in(key, 0), model_state=model_state)
    start = time.perf_counter()
    compiled = trainer.step.lower(state, batch).compile()
    compile_s = time.perf_counter() - start
    memory = compiled.memory_analysis()  # None on backends without it

    start = time.perf_counter()
    state, _ = trainer.step(state, batch)  # reuses the compiled program above
    jax.block_until_ready(state)
    first_call_s = time.perf_counter() - start

    carry = [state]

    def run(calls: int) -> None:
        state = carry[0]
        for _ in range(calls):
            state, _ = trainer.step(state, batch)  # the old state is donated
        jax.block_until_ready(state)
        carry[0] = state

    return {
        "compile_s": compile_s,
        "first_call_s": first_call_s,
        "step_s": measure(run, repeats=repeats, min_repeat_s=min_repeat_s),
        "temp_bytes": None if memory is None else int(memory.temp_size_in_bytes),
        "argument_bytes": None if memory is None else int(memory.argument_size_in_bytes),
    }


def step_records(
    net: Net,
    *,
    batch_size: int,
    repeats: int,
    min_repeat_s: float,
    dense_max_bytes: int,
    seed: int = 0,
) -> list[dict]:
    """One record for plain training and one per (projection, d) of ``net.points``.

    A subspace the library refuses to build (dense P over ``dense_max_bytes``, d > D) is
    recorded with ``status: "skipped"`` and the library's message as ``reason``.
    """
    task = subspace.linen_task(net.model, net.input_shape)
    init_key, proj_key, train_key, data_key = jax.random.split(jax.random.key(seed), 4)
    params, model_state = task.init(init_key)
    D = param_count(net)  # noqa: N806 -- the paper's symbol
    classes = getattr(net.model, "num_classes", 10)
    batch = random_batch(net.input_shape, batch_size, key=data_key, classes=classes)
    optimizer = optax.adam(1e-3)
    timing = {"key": train_key, "repeats": repeats, "min_repeat_s": min_repeat_s}

    plain = time_trainer(
        subspace.make_trainer(task.loss_fn, optimizer), params, model_state, batch, **timing
    )
    records = [_record(net.name, D, "plain", None, plain, plain)]
    _report(records[-1])
    loss_fn = subspace_loss(task.loss_fn)
    for projection, d in net.points:
        name, options = projection_options(projection, D)
        if name == "dense":
            options["max_bytes"] = dense_max_bytes
        try:
            sub = subspace.wrap(params, d, projection=name, key=proj_key, **options)
        except ValueError as e:
            records.append(_skipped(net.name, D, projection, d, str(e)))
            _report(records[-1])
            continue
        result = time_trainer(
            subspace.make_trainer(loss_fn, optimizer),
            sub.zeros(),
            model_state,
            (sub, batch),
            **timing,
        )
        del sub  # a dense P can be large: free it before the next one
        records.append(_record(net.name, D, projection, d, result, plain))
        _report(records[-1])
    return records


def _record(model: str, D: int, projection: str, d: int | None, result: dict, plain: dict):  # noqa: N803
    ratio = result["step_s"]["median_s"] / plain["step_s"]["median_s"]
    temp, plain_temp = result["temp_bytes"], plain["temp_bytes"]
    return {
        "model": model,
        "D": D,
        "projection": projection,
        "d": d,
        "status": "ok",
        "reason": None,
        **result,
        "ratio_to_plain": ratio,
        "temp_ratio_to_plain": temp / plain_temp if temp is not None and plain_temp else None,
    }


def _skipped(model: str, D: int, projection: str, d: int, reason: str) -> dict:  # noqa: N803
    return {
        "model": model,
        "D": D,
        "projection": projection,
        "d": d,
        "status": "skipped",
        "reason": reason,
    }


def _report(r: dict) -> None:
    where = f"  {r['model']} (D = {r['D']:,}) {r['projection']}" + (
        f" d = {r['d']:,}" if r["d"] is not None else ""
    )
    if r["status"] != "ok":
        print(f"{where}: skipped ({r['reason'].split('. ')[0]})", flush=True)
        return
    step = r["step_s"]
    print(
        f"{where}: {step['median_s'] * 1e3:.3f} ms/step (IQR {step['iqr_s'] * 1e3:.3f}, "
        f"{step['repeats']} repeats), {r['ratio_to_plain']:.2f}x plain, "
        f"compile {r['compile_s']:.2f} s",
        flush=True,
    )
