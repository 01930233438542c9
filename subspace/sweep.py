"""Many (d, seed) members trained at once: one compiled, vmapped step for all of them.

Every member's z is padded to a common width W = max d with a per-member mask: the loss
sees ``z * mask``, so masked coordinates get exactly zero gradient, and the update is
masked too, so they stay exactly zero whatever the optimiser does (momentum, weight decay).

Member (d, seed) is defined alone, so it can be rebuilt outside a sweep:

* ``init_key, proj_key, train_key = jax.random.split(jax.random.key(seed), 3)``;
* θ0 = ``task.init(init_key)`` (or one shared θ0, see ``theta0_seed``);
* P = the first d columns of the width-W projection drawn from ``proj_key``. For dense and
  sparse that is exactly ``wrap(θ0, d, key=proj_key)`` (their columns are drawn one by
  one from the key); fastfood's blocks have size L = 2^ceil(log2 W) in a sweep, so the
  same member alone is ``wrap(θ0, d, key=proj_key, block_size=L)``.
  :func:`member_subspace` builds exactly that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from subspace.projections import PROJECTIONS
from subspace.projections.base import _as_int
from subspace.train import LossFn, TrainState, make_trainer
from subspace.wrap import Subspace, wrap

__all__ = [
    "Member",
    "SweepState",
    "Task",
    "make_baseline",
    "make_sweep",
    "member_keys",
    "member_subspace",
    "padded_options",
]


class Member(NamedTuple):
    """One run of a sweep: subspace dimension ``d`` and the ``seed`` of its keys."""

    d: int
    seed: int


@dataclasses.dataclass(frozen=True)
class Task:
    """What a sweep trains: a model's initialiser and its loss, on full parameters.

    Attributes:
      init: ``init(key) -> (params, model_state)``; ``params`` is θ0 (a pytree of floats),
        ``model_state`` the collections the model updates itself (``()`` if none).
      loss_fn: ``loss_fn(params, model_state, batch, key) -> (loss, (model_state,
        metrics))``, the same function the full-parameter baseline trains.
      eval_fn: optional ``eval_fn(params, model_state, batch) -> metrics``.
    """

    init: Callable[[jax.Array], tuple[Any, Any]]
    loss_fn: LossFn
    eval_fn: Callable[[Any, Any, Any], dict] | None = None


class SweepState(NamedTuple):
    """The state of all members, each leaf with a leading member axis."""

    subspace: Subspace  # θ0 and P of every member
    mask: jax.Array  # (members, W) 1.0 on a member's first d coordinates, 0.0 after
    train: TrainState  # z of shape (members, W), optimiser and model state


class Sweep(NamedTuple):
    """Pure functions of a sweep; see :func:`make_sweep`."""

    init: Callable[[jax.Array, jax.Array], SweepState]
    update: Callable[[SweepState, Any], tuple[SweepState, dict]]
    update_each: Callable[[SweepState, Any], tuple[SweepState, dict]]
    evaluate: Callable[[SweepState, Any], dict]
    width: int


def member_keys(seed: int | jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(init_key, proj_key, train_key)`` of the member with this seed."""
    init_key, proj_key, train_key = jax.random.split(jax.random.key(seed), 3)
    return init_key, proj_key, train_key


def padded_options(projection: str, width: int) -> dict[str, int]:
    """Projection options that make a width-``width`` sweep's members reproducible alone."""
    if projection == "fastfood":
        return {"block_size": 1 << (width - 1).bit_length()}
    return {}


def member_subspace(
    task: Task,
    member: Member,
    *,
    projection: str,
    width: int,
    theta0_seed: int | None = None,
    **options: Any,
) -> tuple[Subspace, Any, jax.Array]:
    """Builds member (d, seed) of a width-``width`` sweep alone, exactly as the sweep does.

    Returns:
      ``(subspace, model_state, train_key)``: train ``z`` (shape (d,)) from
      ``subspace.zeros()`` with ``make_trainer(...).init(z, key=train_key, ...)`` to
      reproduce the member.
    """
    init_key, proj_key, train_key = member_keys(member.seed)
    if theta0_seed is not None:
        init_key = member_keys(theta0_seed)[0]
    params, model_state = task.init(init_key)
    opts = {**padded_options(projection, width), **options}
    return (
        wrap(params, member.d, projection=projection, key=proj_key, **opts),
        model_state,
        train_key,
    )


def make_sweep(
    task: Task,
    optimizer: optax.GradientTransformation,
    *,
    projection: str,
    width: int,
    theta0_seed: int | None = None,
    **options: Any,
) -> Sweep:
    """Builds the vmapped init/update of a sweep whose members have d <= ``width``.

    Args:
      task: the model and loss (:class:`Task`).
      optimizer: any optax ``GradientTransformation``, applied to each member's z.
      projection: "dense", "sparse" or "fastfood".
      width: W, the padded width of z (the largest d of the sweep).
      theta0_seed: if given, every member shares θ0 drawn from this seed; by default each
        member draws its own θ0 from its seed, as in the paper.
      **options: projection options (``density``, ``max_bytes``).

    Returns:
      A ``Sweep``: ``init(ds, seeds) -> SweepState`` for int arrays of shape (members,);
      ``update(state, batch) -> (state, metrics)``, every member on the same batch, metrics
      with a leading member axis; ``update_each(state, batches)``, each member its own
      batch (leading member axis); ``evaluate(state, batch) -> metrics`` (needs
      ``task.eval_fn``). None is jitted: compose with ``jax.jit``/``jax.lax.scan``.
    """
    if projection not in PROJECTIONS:
        raise ValueError(
            f"make_sweep: projection must be one of {sorted(PROJECTIONS)}; got {projection!r}"
        )
    width = _as_int("width", width)
    if width < 1:
        raise ValueError(f"make_sweep: width must be an integer >= 1; got {width}")
    opts = {**padded_options(projection, width), **options}

    def masked_loss(sub: Subspace, mask: jax.Array) -> LossFn:
        def loss_fn(z, model_state, batch, key):
            return task.loss_fn(sub.params(z * mask), model_state, batch, key)

        return loss_fn

    def init_one(d: jax.Array, seed: jax.Array) -> SweepState:
        init_key, proj_key, train_key = member_keys(seed)
        if theta0_seed is not None:
            init_key = member_keys(theta0_seed)[0]
        params, model_state = task.init(init_key)
        sub = wrap(params, width, projection=projection, key=proj_key, **opts)
        mask = (jnp.arange(width) < d).astype(sub.dtype)
        trainer = make_trainer(masked_loss(sub, mask), optimizer)
        return SweepState(
            sub, mask, trainer.init(sub.zeros(), key=train_key, model_state=model_state)
        )

    def update_one(state: SweepState, batch: Any) -> tuple[SweepState, dict]:
        trainer = make_trainer(masked_loss(state.subspace, state.mask), optimizer)
        train, metrics = trainer.update(state.train, batch)
        train = train._replace(z=train.z * state.mask)
        return state._replace(train=train), metrics

    def evaluate_one(state: SweepState, batch: Any) -> dict:
        if task.eval_fn is None:
            raise ValueError("Sweep.evaluate: the task has no eval_fn")
        params = state.subspace.params(state.train.z * state.mask)
        return task.eval_fn(params, state.train.model_state, batch)

    def init(ds: Sequence[int] | jax.Array, seeds: Sequence[int] | jax.Array) -> SweepState:
        return jax.vmap(init_one)(jnp.asarray(ds), jnp.asarray(seeds))

    return Sweep(
        init=init,
        update=jax.vmap(update_one, in_axes=(0, None)),
        update_each=jax.vmap(update_one),
        evaluate=jax.vmap(evaluate_one, in_axes=(0, None)),
        width=width,
    )


def make_baseline(task: Task, optimizer: optax.GradientTransformation) -> Sweep:
    """The full-parameter baseline of ``task``, one member per seed, as a :class:`Sweep`.

    Trains all D parameters with the same trainer, optimiser and loss as the subspace
    members (θ0 from the seed's ``init_key``), so baseline and subspace are comparable.
    ``init(seeds)`` takes the seeds only; ``width`` is 0.
    """

    def init_one(seed: jax.Array) -> TrainState:
        init_key, _, train_key = member_keys(seed)
        params, model_state = task.init(init_key)
        trainer = make_trainer(task.loss_fn, optimizer)
        return trainer.init(params, key=train_key, model_state=model_state)

    def update_one(state: TrainState, batch: Any) -> tuple[TrainState, dict]:
        return make_trainer(task.loss_fn, optimizer).update(state, batch)

    def evaluate_one(state: TrainState, batch: Any) -> dict:
        if task.eval_fn is None:
            raise ValueError("Sweep.evaluate: the task has no eval_fn")
        return task.eval_fn(state.z, state.model_state, batch)

    return Sweep(
        init=lambda seeds: jax.vmap(init_one)(jnp.asarray(seeds)),
        update=jax.vmap(update_one, in_axes=(0, None)),
        update_each=jax.vmap(update_one),
        evaluate=jax.vmap(evaluate_one, in_axes=(0, None)),
        width=0,
    )
