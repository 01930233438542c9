"""One call that measures the intrinsic dimension of a task: :func:`measure`.

The measurement is data (:class:`subspace.Measurement`: the grid, the schedule, the
read-out; :class:`subspace.Run`: the output folder). This driver checks it against the
task and the data, resolves the earlier work in the output folder
(:mod:`subspace._results_folder`), trains the full-parameter baseline and then each
projection's grid in checkpointed groups (:mod:`subspace._groups`), optionally refines d
inside the bracket (:func:`subspace.search.search`), and reads d_int with a bootstrap
interval over seeds (:mod:`subspace.intrinsic`). Results are written after every group.

Every check on the arguments, the output folder and earlier results comes before any data
is loaded or program compiled. A diverged member (a NaN/inf loss at any step) keeps no
measured value, so it never reaches a threshold; a diverged baseline stops the
measurement with a :class:`SweepError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from subspace import _interrupt
from subspace._groups import train_in_groups
from subspace._lottery_bases import LOTTERY, check_lottery, lottery_bases, record_every
from subspace._networks import networks_of, write_networks
from subspace._results_folder import (
    FolderLock,
    check_out,
    clear_checkpoints,
    previous,
    save,
)
from subspace.data import Data, check_data
from subspace.fingerprints import data_fingerprint, task_fingerprint
from subspace.intrinsic import bootstrap_d_int, d_int
from subspace.measurement import Measurement, Run, split_keywords
from subspace.memory import default_budget
from subspace.progress import Progress, make_progress
from subspace.results import SweepError, SweepResult, timing_key
from subspace.search import search
from subspace.sharding import member_mesh
from subspace.sweep import make_baseline, make_sweep, split_label
from subspace.task import Task, check_task, init_shapes
from subspace.train import MAX_STEPS
from subspace.wrap import check_said

__all__ = ["REFINE_K", "measure"]

REFINE_K = 4  # values of d per refinement pass


def measure(
    task: Task,
    measurement: Measurement | None = None,
    *,
    data: Data | Callable[[], Data] | None = None,
    run: Run | None = None,
    progress: bool | Progress = True,
    **keywords: Any,
) -> SweepResult:
    """Measures the intrinsic dimension of ``task``: trains z for every (d, seed) of the
    grid (θ = θ0 + P z) and reads d_int where the mean metric over seeds reaches the
    threshold (Li et al., 2018).

    Args:
      task: the model and its objective (:class:`subspace.Task`; :func:`subspace.linen_task`,
        :func:`subspace.nnx_task` and :mod:`subspace.rl` build one).
      measurement: the :class:`subspace.Measurement` (grid, schedule, read-out); or None
        and its fields as keywords.
      data: training (and test) arrays, a function that returns them (called after every
        check, so a mistake is reported before a long load), or None for a problem
        without data (the toy, an RL task) whose batch is None.
      run: the :class:`subspace.Run` (output folder, resume/overwrite, checkpoints, memory
        budget); default in memory.
      progress: True (a tqdm bar), False (silent), or a :class:`subspace.Progress`.
      **keywords: any field of :class:`subspace.Grid`, :class:`subspace.Schedule`,
        :class:`subspace.Readout`, :class:`subspace.Run` or the measurement's ``name`` /
        ``meta``, forwarded into those objects (over ``measurement`` and ``run`` if given):
        ``dims``, ``seeds``, ``optimizer``, ``epochs``, ``baseline``, ``out``, ...

    Returns:
      A :class:`subspace.SweepResult` (also in ``out``; ``SweepResult.load(out)`` reads it,
      and its ``.measurement`` rebuilds the measurement).

    Raises:
      TypeError, ValueError: a bad argument, before any work.
      SweepError: results in ``out`` without ``resume``/``overwrite``, results of another
        measurement, or a diverged baseline.
      subspace.checkpoint.CheckpointError: a corrupt or foreign checkpoint (``resume``).

    Example:
      >>> result = subspace.measure(subspace.linen_task(model, (28, 28, 1)), data=data,
      ...     dims=[100, 200, 400], optimizer=subspace.Optimizer("adam", 1e-2), epochs=2,
      ...     batch_size=128, baseline=subspace.Optimizer("adam", 1e-3), out="runs/mine")
      >>> result.d_int["fastfood"]["d"]
    """
    measurement, run = split_keywords(measurement, run, keywords, "measure")
    return _Driver(task, measurement, run, data, progress).run()


class _Driver:
    """The state of one :func:`measure` call; every check happens in ``__init__``."""

    def __init__(self, task, measurement: Measurement, run: Run, data, progress) -> None:
        check_task(task, "measure")
        m, schedule = measurement, measurement.schedule
        if data is not None and not isinstance(data, Data) and not callable(data):
            raise TypeError(
                "measure: data must be a subspace.Data, a function returning one, or None; "
                f"got {type(data).__name__}"
            )
        if schedule.epochs is not None and data is None:
            raise ValueError("measure: epochs needs data; a problem without data takes steps")
        if (schedule.batch_size is None) != (data is None):
            raise ValueError("measure: batch_size is required with data, and only with data")
        if not isinstance(progress, (bool, Progress)):
            raise TypeError(
                f"measure: progress must be True, False or a subspace.Progress; got {progress!r}"
            )
        if task.eval_fn is None:
            raise ValueError(
                "measure: the task needs an eval_fn (the metrics d_int is read from); see "
                "subspace.Task"
            )
        self.task, self.m, self.run_, self.data = task, m, run, data
        # One reporter: process 0's (the others train the same members silently).
        self.progress = make_progress(progress if jax.process_index() == 0 else False)
        params, _ = init_shapes(task, "measure")
        self.D = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))
        if m.grid.dims[-1] > self.D:
            raise ValueError(f"measure: dims must be <= D = {self.D}; got {m.grid.dims[-1]}")
        tensors = len(jax.tree_util.tree_leaves(params))
        for label in m.grid.projections:
            if split_label(label)[1]:
                check_said(True, tensors, min(m.grid.dims), f"measure ({label})")
        if LOTTERY in m.grid.projections:
            check_lottery(schedule, data, "measure")
        self.out = None if run.out is None else Path(run.out)
        if self.out is not None:
            check_out(self.out)
        if data is None:
            self._check_metric()
        self.config = m.to_json()
        self.networks: dict = {}  # the trained networks, kept here without an out folder
        self.members: list[dict] = []
        self.baseline: list[dict] = []
        self.group_sizes: dict[str, int] = {}
        self.loops: dict[str, str] = {}
        self.mesh = member_mesh()
        self.budget = run.budget_bytes or default_budget()

    def _check_metric(self) -> None:
        """The read-out's metric is one of the outputs training will give (their names
        from the shapes of one evaluation: nothing is computed)."""
        key = jax.random.key(0)
        params, state = init_shapes(self.task, "measure")
        if self.data is None:
            batch, splits = None, ("initial", "final")
        else:
            x, y = self.data.train_x, self.data.train_y
            batch = tuple(jax.ShapeDtypeStruct((1, *a.shape[1:]), a.dtype) for a in (x, y))
            splits = ("train", "test") if self.data.test_x is not None else ("train",)
        names = jax.eval_shape(self.task.eval_fn, params, state, batch, key)
        outputs = sorted({f"{s}_{n}" for s in splits for n in names} | {"last_step_loss"})
        for name in self.m.readout.inputs:
            if name not in outputs:
                raise ValueError(
                    f"measure: readout.metric {self.m.readout.metric!r} needs {name!r}, which "
                    f"training does not give; the outputs of this task are {outputs}"
                )

    def _load(self) -> Data:
        data = self.data() if callable(self.data) else self.data
        if not isinstance(data, Data):
            raise TypeError(
                f"measure: data() must return a subspace.Data; got {type(data).__name__}"
            )
        return check_data(data, self.m.schedule.batch_size, "measure")

    def run(self) -> SweepResult:
        with FolderLock(self.out) as lock, _interrupt.deferred():
            if lock.taken_over is not None:
                holder = lock.taken_over
                self.progress.message(
                    f"warning: took over the lock of {self.out} from process "
                    f"{holder.get('pid')}, which is no longer running"
                )
            try:
                return self._run()
            except _interrupt.Interrupted as e:
                raise _interrupt.Interrupted(self._kept(str(e))) from None

    def _kept(self, what: str) -> str:
        """What an interrupted measurement kept, and how to go on."""
        done = len(self.members) + len(self.baseline)
        if self.out is None:
            return f"{what}; without an out folder nothing is kept ({done} members were done)"
        return (
            f"{what}; {done} finished members are kept in {self.out}: resume=True (the "
            "command line's --resume) continues from there"
        )

    def _run(self) -> SweepResult:
        m, g = self.m, self.m.grid
        found = previous(
            self.out,
            resume=self.run_.resume,
            overwrite=self.run_.overwrite,
            config=self.config,
            D=self.D,
        )
        if found.warning:
            self.progress.message(f"warning: {found.warning}")
        self.members, self.baseline, self.timings = found.members, found.baseline, found.timings
        self.group_sizes = dict(found.group_sizes)
        self.loops = dict(found.loops)
        self.steps = m.schedule.steps
        if self.data is not None:
            self.data = self._load()
            if m.schedule.epochs is not None:
                per_epoch = len(self.data.train_x) // m.schedule.batch_size
                self.steps = m.schedule.epochs * per_epoch
                if self.steps > MAX_STEPS:
                    raise ValueError(
                        f"measure: {m.schedule.epochs} epochs of {per_epoch} batches are "
                        f"{self.steps:,} steps; at most {MAX_STEPS:,} (an int32 step counter)"
                    )
            self._check_metric()
        found.check_steps(self.steps, self.out)
        if LOTTERY in g.projections:  # one trajectory record per direction, checked now
            record_every(self.steps, max(g.dims), "measure")
        self.fingerprints = {
            "task": task_fingerprint(self.task, g.seeds[0]),
            "data": data_fingerprint(self.data),
        }
        found.check_fingerprints(self.fingerprints, self.out)
        self.progress.message(
            f"{m.name}: D = {self.D}, d in {list(g.dims)}, seeds {list(g.seeds)}, projections "
            f"{list(g.projections)}, {self.steps} steps per member; {len(jax.devices())} "
            f"{jax.default_backend()} device(s)"
        )
        readout = m.readout
        baseline = self.run_baseline()
        try:
            threshold = readout.threshold_for(baseline)
        except ValueError as e:
            raise SweepError(f"{e} (the members are not trained yet)") from None
        if baseline is not None:
            self.progress.message(
                f"baseline {readout.metric} = {baseline:.4f} -> threshold {threshold:.4f}"
            )
        d_ints = {p: self._d_int(p, threshold) for p in g.projections}
        result = self.save({"baseline_metric": baseline, "threshold": threshold, "d_int": d_ints})
        clear_checkpoints(self.out)
        return result

    def _d_int(self, projection: str, threshold: float) -> dict:
        g, readout = self.m.grid, self.m.readout
        better = readout.higher_is_better
        if g.refine:
            found = search(
                lambda dims: self.run_dims(projection, dims),
                g.dims,
                threshold,
                higher_is_better=better,
                k=REFINE_K,
            )
            ds, values, rounds = found.ds, found.values, [list(r) for r in found.rounds]
        else:
            (ds, values), rounds = self.run_dims(projection, g.dims), [list(g.dims)]
        point = d_int(ds, values, threshold, higher_is_better=better)
        lo, hi = bootstrap_d_int(ds, values, threshold, higher_is_better=better)
        # A bound, not a value, at either end of the grid: d_int > the largest d trained
        # (none reaches), or d_int <= the smallest (it already reaches).
        bound = "lower" if point.d is None else ("upper" if point.d == min(ds) else None)
        return {
            "d": point.d,
            "interpolated": None if bound == "upper" else point.interpolated,
            "ci90": [
                None if bound == "upper" or not np.isfinite(lo) else lo,
                hi if np.isfinite(hi) else None,
            ],
            "compression": None if point.d is None else self.D / point.d,
            "rounds": rounds,
            "bound": bound,
        }

    def save(self, summary: dict | None = None) -> SweepResult:
        result = SweepResult(
            config=self.config,
            members=self.members,
            baseline=self.baseline,
            complete=summary is not None,
            D=self.D,
            steps=self.steps,
            fingerprints=self.fingerprints,
            folder=self.out,
            networks=self.networks,
            group_sizes=self.group_sizes,
            loops=self.loops,
            **(summary or {}),
        )
        run = {"checkpoint_every": self.run_.checkpoint_every, "budget_bytes": self.budget}
        save(self.out, result, self.timings, run)
        return result

    def run_baseline(self) -> float | None:
        schedule, metric = self.m.schedule, self.m.readout.metric
        if schedule.baseline is None:
            return None
        done = {r["seed"] for r in self.baseline}
        todo = [s for s in self.m.grid.seeds if s not in done]
        if todo:
            self.progress.message(f"baseline: full-parameter training, D = {self.D}, seeds {todo}")
            sweep = make_baseline(
                self.task,
                schedule.baseline.build(),
                estimator=schedule.baseline_estimator_or_default,
            )
            self.train("baseline", sweep, [{"seed": s} for s in todo])
        diverged = [r["seed"] for r in self.baseline if r[metric] is None]
        if diverged:
            raise SweepError(
                f"the full-parameter baseline diverged (seeds {diverged}: NaN/inf loss), so "
                "there is no threshold to measure d_int against; lower the baseline's "
                "learning rate and start again (overwrite)"
            )
        return float(np.mean([r[metric] for r in self.baseline]))

    def run_dims(self, projection: str, dims: Sequence[int]) -> tuple[list[int], list[float]]:
        """Trains the missing (d, seed) members of ``dims``; returns (ds, values) of all."""
        metric = self.m.readout.metric
        done = {(r["d"], r["seed"]) for r in self.members if r["projection"] == projection}
        todo = [(d, s) for d in dims for s in self.m.grid.seeds if (d, s) not in done]
        # A lottery grid's bases are kept (or recomputed) even when no member is left.
        bases = self._bases() if projection == LOTTERY else None
        if todo:
            width = max(dims)
            self.progress.message(
                f"{projection}: {len(todo)} members, d in {sorted({d for d, _ in todo})}, "
                f"z padded to {width}"
            )
            schedule = self.m.schedule
            kind, said = split_label(projection)
            sweep = make_sweep(
                self.task,
                schedule.optimizer.build(),
                projection=kind,
                width=width,
                estimator=schedule.estimator,
                said=said,
                bases=bases,
            )
            keys = [{"projection": projection, "d": d, "seed": s} for d, s in todo]
            self.train(projection, sweep, keys)
        rows = [r for r in self.members if r["projection"] == projection and r["d"] in dims]
        return [r["d"] for r in rows], [np.nan if r[metric] is None else r[metric] for r in rows]

    def _bases(self) -> dict:
        """Each seed's lottery basis U (D × the grid's largest d), kept or computed."""
        return lottery_bases(
            self.task,
            self.m.schedule,
            self.data,
            steps=self.steps,
            seeds=list(self.m.grid.seeds),
            width=max(self.m.grid.dims),
            D=self.D,
            folder=self.out if jax.process_index() == 0 else None,
            memory=self.networks,
            message=self.progress.message,
        )

    def train(self, kind: str, sweep: Any, keys: list[dict]) -> None:
        records = self.baseline if kind == "baseline" else self.members
        grouping = f"{kind}/{sweep.width}"  # the same members' grouping, whenever resumed

        def on_grouping(size: int, loop: str) -> None:
            self.group_sizes[grouping] = size
            self.loops[grouping] = loop
            self.save()  # recorded before the first group trains

        def on_group(new: list[dict], wall: float, outputs: dict) -> None:
            # The networks first: a record in results.json always has its network.
            if self.out is None:
                self.networks.update(networks_of(new, outputs))
            elif jax.process_index() == 0:
                write_networks(self.out, new, outputs)
            for r in new:
                self.timings[timing_key(r)] = round(wall, 3)
            records.extend(new)
            self.save()

        train_in_groups(
            kind,
            sweep,
            keys,
            steps=self.steps,
            data=self.data,
            schedule=self.m.schedule,
            readout=self.m.readout,
            identity={"config": self.config, "D": self.D, "steps": self.steps},
            out=self.out,
            checkpoint_every=self.run_.checkpoint_every,
            budget=self.budget,
            mesh=self.mesh,
            progress=self.progress,
            on_group=on_group,
            rule=self.run_.group_size,
            recorded=(
                (self.group_sizes[grouping], self.loops.get(grouping, "scan"))
                if grouping in self.group_sizes
                else None
            ),
            on_grouping=on_grouping,
        )
