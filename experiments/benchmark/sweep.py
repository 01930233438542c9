"""A sweep over d, end to end: the batched engine against a sequential loop.

Batched: :func:`subspace.make_sweep` + :func:`subspace.train_group`, every member in one
compiled program. Sequential: the same members trained one by one as the original code
did, each rebuilt with :func:`subspace.sweep.member_subspace` and trained by its own
jitted ``make_trainer(...).step`` (so each compiles its own program). Both see the same
minibatches (:func:`subspace.data.step_indices`), evaluate on the training set at the
end, and are timed from building the model to the evaluated result, compilation
included. The trained z of both are compared, to check that they trained the same thing.
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import subspace
from experiments.benchmark.steps import Net, param_count
from subspace.data import step_indices
from subspace.sweep import Member, member_subspace

__all__ = ["compare_sweep", "random_data"]

EVAL_BATCH = 1000


def random_data(net: Net, examples: int, *, seed: int = 0) -> subspace.Data:
    """Random inputs and labels of the training set's size (the cost does not depend on
    the data)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((examples, *net.input_shape), dtype=np.float32)
    classes = getattr(net.model, "num_classes", 10)
    return subspace.Data(x, rng.integers(0, classes, examples).astype(np.int32))


def compare_sweep(
    net: Net,
    dims: tuple[int, ...],
    *,
    examples: int,
    steps: int | None,
    batch_size: int,
    projection: str = "fastfood",
    lr: float = 1e-2,
) -> dict:
    """Wall times of the batched and the sequential sweep of ``net`` over ``dims`` (seed 0).

    ``steps`` defaults to one epoch of ``examples``.
    """
    data = random_data(net, examples)
    steps = steps or examples // batch_size
    ds = np.asarray(dims)
    seeds = np.zeros_like(ds)
    task = subspace.linen_task(net.model, net.input_shape)
    width = int(ds.max())
    eval_batch = math.gcd(examples, EVAL_BATCH)  # whole batches: one compiled shape

    # Batched first: the process-wide caches it warms can only help the sequential loop.
    start = time.perf_counter()
    sweep = subspace.make_sweep(task, optax.adam(lr), projection=projection, width=width)
    batched = subspace.train_group(
        sweep,
        (ds, seeds),
        steps=steps,
        data=data,
        batch_size=batch_size,
        eval_batch_size=eval_batch,
    )
    batched_s = time.perf_counter() - start
    print(f"  sweep, batched: {len(ds)} members, {steps} steps, {batched_s:.1f} s", flush=True)

    start = time.perf_counter()
    rows = step_indices(examples, batch_size, steps, 0)  # train_group's default order
    x, y = jnp.asarray(data.train_x), jnp.asarray(data.train_y)
    member_s, z_difference, accuracy_difference = [], 0.0, 0.0
    for i, (d, seed) in enumerate(zip(ds.tolist(), seeds.tolist(), strict=True)):
        member_start = time.perf_counter()
        z, accuracy = _train_one(task, d, seed, width, projection, lr, x, y, rows, eval_batch)
        member_s.append(time.perf_counter() - member_start)
        z_difference = max(z_difference, float(np.max(np.abs(z - batched["z"][i, :d]))))
        accuracy_difference = max(
            accuracy_difference, abs(accuracy - float(batched["train_accuracy"][i]))
        )
    sequential_s = time.perf_counter() - start
    print(f"  sweep, sequential: {sequential_s:.1f} s", flush=True)
    return {
        "model": net.name,
        "D": param_count(net),
        "projection": projection,
        "ds": ds.tolist(),
        "members": len(ds),
        "steps": steps,
        "examples": examples,
        "batch_size": batch_size,
        "lr": lr,
        "batched_s": batched_s,
        "sequential_s": sequential_s,
        "sequential_member_s": member_s,
        "speedup": sequential_s / batched_s,
        "max_z_difference": z_difference,
        "max_train_accuracy_difference": accuracy_difference,
    }


def _train_one(task, d, seed, width, projection, lr, x, y, rows, eval_batch):
    """Member (d, seed) alone, its own jit: returns its trained z and training accuracy."""
    sub, model_state, train_key = member_subspace(
        task, Member(d, seed), projection=projection, width=width
    )

    # Closed over, as in the README's example: each member compiles its own program.
    def loss_fn(z, model_state, batch, key):
        return task.loss_fn(sub.params(z), model_state, batch, key)

    def eval_fn(z, model_state, batch):
        return task.eval_fn(sub.params(z), model_state, batch, None)

    trainer = subspace.make_trainer(loss_fn, optax.adam(lr), eval_fn=eval_fn)
    state = trainer.init(sub.zeros(), key=train_key, model_state=model_state)
    for row in rows:
        state, _ = trainer.step(state, (x[row], y[row]))
    correct = [
        trainer.evaluate(state, (x[i : i + eval_batch], y[i : i + eval_batch]))["accuracy"]
        for i in range(0, len(x), eval_batch)
    ]
    accuracy = float(np.mean(np.concatenate([np.asarray(c) for c in correct])))
    return np.asarray(jax.device_get(state.z)), accuracy
