"""One call that measures the intrinsic dimension of a task: :func:`measure`.

For every projection, the (d, seed) members of the grid are split into groups that fit a
memory budget (:mod:`subspace.memory`); each group trains in one compiled, vmapped program
whose member axis is split over all devices (:func:`subspace.train_group`). After each
group the results are written atomically to ``out``, so an interrupted measurement loses
at most the group in flight (and not even that with checkpoints), and ``resume=True``
continues it. The full-parameter baseline trains through the same code. ``refine=True``
narrows d_int with K-section passes inside the bracket (:func:`subspace.search`).

Every check on the arguments, the output folder and earlier results comes before any data
is loaded or program compiled. A diverged member (a NaN/inf loss at any step) keeps no
measured value, so it never reaches a threshold; a diverged baseline stops the
measurement with a :class:`SweepError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import numpy as np
import optax

from subspace._measure_args import check_measure_arguments
from subspace.checkpoint import GroupCheckpoint
from subspace.es import ES, ESTask, make_es_baseline, make_es_sweep
from subspace.intrinsic import bootstrap_d_int, d_int, search
from subspace.loop import Data, train_group
from subspace.memory import default_budget, group_size, program_bytes
from subspace.progress import Progress, make_progress
from subspace.results import (
    RESULTS,
    ResultsError,
    SweepResult,
    load_results,
    read_timings,
    timing_key,
    write_results,
)
from subspace.sharding import member_mesh
from subspace.sweep import Task, make_baseline, make_sweep

__all__ = ["REFINE_K", "SweepError", "measure"]

REFINE_K = 4  # values of d per refinement pass


class SweepError(ValueError):
    """A measurement that cannot go on: results in the way, another config, a diverged
    baseline. The message says what to do."""


def measure(
    task: Task | ESTask,
    *,
    dims: Sequence[int],
    optimizer: optax.GradientTransformation,
    seeds: int | Sequence[int] = 3,
    data: Data | Callable[[], Data] | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    projections: str | Sequence[str] = "fastfood",
    baseline: optax.GradientTransformation | None = None,
    metric: str = "test_accuracy",
    metric_fn: Callable[[dict], np.ndarray] | None = None,
    higher_is_better: bool = True,
    fraction: float = 0.9,
    threshold: float | None = None,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    refine: bool = False,
    name: str = "measurement",
    meta: dict | None = None,
    shuffle_seed: int = 0,
    per_member_shuffle: bool = False,
    budget_bytes: int | None = None,
    checkpoint_every: int = 500,
    progress: bool | Progress = True,
    es: ES | None = None,
    baseline_es: ES | None = None,
) -> SweepResult:
    """Measures the intrinsic dimension of ``task``: trains z for every (d, seed) of the
    grid (θ = θ0 + P z) and reads d_int where the mean metric over seeds reaches the
    threshold (Li et al., 2018).

    Args:
      task: the model and loss (:class:`subspace.Task`; :func:`subspace.linen_task` or
        :func:`subspace.nnx_task` build one from a Flax model), trained by gradient; or an
        :class:`subspace.ESTask` (e.g. from :mod:`subspace.rl`), trained by evolution
        strategies with ``es``: then ``steps`` counts generations, there is no data, the
        optimisers step on the ES gradient estimate, and the metric is ``final_fitness``
        (the mean evaluation fitness after training; ``initial_fitness`` at θ0).
      dims: the grid of d (each 1 <= d <= D).
      optimizer: the optax optimiser of z.
      seeds: seeds per d (0, 1, ...), or the list of seeds. Member (d, seed) draws θ0, P
        and its training randomness from ``seed`` (see :mod:`subspace.sweep`).
      data: training (and test) arrays, a function that returns them (called after every
        check, so a mistake is reported before a long load), or None for a full-batch
        problem whose batch is None.
      steps: optimisation steps per member; or ``epochs`` over the training set.
      batch_size: minibatch size (data problems).
      projections: "dense", "sparse", "fastfood", or several.
      baseline: the optax optimiser of the full-parameter baseline (one run per seed);
        d_int is then read at ``fraction`` × its mean metric. None: no baseline, and an
        absolute ``threshold`` is needed.
      metric: the name of the metric d_int is read from: ``test_<name>`` / ``train_<name>``
        of the task's ``eval_fn`` metrics, or ``final_<name>`` for full-batch problems.
      metric_fn: ``metric_fn(outputs) -> values`` computes the metric from the arrays
        :func:`subspace.train_group` returns (e.g. a relative loss); default
        ``outputs[metric]``.
      higher_is_better: True for an accuracy, False for a loss.
      fraction: 0.9 for d_int90, 1.0 for d_int100.
      threshold: an absolute threshold instead of ``fraction`` × baseline.
      out: folder for ``results.json``, ``results.csv``, ``timings.json`` and the
        checkpoints; None keeps everything in memory.
      resume: continue the measurement in ``out`` (same config only).
      overwrite: discard the results and checkpoints in ``out`` and start again. Without
        ``resume`` or ``overwrite``, results already in ``out`` are refused.
      refine: after the grid, narrow d_int with passes of ``REFINE_K`` values of d.
      name: recorded in the config.
      meta: JSON facts about the run that the arguments do not show (learning rates,
        epochs, the data variant): recorded in the config, and a resume must match them.
      shuffle_seed: seed of the minibatch order; ``per_member_shuffle`` gives each member
        its own order.
      budget_bytes: memory per device for a group (default: half an accelerator's memory,
        a quarter of the host's).
      checkpoint_every: save a group's in-flight state every this many steps (``out`` only).
      progress: True (a tqdm bar), False (silent), or a :class:`subspace.Progress`.
      es: the ES hyperparameters (:class:`subspace.ES`), with an ESTask only.
      baseline_es: the baseline's ES hyperparameters (σ is per parameter of θ there, so it
        usually differs from the subspace's); None: ``es``.

    Returns:
      A :class:`subspace.SweepResult` (also in ``out``; ``SweepResult.load(out)`` reads it).

    Raises:
      TypeError, ValueError: a bad argument, before any work.
      SweepError: results in ``out`` without ``resume``/``overwrite``, results of another
        config, or a diverged baseline.
      subspace.checkpoint.CheckpointError: a corrupt or foreign checkpoint (``resume``).

    Example:
      >>> result = subspace.measure(subspace.linen_task(model, (28, 28, 1)), data=data,
      ...     dims=[100, 200, 400], optimizer=optax.adam(1e-2), epochs=2, batch_size=128,
      ...     baseline=optax.adam(1e-3), out="runs/mine")
      >>> result.d_int["fastfood"]["d"]
    """
    m = _Measurement(
        task,
        dims=dims,
        optimizer=optimizer,
        seeds=seeds,
        data=data,
        steps=steps,
        epochs=epochs,
        batch_size=batch_size,
        projections=projections,
        baseline=baseline,
        metric=metric,
        metric_fn=metric_fn,
        higher_is_better=higher_is_better,
        fraction=fraction,
        threshold=threshold,
        out=out,
        resume=resume,
        overwrite=overwrite,
        refine=refine,
        name=name,
        meta=meta,
        shuffle_seed=shuffle_seed,
        per_member_shuffle=per_member_shuffle,
        budget_bytes=budget_bytes,
        checkpoint_every=checkpoint_every,
        progress=progress,
        es=es,
        baseline_es=baseline_es,
    )
    return m.run()


class _Measurement:
    """The state of one :func:`measure` call; every check happens in ``__init__``."""

    def __init__(self, task, **kw):
        a = check_measure_arguments(task, **kw)
        self.task, self.a = task, a
        # One reporter: process 0's (the others train the same members silently).
        self.progress = make_progress(a.progress if jax.process_index() == 0 else False)
        params = jax.eval_shape(task.init, jax.random.key(0))
        if not isinstance(task, ESTask):
            params, _ = params  # a Task's init gives (params, model_state)
        self.D = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))
        if a.dims[-1] > self.D:
            raise ValueError(f"measure: dims must be <= D = {self.D}; got {a.dims[-1]}")
        self.out = None if a.out is None else Path(a.out)
        if self.out is not None:
            check_out(self.out)
        self.data = a.data
        steps = a.steps
        if a.epochs is not None:
            if callable(self.data):
                self.data = self._load()
            steps = a.epochs * (len(self.data.train_x) // a.batch_size)
            if steps < 1:
                raise ValueError(
                    f"measure: batch_size must be <= the {len(self.data.train_x)} training "
                    f"examples; got {a.batch_size}"
                )
        self.steps = steps
        self.config = {
            "name": a.name,
            "D": self.D,
            "dims": a.dims,
            "seeds": a.seeds,
            "projections": a.projections,
            "steps": steps,
            "batch_size": a.batch_size,
            "metric": a.metric,
            "higher_is_better": a.higher_is_better,
            "threshold": a.threshold,
            "fraction": a.fraction,
            "shuffle_seed": a.shuffle_seed,
            "per_member_shuffle": a.per_member_shuffle,
            "refine": a.refine,
            **a.meta,
        }
        if a.es is not None:  # only then, so gradient-trained results keep their config
            self.config["es"] = a.es.kwargs()
            self.config["baseline_es"] = a.baseline_es.kwargs()
        self.mesh = member_mesh()
        self.budget = a.budget_bytes or default_budget()
        self.metric_fn = a.metric_fn or (lambda outputs: outputs[a.metric])

    def _prepare(self) -> None:
        """Earlier results in ``out`` (refused or resumed), then the data."""
        a = self.a
        self.members, self.baseline, self.timings = self._previous()
        if callable(self.data):
            self.data = self._load()
        if self.data is not None and a.batch_size > len(self.data.train_x):
            raise ValueError(
                f"measure: batch_size must be <= the {len(self.data.train_x)} training "
                f"examples; got {a.batch_size}"
            )

    def _load(self) -> Data:
        data = self.data()
        if not isinstance(data, Data):
            raise TypeError(
                f"measure: data() must return a subspace.Data; got {type(data).__name__}"
            )
        return data

    # --- results on disk -------------------------------------------------------------

    def _previous(self) -> tuple[list, list, dict]:
        """Finished members of an earlier run in ``out`` (``resume``), else none."""
        if self.out is None:
            return [], [], {}
        checkpoints = self.out / "checkpoints"
        if self.a.overwrite:
            if jax.process_index() == 0:
                shutil.rmtree(checkpoints, ignore_errors=True)
            return [], [], {}
        results = self.out / RESULTS
        in_flight = checkpoints.is_dir() and any(checkpoints.iterdir())
        if not self.a.resume and (results.exists() or in_flight):
            what = "results" if results.exists() else "an unfinished group's checkpoint"
            raise SweepError(
                f"{self.out} already holds {what}: resume continues that run, overwrite "
                "discards it and starts again (or choose another output folder)"
            )
        if not results.exists():
            return [], [], {}
        fix = "choose another output folder, or overwrite to discard it"
        try:
            previous = load_results(self.out)
        except ResultsError as e:
            raise SweepError(f"{e}; {fix}") from None
        if previous.config != self.config:
            old = previous.config
            keys = sorted(
                k for k in set(old) | set(self.config) if old.get(k) != self.config.get(k)
            )
            raise SweepError(
                f"{self.out / RESULTS} was written with another config (differs in "
                f"{', '.join(keys)}); {fix}"
            )
        timings, warning = read_timings(self.out)
        if warning:
            self.progress.message(f"warning: {warning}")
        return previous.members, previous.baseline, timings

    def save(self, summary: dict | None = None) -> SweepResult:
        result = SweepResult(
            config=self.config,
            members=self.members,
            baseline=self.baseline,
            complete=summary is not None,
            **(summary or {}),
        )
        if self.out is not None and jax.process_index() == 0:
            environment = {"backend": jax.default_backend(), "devices": len(jax.devices())}
            write_results(self.out, result, self.timings, environment)
        return result

    # --- training --------------------------------------------------------------------

    def run(self) -> SweepResult:
        a = self.a
        self._prepare()
        self.progress.message(
            f"{a.name}: D = {self.D}, d in {a.dims}, seeds {a.seeds}, projections "
            f"{a.projections}, {self.steps} steps per member; {len(jax.devices())} "
            f"{jax.default_backend()} device(s)"
        )
        baseline = self.run_baseline()
        threshold = a.threshold if a.threshold is not None else a.fraction * baseline
        if baseline is not None:
            self.progress.message(
                f"baseline {a.metric} = {baseline:.4f} -> threshold {threshold:.4f}"
            )
        d_ints = {}
        for projection in a.projections:
            if a.refine:
                found = search(
                    lambda dims, p=projection: self.run_dims(p, dims),
                    a.dims,
                    threshold,
                    higher_is_better=a.higher_is_better,
                    k=REFINE_K,
                )
                ds, values, rounds = found.ds, found.values, [list(r) for r in found.rounds]
            else:
                (ds, values), rounds = self.run_dims(projection, a.dims), [a.dims]
            point = d_int(ds, values, threshold, higher_is_better=a.higher_is_better)
            lo, hi = bootstrap_d_int(ds, values, threshold, higher_is_better=a.higher_is_better)
            d_ints[projection] = {
                "d": point.d,
                "interpolated": point.interpolated,
                "ci90": [v if np.isfinite(v) else None for v in (lo, hi)],
                "compression": None if point.d is None else self.D / point.d,
                "rounds": rounds,
            }
        result = self.save({"baseline_metric": baseline, "threshold": threshold, "d_int": d_ints})
        if self.out is not None and jax.process_index() == 0:
            # Every group is done: no checkpoint is needed any more, including one left
            # behind by a run killed while it was cleaning up.
            shutil.rmtree(self.out / "checkpoints", ignore_errors=True)
        return result

    def run_baseline(self) -> float | None:
        a = self.a
        if a.baseline is None:
            return None
        done = {r["seed"] for r in self.baseline}
        todo = [s for s in a.seeds if s not in done]
        if todo:
            self.progress.message(f"baseline: full-parameter training, D = {self.D}, seeds {todo}")
            if a.es is None:
                sweep = make_baseline(self.task, a.baseline)
            else:
                sweep = make_es_baseline(self.task, a.baseline, **a.baseline_es.kwargs())
            keys = [{"seed": s} for s in todo]
            self.train("baseline", sweep, keys, np.full(len(todo), self.D), np.array(todo))
        diverged = [r["seed"] for r in self.baseline if r[a.metric] is None]
        if diverged:
            raise SweepError(
                f"the full-parameter baseline diverged (seeds {diverged}: NaN/inf loss), so "
                "there is no threshold to measure d_int against; lower the baseline's "
                "learning rate and start again (overwrite)"
            )
        return float(np.mean([r[a.metric] for r in self.baseline]))

    def run_dims(self, projection: str, dims: Sequence[int]) -> tuple[list[int], list[float]]:
        """Trains the missing (d, seed) members of ``dims``; returns (ds, values) of all."""
        a = self.a
        done = {(r["d"], r["seed"]) for r in self.members if r["projection"] == projection}
        todo = [(d, s) for d in dims for s in a.seeds if (d, s) not in done]
        if todo:
            width = max(dims)
            self.progress.message(
                f"{projection}: {len(todo)} members, d in {sorted({d for d, _ in todo})}, "
                f"z padded to {width}"
            )
            if a.es is None:
                sweep = make_sweep(self.task, a.optimizer, projection=projection, width=width)
            else:
                sweep = make_es_sweep(
                    self.task, a.optimizer, projection=projection, width=width, **a.es.kwargs()
                )
            keys = [{"projection": projection, "d": d, "seed": s} for d, s in todo]
            ds, seeds = np.array([d for d, _ in todo]), np.array([s for _, s in todo])
            self.train(projection, sweep, keys, ds, seeds)
        rows = [r for r in self.members if r["projection"] == projection and r["d"] in dims]
        return [r["d"] for r in rows], [
            np.nan if r[a.metric] is None else r[a.metric] for r in rows
        ]

    def _group_size(self, sweep, ds, seeds, n) -> int:
        """Members per group from a measured one-member step, reported."""
        state = jax.eval_shape(sweep.init, ds[:1], seeds[:1])
        state = jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype), state)
        if self.data is None:
            batch = None
        else:
            x, y = self.data.train_x, self.data.train_y
            batch = (
                jax.ShapeDtypeStruct((self.a.batch_size, *x.shape[1:]), x.dtype),
                jax.ShapeDtypeStruct((self.a.batch_size,), y.dtype),
            )
        per_member = program_bytes(sweep.update, state, batch)
        data_bytes = 0 if self.data is None else self.data.train_x.nbytes
        budget = max(self.budget - data_bytes, per_member)
        devices = self.mesh.devices.size
        size = group_size(n, per_member, budget, devices)
        self.progress.message(
            f"  memory: {per_member / 2**20:.1f} MB per member (XLA memory analysis of a "
            f"one-member step), budget {budget / 2**20:.0f} MB per device -> groups of "
            f"{size} ({math.ceil(n / size)} group(s), {devices} device(s))"
        )
        return size

    def train(self, kind: str, sweep, keys: list[dict], ds, seeds) -> None:
        """Trains the members ``keys`` in groups, saving after each group."""
        n = len(keys)
        size = self._group_size(sweep, ds, seeds, n)
        self.progress.start(kind, n * self.steps)
        try:
            for g, start in enumerate(range(0, n, size)):
                sel = slice(start, start + size)
                self._train_group(kind, sweep, keys[sel], ds[sel], seeds[sel], size)
                summary = self._summary(kind, keys[sel])
                self.progress.message(f"  {kind} group {g + 1}/{math.ceil(n / size)}: {summary}")
        finally:
            self.progress.close()

    def _train_group(self, kind, sweep, keys, ds, seeds, size) -> None:
        t0 = time.perf_counter()
        checkpoint = None
        if self.out is not None:
            # Named after the group's members, so a resumed run finds only its own; the
            # identity inside refuses one copied in from another group or run.
            identity = {"config": self.config, "kind": kind, "members": keys}
            ident = hashlib.sha256(
                json.dumps([self.config, keys], sort_keys=True).encode()
            ).hexdigest()[:16]
            checkpoint = GroupCheckpoint(
                self.out / "checkpoints" / f"{kind}-{ident}", identity=identity
            )
        out = train_group(
            sweep,
            (ds, seeds),
            steps=self.steps,
            data=self.data,
            batch_size=self.a.batch_size,
            shuffle_seed=self.a.shuffle_seed,
            per_member_shuffle=self.a.per_member_shuffle,
            group_size=size,
            mesh=self.mesh,
            on_steps=self.progress.update,
            checkpoint=checkpoint,
            checkpoint_every=self.a.checkpoint_every,
        )
        wall = time.perf_counter() - t0
        records = self._records(keys, sweep.width, out)
        for r in records:
            self.timings[timing_key(r)] = round(wall, 3)
        (self.baseline if kind == "baseline" else self.members).extend(records)
        self._wall = wall
        self.save()
        if checkpoint is not None and jax.process_index() == 0:
            checkpoint.clear()
            with contextlib.suppress(OSError):  # only if no other group's checkpoint is left
                checkpoint.directory.parent.rmdir()

    def _summary(self, kind: str, keys: list[dict]) -> str:
        metric = self.a.metric
        records = self.baseline if kind == "baseline" else self.members
        records = records[-len(keys) :]
        values = [r[metric] for r in records if r[metric] is not None]
        best = (max if self.a.higher_is_better else min)(values) if values else None
        diverged = sum(r["status"] == "diverged" for r in records)
        ds = [r["d"] for r in records if "d" in r]
        span = f", d {min(ds)}..{max(ds)}" if ds else ""
        return (
            f"{len(records)} members{span}, {self._wall:.1f} s, best {metric} "
            f"{best if best is None else f'{best:.4g}'}, {diverged} diverged"
        )

    def _records(self, keys: list[dict], width: int, out: dict) -> list[dict]:
        """One record per member. A diverged member (a NaN/inf loss, or a non-finite
        metric) keeps no measured value: it can never count as reaching a threshold."""
        values = np.asarray(self.metric_fn(out), np.float64)
        records = []
        for i, key in enumerate(keys):
            ok = bool(out["finite"][i]) and bool(np.isfinite(values[i]))
            measured = {
                name: float(v[i]) if ok and np.isfinite(v[i]) else None
                for name, v in sorted(out.items())
                if name not in ("finite", "z")
            }
            records.append(
                {
                    **key,
                    "width": 0 if "d" not in key else width,
                    "steps": self.steps,
                    "status": "ok" if ok else "diverged",
                    **measured,
                    self.a.metric: float(values[i]) if ok else None,
                }
            )
        return records


def check_out(out: Path) -> None:
    """Refuses an output folder that cannot be written, before any work."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {out} is a file, not a folder")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"out {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"out {out}: {parent} is not writable")
