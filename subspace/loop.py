"""Training a group of sweep members: one compiled program, sharded over devices.

The training set is put on the devices once (replicated); every step takes a minibatch
by index (:func:`subspace.data.step_indices`). The steps run in chunks, in one of two
loop forms (``LOOPS``): ``"scan"``, a chunk of steps in one compiled ``jax.lax.scan``
with no host round trip per step, or ``"steps"``, one compiled step per dispatch, the host
looping over the chunk's steps. On a CPU a convolution inside a compiled loop runs 2.5x
slower than in a step of its own (jax-ml/jax#12868; measured on CIFAR-10 LeNet, see
:mod:`subspace._grouping`), so the form is chosen by measurement there. The two forms
train the same members to slightly different floats (XLA compiles the step differently
inside a loop), so a resumed run keeps the form it began with. A problem without data
(the toy, an RL task) runs the same way with no batch. The group's in-flight state can
be checkpointed between chunks and restored (:mod:`subspace.checkpoint`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from subspace import _interrupt
from subspace._checks import check_int
from subspace.checkpoint import GroupCheckpoint
from subspace.data import Data, check_data, step_indices
from subspace.sharding import (
    constrain_members,
    member_array,
    member_mesh,
    replicated_array,
    to_host,
)
from subspace.sweep import check_members
from subspace.train import MAX_STEPS

__all__ = ["LOOPS", "init_group", "train_group"]

LOOPS = ("scan", "steps")  # a chunk in one compiled scan, or one compiled step at a time


def train_group(
    sweep: Any,
    init_args: tuple[np.ndarray, ...],
    *,
    steps: int,
    data: Data | None = None,
    batch_size: int | None = None,
    shuffle_seed: int = 0,
    per_member_shuffle: bool = False,
    group_size: int | None = None,
    mesh: Mesh | None = None,
    chunk: int = 100,
    eval_batch_size: int = 1000,
    on_steps: Callable[[int], None] | None = None,
    checkpoint: GroupCheckpoint | None = None,
    checkpoint_every: int = 1000,
    start: Callable[[Any], Any] | None = None,
    curve_every: int | None = None,
    loop: str = "scan",
) -> dict[str, np.ndarray]:
    """Trains the members given by ``init_args`` together and evaluates them.

    Args:
      sweep: a :class:`subspace.sweep.Sweep` from :func:`~subspace.make_sweep` or
        :func:`~subspace.make_baseline` (one contract: ``init(ds, seeds)``, ...).
      init_args: ``(ds, seeds)``, integer arrays of shape (members,): every member's d
        (in [1, sweep.width]; ``sweep.width`` = D for a baseline) and seed.
      steps: optimisation steps.
      data: training/test arrays; None for a full-batch problem whose batch is None.
      batch_size: minibatch size (required with data); the last partial batch of an epoch
        is dropped.
      shuffle_seed: seed of the minibatch order.
      per_member_shuffle: each member its own order, drawn from its seed.
      group_size: pad the members to this many (one compiled shape for every group);
        default the member count rounded up to the device count.
      mesh: devices to split the member axis over (default all).
      chunk: steps per compiled scan call. After each chunk the host waits for it, reports
        its member-steps and looks for Ctrl-C: a first Ctrl-C saves the state there (with
        a checkpoint) and raises ``subspace._interrupt.Interrupted`` (a KeyboardInterrupt).
      eval_batch_size: examples per evaluation batch.
      on_steps: called with the number of member-steps finished, after each chunk.
      checkpoint: where to keep the group's in-flight state; if it holds a checkpoint,
        training continues from it (same final result as an uninterrupted run). The
        caller clears it once the group's results are saved.
      checkpoint_every: save after a chunk once this many steps have passed since the
        last save (chunk boundaries, so the resumed run replays the same chunks).
      start: a warm start: a function of the group's initial state (members padded to the
        group size as ``init_group`` pads them, the member axis first) that gives the state
        training starts from, e.g. trained z and a codebook (:mod:`subspace.bounds`).
        Applied before a checkpoint is restored; it must keep every shape and dtype.
      curve_every: with data, also evaluate every split after each multiple of this many
        steps (a learning curve; chunks end there). Not with ``checkpoint`` (the points
        before a restore would be missing).

    Returns:
      Numpy arrays with one entry per member: ``last_step_loss``, ``finite`` (False if
      any step's loss was NaN/inf: the member diverged), and the evaluation metrics:
      ``train_<name>`` and ``test_<name>`` with data; ``initial_<name>`` and
      ``final_<name>`` (before and after training) without. For a subspace sweep also
      ``z``, shape (members, width): each member's trained z, zero past its d (its first
      d entries are the z of ``member_subspace``, e.g. for ``save_compressed``); for a
      baseline ``params``, the trained parameter pytree (a leading member axis on every
      leaf). And ``model_state``, the model's own state after training (BatchNorm
      statistics; ``()`` if none), and ``estimator_state``, the estimator's own (``()``
      for backprop and ES; a codebook for ``quantised``), pytrees with a leading member
      axis. With ``curve_every``, ``curve_step`` and ``curve_<split>_<name>``, shape
      (members, points): the learning curve.
    """
    n = _check_arguments(
        sweep,
        init_args,
        steps,
        data,
        batch_size,
        shuffle_seed,
        group_size,
        mesh,
        chunk,
        eval_batch_size,
        loop,
    )
    if curve_every is not None:
        _check_int("curve_every", curve_every, 1)
        if data is None or checkpoint is not None:
            raise ValueError("train_group: curve_every needs data and no checkpoint")
    mesh = member_mesh() if mesh is None else mesh
    size = group_size or -(-n // mesh.devices.size) * mesh.devices.size
    if size < n or size % mesh.devices.size:
        raise ValueError(
            f"group_size must be >= the member count {n} and a multiple of the device count "
            f"{mesh.devices.size}; got {size}"
        )
    state = init_group(sweep, init_args, group_size=size, mesh=mesh)
    if start is not None:
        state = _warm_start(state, start, mesh)
    finite = member_array(np.ones(size, bool), mesh)
    loss = member_array(np.zeros(size, np.float32), mesh)

    if data is None:
        evaluate = _evaluate_full_batch(sweep)
        initial = {f"initial_{k}": to_host(v)[:n] for k, v in evaluate(state).items()}
        if loop == "scan":
            run_full = _chunk_runner_full_batch(sweep, mesh)

            def advance(state, finite, start, k):
                return run_full(state, finite, k)
        else:
            step_full = _step_runner(sweep, mesh, False, False)

            def advance(state, finite, start, k):
                loss = None
                for _ in range(k):
                    state, finite, loss = step_full(state, finite)
                return state, finite, loss
    else:
        x, y = replicated_array(data.train_x, mesh), replicated_array(data.train_y, mesh)
        fill = np.minimum(np.arange(size), n - 1)  # the padded members' seeds
        seeds = np.asarray(init_args[1])[fill] if per_member_shuffle else None
        if loop == "scan":
            run_data = _chunk_runner(sweep, mesh, per_member_shuffle)
        else:
            step_data = _step_runner(sweep, mesh, True, per_member_shuffle)

            def run_data(state, finite, x, y, rows):
                loss = None
                for row in rows:
                    state, finite, loss = step_data(state, finite, x, y, row)
                return state, finite, loss

        def advance(state, finite, start, k):
            rows = step_indices(len(data.train_x), batch_size, k, shuffle_seed, seeds, start=start)
            return run_data(state, finite, x, y, rows)

    start = saved_at = 0
    curve: list[tuple[int, dict]] = []
    if checkpoint is not None:
        restored = checkpoint.restore(_carried(state, finite, loss))
        if restored is not None:
            start, carried = restored
            saved_at = start
            state, finite, loss = _with_carried(state, carried)
            if on_steps:
                on_steps(start * n)
    with _interrupt.deferred():
        while start < steps:
            k = min(chunk, steps - start)
            if curve_every is not None:
                k = min(k, curve_every - start % curve_every)
            state, finite, loss = advance(state, finite, start, k)
            jax.block_until_ready(loss)  # progress counts finished work, not dispatched
            start += k
            if curve_every is not None and start % curve_every == 0:
                curve.append((start, _evaluate_splits(sweep, state, data, mesh, eval_batch_size)))
            if on_steps:
                on_steps(k * n)
            if start < steps and _interrupt.requested():  # Ctrl-C: keep what is done
                _stop(checkpoint, start, steps, _carried(state, finite, loss))
            if checkpoint is not None and start < steps and start - saved_at >= checkpoint_every:
                checkpoint.save(start, _carried(state, finite, loss))
                saved_at = start

    if data is None:
        out = {f"final_{k}": to_host(v)[:n] for k, v in evaluate(state).items()}
        out.update(initial)
    else:
        out = {
            k: v[:n] for k, v in _evaluate_splits(sweep, state, data, mesh, eval_batch_size).items()
        }
    if curve:  # (members, points) arrays: the step and every split's metrics there
        out["curve_step"] = np.tile(np.array([s for s, _ in curve]), (n, 1))
        for name in curve[0][1]:
            out[f"curve_{name}"] = np.stack([m[name][:n] for _, m in curve], axis=1)
    out["last_step_loss"] = to_host(loss)[:n]
    out["finite"] = to_host(finite)[:n] & np.isfinite(out["last_step_loss"])
    trained = sweep.trained(state)
    if trained is not None:  # a subspace sweep: the trained z, to compress or inspect
        out["z"] = to_host(trained)[:n]
    else:  # a baseline: the trained parameters themselves
        out["params"] = jax.tree_util.tree_map(lambda a: to_host(a)[:n], state.train.z)
    out["model_state"] = jax.tree_util.tree_map(lambda a: to_host(a)[:n], state.train.model_state)
    estimator_state = state.train.estimator_state
    out["estimator_state"] = jax.tree_util.tree_map(lambda a: to_host(a)[:n], estimator_state)
    return out


def _warm_start(state: Any, start: Callable, mesh: Mesh) -> Any:
    """``start(state)``, checked to keep every shape and dtype, its member axis split."""
    if not callable(start):
        raise TypeError(
            f"train_group: start must be a function of the group's state; got {start!r}"
        )
    new = start(state)
    leaves, old = jax.tree_util.tree_leaves(new), jax.tree_util.tree_leaves(state)
    same = jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(state) and all(
        jnp.shape(a) == b.shape and jnp.result_type(a) == b.dtype
        for a, b in zip(leaves, old, strict=True)
    )
    if not same:
        raise ValueError(
            "train_group: start must give a state of the same structure, shapes and dtypes"
        )
    return jax.jit(lambda s: constrain_members(s, mesh))(new)


def init_group(sweep: Any, init_args: tuple, *, group_size: int, mesh: Mesh) -> Any:
    """The initial state of a group: the members ``init_args`` (``(ds, seeds)``) padded to
    ``group_size`` by repeating the last one (the copies are dropped from the results),
    their member axis split over ``mesh``."""
    if not isinstance(init_args, (tuple, list)) or len(init_args) != 2:
        raise ValueError(f"init_group: init_args must be (ds, seeds); got {init_args!r:.200}")
    n = check_members(*init_args, sweep.width, "init_group")
    _check_mesh(mesh, "init_group")
    group_size = check_int(group_size, "group_size", n, where="init_group")
    if group_size % mesh.devices.size:
        raise ValueError(
            f"init_group: group_size must be a multiple of the device count "
            f"{mesh.devices.size}; got {group_size}"
        )
    fill = np.minimum(np.arange(group_size), n - 1)
    args = [member_array(np.asarray(a)[fill], mesh) for a in init_args]
    return _init_program(sweep, mesh)(*args)


def _check_mesh(mesh: Any, where: str) -> None:
    if not isinstance(mesh, Mesh):
        raise TypeError(f"{where}: mesh must be a jax.sharding.Mesh; got {mesh!r}")


def _stop(checkpoint: GroupCheckpoint | None, start: int, steps: int, carried: dict) -> None:
    """Ctrl-C at a chunk boundary: saves the group's state (with a checkpoint) and raises."""
    if checkpoint is None:
        raise _interrupt.Interrupted(
            f"interrupted at step {start} of {steps}: no checkpoint, the group's steps are lost"
        )
    checkpoint.save(start, carried)
    raise _interrupt.Interrupted(
        f"interrupted at step {start} of {steps}; the group's state is saved in "
        f"{checkpoint.directory}"
    )


def _check_int(name: str, value: Any, minimum: int) -> int:
    return check_int(value, name, minimum, where="train_group")


def _check_arguments(
    sweep,
    init_args,
    steps,
    data,
    batch_size,
    shuffle_seed,
    group_size,
    mesh,
    chunk,
    eval_batch_size,
    loop,
) -> int:
    """Host-side checks before anything is traced; returns the member count."""
    if not isinstance(init_args, (tuple, list)) or len(init_args) != 2:
        raise ValueError(
            f"train_group: init_args must be (ds, seeds), per-member arrays; got {init_args!r:.200}"
        )
    n = check_members(*init_args, sweep.width, "train_group")
    check_int(steps, "steps", 1, where="train_group", maximum=MAX_STEPS)
    _check_int("shuffle_seed", shuffle_seed, 0)
    _check_int("chunk", chunk, 1)
    _check_int("eval_batch_size", eval_batch_size, 1)
    if loop not in LOOPS:
        raise ValueError(f"train_group: loop must be one of {LOOPS}; got {loop!r}")
    if group_size is not None:
        _check_int("group_size", group_size, 1)
    if mesh is not None and not isinstance(mesh, Mesh):
        raise TypeError(f"train_group: mesh must be a jax.sharding.Mesh; got {mesh!r}")
    if data is not None:
        check_data(data, batch_size, "train_group")
    return n


def _carried(state, finite, loss) -> dict:
    """What a checkpoint keeps: the training state (θ0 and P are redrawn from the seeds),
    the divergence flags and the last losses."""
    return {"train": state.train, "finite": finite, "loss": loss}


def _with_carried(state, carried):
    return state._replace(train=carried["train"]), carried["finite"], carried["loss"]


# The compiled programs are cached per (sweep, mesh), so every group of a sweep (same
# shapes) reuses one compilation instead of retracing new closures.


@functools.lru_cache(maxsize=32)
def _init_program(sweep, mesh):
    return jax.jit(lambda *args: constrain_members(sweep.init(*args), mesh))


@functools.lru_cache(maxsize=32)
def _evaluate_full_batch(sweep):
    return jax.jit(lambda state: sweep.evaluate(state, None))


def _step(sweep, mesh, with_data, per_member):
    """One training step of the group, ``(state, finite, *batch) -> (state, finite,
    loss)``; ``batch`` is ``(x, y, row)`` with data (``row``: (members, batch) indices with
    each member its own minibatch), nothing without. The body of both loop forms."""

    def step(state, finite, *batch):
        if not with_data:
            state, metrics = sweep.update(state, None)
        else:
            x, y, row = batch
            update = sweep.update_each if per_member else sweep.update
            state, metrics = update(state, (x[row], y[row]))
        state = constrain_members(state, mesh)
        return state, finite & jnp.isfinite(metrics["loss"]), metrics["loss"]

    return step


@functools.lru_cache(maxsize=32)
def _step_runner(sweep, mesh, with_data, per_member):
    """The ``"steps"`` loop form's program: one compiled step."""
    return jax.jit(_step(sweep, mesh, with_data, per_member), donate_argnums=0)


@functools.lru_cache(maxsize=32)
def _chunk_runner_full_batch(sweep, mesh):
    """The ``"scan"`` loop form's program without data: ``k`` steps in one scan."""
    step = _step(sweep, mesh, False, False)

    def run(state, finite, k):
        def body(carry, _):
            return step(*carry[:2]), None

        loss = jnp.zeros_like(finite, jnp.float32)
        return jax.lax.scan(body, (state, finite, loss), None, length=k)[0]

    return jax.jit(run, static_argnums=2, donate_argnums=0)


@functools.lru_cache(maxsize=32)
def _chunk_runner(sweep, mesh, per_member):
    """The ``"scan"`` loop form's program with data: one step per row of ``rows``."""
    step = _step(sweep, mesh, True, per_member)

    def run(state, finite, x, y, rows):
        def body(carry, row):
            return step(*carry[:2], x, y, row), None

        loss = jnp.zeros(finite.shape, jnp.float32)
        return jax.lax.scan(body, (state, finite, loss), rows)[0]

    return jax.jit(run, donate_argnums=0)


def _evaluate_splits(sweep, state, data: Data, mesh, batch_size) -> dict[str, np.ndarray]:
    """``train_<name>`` (and ``test_<name>``): the metrics over the training (test) split."""
    out = {}
    splits = [("train", data.train_x, data.train_y)]
    if data.test_x is not None:
        splits.append(("test", data.test_x, data.test_y))
    for split, sx, sy in splits:
        metrics = evaluate_split(sweep, state, sx, sy, mesh, batch_size)
        out.update({f"{split}_{k}": v for k, v in metrics.items()})
    return out


def evaluate_split(sweep, state, x, y, mesh, batch_size) -> dict[str, np.ndarray]:
    """Mean of the per-example metrics of ``sweep.evaluate`` over a whole split."""
    n = len(x)
    nb = -(-n // batch_size)
    pad = nb * batch_size - n
    xs = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]).reshape(
        nb, batch_size, *x.shape[1:]
    )
    ys = np.concatenate([y, np.zeros((pad, *y.shape[1:]), y.dtype)]).reshape(nb, batch_size)
    weights = (np.arange(nb * batch_size) < n).reshape(nb, batch_size).astype(np.float32)

    sums = _evaluate_program(sweep)(state, *(replicated_array(a, mesh) for a in (xs, ys, weights)))
    return {k: to_host(v) / n for k, v in sums.items()}


@functools.lru_cache(maxsize=32)
def _evaluate_program(sweep):
    @jax.jit
    def run(state, xs, ys, weights):

        def body(acc, batch):
            xb, yb, wb = batch
            metrics = sweep.evaluate(state, (xb, yb))  # name -> (members, batch)
            return jax.tree_util.tree_map(lambda a, m: a + (m * wb).sum(-1), acc, metrics), None

        zeros = jax.eval_shape(lambda: sweep.evaluate(state, (xs[0], ys[0])))
        acc = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape[:1], jnp.float32), zeros)
        acc, _ = jax.lax.scan(body, acc, (xs, ys, weights))
        return acc

    return run
