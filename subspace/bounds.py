"""Certified generalisation bounds from (seed, z): one more read-out of a measurement.

A member of a measurement is θ0 + P z, sent as (seed, z). Lotfi et al. (NeurIPS 2022)
bound its error by quantising z to a codebook of L levels, coding the quantised z as a
message of ℓ bits and using a PAC-Bayes bound whose prior gives short messages high
mass (:mod:`subspace.pac_bayes`). :func:`bound_members` does this for every kept member of
a :class:`subspace.SweepResult` at once:

1. each member's d coordinates of z start a codebook (k-means or evenly spaced levels);
2. with ``steps > 0``, z and the codebook are fine-tuned together on the training loss
   (:func:`subspace.estimators.quantised`, straight-through), every member of a
   (projection, width, L) in one vmapped program (:func:`subspace.train_group`);
3. z is put on its codebook; the quantised network's error on the whole training set (ê)
   and on the test set are evaluated, all members in one program;
4. the symbols are range-coded (:mod:`subspace.arithmetic_code`): ℓ = coded symbols +
   codebook + symbol counts, ℓ′ = ℓ + 2·log2 ℓ;
5. b = log2 of the number of (projection, d, seed, L) bounded: the bound reported for the
   best of them is then a bound for the choice too (a union over every network looked
   at). Choices made outside this call (learning rates, epochs of the measurement) are
   the caller's to add with ``extra_choice_bits``;
6. KL = (ℓ′ + b)·ln 2 and the bound (:func:`subspace.pac_bayes.error_bound`).

The error is ``1 - <accuracy metric>`` of the task's ``eval_fn`` (``error_metric``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subspace import arithmetic_code, pac_bayes
from subspace._bound_groups import bound_group
from subspace._checks import check_float, check_group_size, check_int
from subspace.data import Data, check_data
from subspace.progress import make_progress
from subspace.quantise import quantise_member
from subspace.task import init_shapes

__all__ = ["Quantisation", "bound_members", "quantise_member"]

CODEBOOKS = ("kmeans", "uniform")


@dataclasses.dataclass(frozen=True)
class Quantisation:
    """How z is quantised, fine-tuned and coded.

    Attributes:
      levels: every L searched (each L is a choice paid for in b); L >= 2.
      codebook: how levels start: ``"kmeans"`` of the member's z or ``"uniform"``.
      steps: quantisation-aware fine-tuning steps (0: quantise the trained z as it is).
      learning_rate: Adam's on z while fine-tuning.
      codebook_learning_rate: Adam's on the codebook while fine-tuning.
      batch_size: the fine-tuning minibatch.
      codebook_bits: 16 (float16) or 32 (float32) bits per level in the message; the
        levels are rounded to that precision before the network is evaluated.
      shuffle_seed: the fine-tuning minibatch order.
    """

    levels: tuple[int, ...] = (7,)
    codebook: str = "kmeans"
    steps: int = 0
    learning_rate: float = 1e-4
    codebook_learning_rate: float = 1e-4
    batch_size: int = 128
    codebook_bits: int = 16
    shuffle_seed: int = 0

    def __post_init__(self) -> None:
        where = "Quantisation"
        levels = self.levels
        if isinstance(levels, int) and not isinstance(levels, bool):
            levels = (levels,)
        if not isinstance(levels, (tuple, list)) or not levels:
            raise TypeError(f"{where}: levels must be a non-empty tuple of integers >= 2")
        levels = tuple(check_int(v, f"levels[{i}]", 2, where=where) for i, v in enumerate(levels))
        if len(set(levels)) != len(levels):
            raise ValueError(f"{where}: levels must not repeat; got {levels}")
        object.__setattr__(self, "levels", levels)
        if self.codebook not in CODEBOOKS:
            raise ValueError(f"{where}: codebook must be one of {CODEBOOKS}; got {self.codebook!r}")
        check_int(self.steps, "steps", 0, where=where)
        check_float(self.learning_rate, "learning_rate", where, positive=True)
        check_float(self.codebook_learning_rate, "codebook_learning_rate", where, positive=True)
        check_int(self.batch_size, "batch_size", 1, where=where)
        if self.codebook_bits not in arithmetic_code.CODEBOOK_BITS:
            raise ValueError(
                f"{where}: codebook_bits must be one of {arithmetic_code.CODEBOOK_BITS}; "
                f"got {self.codebook_bits!r}"
            )
        check_int(self.shuffle_seed, "shuffle_seed", 0, where=where)


def bound_members(
    result: Any,
    task: Any,
    data: Data,
    *,
    quantisation: Quantisation | None = None,
    projection: str | None = None,
    delta: float = 0.05,
    error_metric: str = "accuracy",
    extra_choice_bits: float = 0.0,
    eval_batch_size: int = 1000,
    out: str | os.PathLike | None = None,
    group_size: int | str = "auto",
    progress: Any = False,
) -> list[dict]:
    """Bounds every kept member of ``result`` (see the module docstring); one record each.

    Args:
      result: a :class:`subspace.SweepResult` whose members' networks are kept.
      task: the task it measured (rebuilds θ0 and P).
      data: the training and test data it was measured on; n = ``len(data.train_x)``.
      quantisation: a :class:`Quantisation` (default: L = 7, k-means, no fine-tuning).
      projection: which projection's members (default: all).
      delta: the bound holds with probability at least 1 − δ.
      error_metric: the accuracy metric of ``task.eval_fn``; error = 1 − it.
      extra_choice_bits: bits for choices made outside this call by looking at the data.
      out: a folder to write every quantised network to, as the message the bound counts:
        ``<projection>/d<d>-s<seed>-L<L>.npz``, a compressed file holding the codebook and
        the range-coded symbols (``save_compressed(..., codebook=...)``); the record gains
        ``file`` (relative to ``out``) and ``file_bytes``. ``load_compressed`` gives the
        quantised network back, bit for bit.
      group_size: members fine-tuned and evaluated together, as for ``measure``:
        ``"auto"`` (on a CPU the faster of one member per device and the largest group
        that fits, timed; on an accelerator the largest), ``"memory"``, or a number.
      progress: ``True`` prints a line as each group (projection, width, L) is bounded,
        with the records done out of all; ``False`` (default) is silent; or a
        :class:`subspace.Progress`.

    Returns:
      One dict per (projection, d, seed, L): ``train_error`` (ê, quantised, all n),
      ``test_error`` (quantised), ``levels``, ``message_bits`` (ℓ) and its parts
      ``symbol_bits``, ``codebook_bits``, ``count_bits``, ``prefix_free_bits`` (ℓ′),
      ``choice_bits`` (b), ``kl`` (nats), ``bound``, ``n``, ``delta``, ``seconds`` (the
      group's wall time per member), ``finite`` (False: fine-tuning diverged; no bound).
    """
    where = "bound_members"
    q = Quantisation() if quantisation is None else quantisation
    if not isinstance(q, Quantisation):
        raise TypeError(f"{where}: quantisation must be a subspace.bounds.Quantisation")
    check_data(data, q.batch_size, where)
    delta = float(delta)
    pac_bayes.error_bound(0.0, 0.0, 1, delta)  # checks delta before any work
    extra = check_float(extra_choice_bits, "extra_choice_bits", where, positive=False)
    check_group_size(group_size, where)
    report = make_progress(progress)
    members = [
        r
        for r in result.members
        if (projection is None or r["projection"] == projection) and r.get("status", "ok") == "ok"
    ]
    if not members:
        raise ValueError(f"{where}: the result has no trained member to bound")
    largest = max(r["d"] for r in members)
    if max(q.levels) > largest:
        raise ValueError(
            f"{where}: levels must be at most the largest d ({largest}); got {max(q.levels)}"
        )
    _check_metric(task, data, error_metric, where)
    pairs = sum(r["d"] >= levels for r in members for levels in q.levels)
    n = len(data.train_x)
    b = math.log2(pairs) + extra
    networks = {id(r): result.member(task, r["d"], r["seed"], r["projection"]) for r in members}
    groups: dict[tuple, list[dict]] = {}
    for r in members:
        groups.setdefault((r["projection"], r["width"]), []).append(r)
    records: list[dict] = []
    for (proj, width), group in sorted(groups.items()):
        for levels in q.levels:
            some = [r for r in group if r["d"] >= levels]  # L levels need d >= L coordinates
            if not some:
                continue
            start = time.perf_counter()
            found = bound_group(
                task,
                data,
                q,
                (proj, width, levels),
                some,
                networks,
                error_metric,
                eval_batch_size,
                group_size,
            )
            seconds = (time.perf_counter() - start) / len(some)
            for r, got in zip(some, found, strict=True):
                record = _record(r, levels, got, q, n, b, delta)
                if out is not None and got["finite"]:
                    record.update(_save(Path(out), record, networks[id(r)], got, q))
                records.append({**record, "seconds": seconds})
            report.message(
                f"bounds: {proj}, d <= {width}, L = {levels}: {len(some)} members in "
                f"{seconds * len(some):.0f} s ({len(records)} of {pairs} records done)"
            )
    return records


def _check_metric(task: Any, data: Data, error_metric: str, where: str) -> None:
    """``error_metric`` among the metrics of the task's ``eval_fn`` (shapes only)."""
    if task.eval_fn is None:
        raise ValueError(f"{where}: the task has no eval_fn to measure its error with")
    params, model_state = init_shapes(task, where)
    batch = (data.train_x[:2], data.train_y[:2])
    metrics = jax.eval_shape(task.eval_fn, params, model_state, batch, jax.random.key(0))
    if error_metric not in metrics:
        raise ValueError(
            f"{where}: error_metric must be one of the task's metrics {sorted(metrics)}; "
            f"got {error_metric!r}"
        )


def _save(out: Path, record: dict, member: Any, got: dict, q: Quantisation) -> dict:
    """Writes the quantised network as its message; ``{"file", "file_bytes"}``."""
    from subspace.compress import save_compressed

    name = Path(record["projection"]) / f"d{record['d']}-s{record['seed']}-L{record['levels']}.npz"
    book = got["codebook"].astype(np.float16 if q.codebook_bits == 16 else np.float32)
    state = got["model_state"]
    path = save_compressed(
        out / name,
        member.subspace,
        jnp.asarray(got["z"], member.subspace.dtype),
        key=member.projection_key,
        theta0_key=member.init_key,
        model_state=state if jax.tree_util.tree_leaves(state) else None,
        codebook=book,
        extra={"bound": {k: v for k, v in record.items() if k != "finite"}},
    )
    return {"file": str(name), "file_bytes": path.stat().st_size}


def _record(r, levels, got, q, n, b, delta) -> dict:
    record = {"projection": r["projection"], "d": r["d"], "seed": r["seed"], "levels": levels}
    record.update(n=n, delta=delta, choice_bits=b, finite=bool(got["finite"]))
    if not got["finite"]:  # fine-tuning diverged: no network, no bound
        return {**record, "train_error": None, "test_error": None, "bound": None}
    e_train, e_test = got["train_error"], got["test_error"]
    message = arithmetic_code.encode(got["symbols"], levels, codebook_bits=q.codebook_bits)
    ell = message.bits
    ell_prime = pac_bayes.prefix_free_bits(ell)
    kl_bits = ell_prime + b
    return {
        **record,
        "train_error": float(e_train),
        "test_error": None if np.isnan(e_test) else float(e_test),
        "symbol_bits": message.symbol_bits,
        "codebook_bits": message.codebook_bits,
        "count_bits": message.count_bits,
        "message_bits": ell,
        "prefix_free_bits": ell_prime,
        "kl": kl_bits * math.log(2.0),
        "bound": pac_bayes.error_bound(float(np.clip(e_train, 0.0, 1.0)), kl_bits, n, delta),
    }
