"""Members trained in groups, each group checkpointed.

A set of members (a projection's values of d × seeds, or the baseline's seeds) is split
into equal groups (:mod:`subspace._grouping`: the largest that fits memory, or the fastest
on the hardware at hand); each group trains in one compiled program sharded over all
devices (:func:`subspace.train_group`), saving its in-flight state every
``checkpoint_every`` steps into a folder named after its members, so an interrupted group
continues where it stopped. A group's records (one per member) go to ``on_group`` as soon
as it is done, so the caller can write them before the next group starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from subspace import _interrupt
from subspace._grouping import choose
from subspace._results_folder import CHECKPOINTS
from subspace.checkpoint import GroupCheckpoint
from subspace.data import Data
from subspace.loop import train_group
from subspace.measurement import Readout
from subspace.progress import Progress

__all__ = ["NETWORK_OUTPUTS", "member_records", "train_in_groups"]

NETWORK_OUTPUTS = ("finite", "z", "params", "model_state", "estimator_state")  # not values


def train_in_groups(
    kind: str,
    sweep: Any,
    keys: list[dict],
    *,
    steps: int,
    data: Data | None,
    schedule: Any,
    readout: Readout,
    identity: Any,
    out: Path | None,
    checkpoint_every: int,
    budget: int,
    mesh: Any,
    progress: Progress,
    on_group: Callable[[list[dict], float, dict], None],
    rule: int | str = "auto",
    recorded: tuple[int, str] | None = None,
    on_grouping: Callable[[int, str], None] | None = None,
) -> None:
    """Trains the members ``keys`` (dicts with ``d`` and ``seed``; a baseline's have no
    ``d`` and train all D parameters) in groups; calls ``on_group(records, wall,
    outputs)`` after each group (``outputs``: :func:`subspace.train_group`'s, with the
    trained networks)."""
    ds = np.array([k.get("d", sweep.width) for k in keys])
    seeds = np.array([k["seed"] for k in keys])
    n = len(keys)
    grouping = choose(
        sweep,
        ds,
        seeds,
        steps=steps,
        data=data,
        batch_size=schedule.batch_size,
        budget=budget,
        mesh=mesh,
        rule=rule,
        recorded=recorded,
    )
    size = grouping.size
    progress.message(f"  {kind}: {grouping.why} -> {math.ceil(n / size)} group(s)")
    if on_grouping is not None:
        on_grouping(size, grouping.loop)
    progress.start(kind, n * steps)
    try:
        for g, start in enumerate(range(0, n, size)):
            sel = slice(start, start + size)
            t0 = time.perf_counter()
            checkpoint, kept = None, 0.0
            if out is not None:
                # Named after the group's members, so a resumed run finds only its own; the
                # identity inside refuses one copied in from another group or run.
                ident = {"config": identity, "kind": kind, "members": keys[sel]}
                digest = hashlib.sha256(
                    json.dumps([identity, keys[sel]], sort_keys=True).encode()
                ).hexdigest()[:16]
                checkpoint = GroupCheckpoint(out / CHECKPOINTS / f"{kind}-{digest}", identity=ident)
                done = checkpoint.latest_step()
                if done is not None:
                    kept = checkpoint.seconds_before()
                    progress.message(
                        f"  {kind} group {g + 1}/{math.ceil(n / size)}: continuing from its "
                        f"checkpoint at step {done:,} of {steps:,}"
                        + (f" ({kept:.1f} s of training kept)" if kept else "")
                    )
            outputs = train_group(
                sweep,
                (ds[sel], seeds[sel]),
                steps=steps,
                data=data,
                batch_size=schedule.batch_size,
                shuffle_seed=schedule.shuffle_seed,
                per_member_shuffle=schedule.per_member_shuffle,
                group_size=size,
                mesh=mesh,
                chunk=grouping.chunk,
                loop=grouping.loop,
                on_steps=progress.update,
                checkpoint=checkpoint,
                checkpoint_every=checkpoint_every,
            )
            # With the training time a resumed checkpoint kept from before the resume.
            wall = time.perf_counter() - t0 + kept
            records = member_records(keys[sel], sweep.width, steps, outputs, readout)
            on_group(records, wall, outputs)
            if checkpoint is not None and jax.process_index() == 0:
                checkpoint.clear()
                with contextlib.suppress(OSError):  # only if no other group's is left
                    checkpoint.directory.parent.rmdir()
            progress.message(
                f"  {kind} group {g + 1}/{math.ceil(n / size)}: {_summary(records, readout, wall)}"
            )
            if _interrupt.requested() and start + size < n:  # Ctrl-C during the evaluation
                raise _interrupt.Interrupted(f"stopped after {kind} group {g + 1}")
    finally:
        progress.close()


def member_records(
    keys: list[dict], width: int, steps: int, outputs: dict, readout: Readout
) -> list[dict]:
    """One record per member. A diverged member (a NaN/inf loss, or a non-finite metric)
    keeps no measured value: it can never count as reaching a threshold."""
    values = readout.values(outputs)
    records = []
    for i, key in enumerate(keys):
        ok = bool(outputs["finite"][i]) and bool(np.isfinite(values[i]))
        measured = {
            name: float(v[i]) if ok and np.isfinite(v[i]) else None
            for name, v in sorted(outputs.items())
            if name not in NETWORK_OUTPUTS
        }
        records.append(
            {
                **key,
                "width": 0 if "d" not in key else width,
                "steps": steps,
                "status": "ok" if ok else "diverged",
                **measured,
                readout.metric: float(values[i]) if ok else None,
            }
        )
    return records


def _summary(records: list[dict], readout: Readout, wall: float) -> str:
    values = [r[readout.metric] for r in records if r[readout.metric] is not None]
    best = (max if readout.higher_is_better else min)(values) if values else None
    diverged = sum(r["status"] == "diverged" for r in records)
    ds = [r["d"] for r in records if "d" in r]
    span = f", d {min(ds)}..{max(ds)}" if ds else ""
    return (
        f"{len(records)} members{span}, {wall:.1f} s, best {readout.metric} "
        f"{best if best is None else f'{best:.4g}'}, {diverged} diverged"
    )
