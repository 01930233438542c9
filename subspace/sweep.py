"""Many (d, seed) members trained at once: one compiled, vmapped step for all of them.

One :func:`make_sweep` and one :func:`make_baseline` serve every way of training z: the
gradient source is the ``estimator`` argument (:mod:`subspace.estimators`:
backpropagation by default, or evolution strategies), the rest is the same program.

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
* step s draws its randomness from ``fold_in(train_key, s)``; the estimator's own state
  starts from ``split(train_key)[0]``; the task is evaluated (before and after training,
  and on every batch of a split) with ``split(train_key)[1]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from subspace._checks import as_int, check_bool, check_int
from subspace._lottery_bases import no_bases, stacked_bases
from subspace.estimators import Backprop, check_estimator
from subspace.projections import PROJECTIONS, STORED
from subspace.projections.fastfood import block_size_for
from subspace.projections.lottery import LotteryState
from subspace.task import LossFn, Task, check_task, init_shapes, initialised
from subspace.train import TrainState, make_trainer
from subspace.wrap import Subspace, check_options, wrap

__all__ = [
    "MAX_SEED",
    "Member",
    "Sweep",
    "SweepState",
    "check_members",
    "d_mask",
    "make_baseline",
    "make_sweep",
    "member_keys",
    "member_subspace",
    "padded_options",
]


MAX_SEED = 2**32 - 1  # jax.random.key(seed) keeps 32 bits of a seed: larger ones collide


class Member(NamedTuple):
    """One run of a sweep: subspace dimension ``d`` and the ``seed`` of its keys."""

    d: int
    seed: int


class SweepState(NamedTuple):
    """The state of all members, each leaf with a leading member axis.

    A baseline's members train all D parameters: their ``subspace`` and ``mask`` are None
    and ``train.z`` holds the full parameter pytree.
    """

    subspace: Subspace | None  # θ0 and P of every member (None: baseline)
    mask: jax.Array | None  # (members, W) 1.0 on a member's first d coordinates, 0.0 after
    train: TrainState  # z of shape (members, W), optimiser and model state


class Sweep(NamedTuple):
    """Pure functions of a sweep; see :func:`make_sweep` and :func:`make_baseline`.

    The one contract of both: ``init(ds, seeds) -> SweepState`` for integer arrays of
    shape (members,), each d in [1, width] (a baseline's members all have d = width = D);
    ``update(state, batch)``, ``update_each(state, batches)`` and ``evaluate(state,
    batch)`` as in :func:`make_sweep`; ``trained(state)`` is every member's trained z,
    shape (members, width), zero past its d, or None for a baseline (whose θ is the full
    parameter pytree in ``state.train.z``).
    """

    init: Callable[[jax.Array, jax.Array], SweepState]
    update: Callable[[SweepState, Any], tuple[SweepState, dict]]
    update_each: Callable[[SweepState, Any], tuple[SweepState, dict]]
    evaluate: Callable[[SweepState, Any], dict]
    width: int
    trained: Callable[[SweepState], jax.Array | None]


def member_keys(seed: int | jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(init_key, proj_key, train_key)`` of the member with this seed."""
    if not isinstance(seed, (jax.Array, np.ndarray)):  # arrays: traced member seeds
        check_int(
            as_int(seed, "seed"), "seed", 0, maximum=MAX_SEED, what="an integer in [0, 2^32 - 1]"
        )
    elif not jnp.issubdtype(seed.dtype, jnp.integer):
        raise TypeError(f"seed must be an integer (array); got dtype {seed.dtype}")
    init_key, proj_key, train_key = jax.random.split(jax.random.key(seed), 3)
    return init_key, proj_key, train_key


SAID_PREFIX = "said-"


def projection_labels() -> list[str]:
    """Every projection a measurement's grid names: each kind drawn from a key,
    ``said-<kind>`` for its SAID variant (per-tensor scales, :func:`subspace.wrap`'s
    ``said``), and the stored ones (:data:`subspace.projections.STORED`: ``lottery``,
    whose P a measurement takes from each seed's baseline trajectory)."""
    drawn = [k for k in PROJECTIONS if k not in STORED]
    return sorted([*drawn, *(SAID_PREFIX + k for k in drawn), *STORED])


def split_label(label: str) -> tuple[str, bool]:
    """(kind, said) of a grid's projection label: ``"said-fastfood"`` -> (fastfood, True)."""
    if label.startswith(SAID_PREFIX):
        return label[len(SAID_PREFIX) :], True
    return label, False


def padded_options(projection: str, width: int) -> dict[str, int]:
    """Projection options that make a width-``width`` sweep's members reproducible alone."""
    check_options(projection, {}, "padded_options")
    return _padded_options(projection, _check_width(width, "padded_options"))


def _padded_options(projection: str, width: int) -> dict[str, int]:
    if projection == "fastfood":
        return {"block_size": block_size_for(width)}
    return {"width": width} if projection == "kronqr" else {}


def d_mask(d: int | jax.Array, width: int, dtype: Any = jnp.float32) -> jax.Array:
    """1.0 on the first ``d`` of ``width`` coordinates, 0.0 after: the mask that makes a
    width-W z a member of dimension d. ``d`` may be traced, so one vmapped program trains
    several d: ``jax.vmap(lambda z, d: loss(sub.params(z * d_mask(d, W))))(zs, ds)``
    (``sub`` of width W; the gradient past d is then exactly 0, and an update masked the
    same way keeps those coordinates at 0 whatever the optimiser does)."""
    width = _check_width(width, "d_mask")
    return (jnp.arange(width) < d).astype(dtype)


def eval_key(train_key: jax.Array) -> jax.Array:
    """The key a member's task is evaluated with: ``split(train_key)[1]``."""
    return jax.random.split(train_key)[1]


def member_subspace(
    task: Task,
    member: Member,
    *,
    projection: str,
    width: int,
    theta0_seed: int | None = None,
    said: bool = False,
    bases: Mapping[int, Any] | None = None,
    **options: Any,
) -> tuple[Subspace, Any, jax.Array]:
    """Builds member (d, seed) of a width-``width`` sweep alone, exactly as the sweep does.

    ``bases`` ({seed: U}, U of shape (D, >= width)) gives a stored projection's P
    (``"lottery"``), as :func:`make_sweep` takes it.

    Returns:
      ``(subspace, model_state, train_key)``: train ``z`` (shape (d,)) from
      ``subspace.zeros()`` with ``make_trainer(...).init(z, key=train_key, ...)`` to
      reproduce the member.
    """
    where = "member_subspace"
    check_task(task, where)
    check_options(projection, options, where)
    width = _check_width(width, where)
    if not isinstance(member, Member):
        raise TypeError(f"{where}: member must be a Member(d, seed); got {member!r}")
    d = as_int(member.d, "member.d")
    if not 1 <= d <= width:
        raise ValueError(f"{where}: member.d must be an integer in [1, width={width}]; got {d}")
    init_key, proj_key, train_key = member_keys(member.seed)
    if theta0_seed is not None:
        init_key = member_keys(theta0_seed)[0]
    params, model_state = initialised(task.init(init_key), where)
    opts = {**_padded_options(projection, width), **options}
    if projection in STORED:
        known, stack = stacked_bases(bases, width, where)
        if member.seed not in known:
            raise ValueError(f"{where}: no basis for seed {member.seed}; bases has {known}")
        state = LotteryState(stack[known.index(member.seed)])
        sub = wrap(params, member.d, projection=projection, state=state, width=width)
    else:
        no_bases(bases, projection, where)
        sub = wrap(params, member.d, projection=projection, key=proj_key, said=said, **opts)
    return sub, model_state, train_key


def make_sweep(
    task: Task,
    optimizer: optax.GradientTransformation,
    *,
    projection: str,
    width: int,
    estimator: Any = None,
    theta0_seed: int | None = None,
    said: bool = False,
    bases: Mapping[int, Any] | None = None,
    **options: Any,
) -> Sweep:
    """Builds the vmapped init/update of a sweep whose members have d <= ``width``.

    Args:
      task: the model and its objective (:class:`subspace.Task`).
      optimizer: any optax ``GradientTransformation``, applied to each member's z.
      projection: "dense", "sparse", "fastfood" or "kronqr".
      width: W, the padded width of z (the largest d of the sweep).
      estimator: where z's gradient comes from (:mod:`subspace.estimators`): backprop
        (default) or ES, whose perturbations are masked past each member's d.
      theta0_seed: if given, every member shares θ0 drawn from this seed; by default each
        member draws its own θ0 from its seed, as in the paper.
      said: SAID's per-tensor scales (:func:`subspace.wrap`): the first m coordinates of
        every member's z are its scales, so each member's d must exceed m.
      bases: for a stored projection (``"lottery"``) only: {seed: U}, U of shape
        (D, >= width) float32 (:func:`subspace.lottery.principal_directions`); a member
        of seed s and dimension d uses the first d columns of U[s]. Every member's seed
        must be a key.
      **options: projection options (``density``, ``max_bytes``).

    Returns:
      A ``Sweep``: ``init(ds, seeds) -> SweepState`` for int arrays of shape (members,);
      ``update(state, batch) -> (state, metrics)``, every member on the same batch, metrics
      with a leading member axis; ``update_each(state, batches)``, each member its own
      batch (leading member axis); ``evaluate(state, batch) -> metrics`` (needs
      ``task.eval_fn``). None is jitted: compose with ``jax.jit``/``jax.lax.scan``, or run
      it with :func:`subspace.train_group`.

    Example:
      >>> sweep = make_sweep(task, optax.adam(0.1), projection="dense", width=8,
      ...                    estimator=subspace.estimators.es(32, 0.1))
      >>> out = subspace.train_group(sweep, (np.array([3, 8]), np.array([0, 0])), steps=50)
    """
    where = "make_sweep"
    check_task(task, where)
    _check_optimizer(optimizer, where)
    estimator = _estimator(estimator, where)
    check_options(projection, options, where)
    check_bool(said, "said", where=where)
    width = _check_width(width, where)
    if theta0_seed is not None:
        as_int(theta0_seed, "theta0_seed")
    opts = {**_padded_options(projection, width), **options}
    if projection in STORED:
        if said:
            raise ValueError(f"{where}: said=True is for a drawn projection, not {projection!r}")
        known, stack = stacked_bases(bases, width, where)
    else:
        no_bases(bases, projection, where)

    def subspace_of(params: Any, seed: jax.Array, proj_key: jax.Array) -> Subspace:
        if projection not in STORED:
            return wrap(params, width, projection=projection, key=proj_key, said=said, **opts)
        # The barrier keeps XLA from folding the bases into the program as constants.
        U = jax.lax.optimization_barrier(stack)[jnp.argmax(jnp.asarray(known) == seed)]  # noqa: N806
        return wrap(params, width, projection=projection, state=LotteryState(U), width=width)

    def masked_loss(sub: Subspace, mask: jax.Array) -> LossFn:
        def loss_fn(z, model_state, batch, key):
            return task.loss_fn(sub.params(z * mask), model_state, batch, key)

        return loss_fn

    def trainer(sub: Subspace, mask: jax.Array):
        return make_trainer(
            masked_loss(sub, mask), optimizer, estimator=estimator, mask=mask, D=sub.D
        )

    def init_one(d: jax.Array, seed: jax.Array) -> SweepState:
        init_key, proj_key, train_key = member_keys(seed)
        if theta0_seed is not None:
            init_key = member_keys(theta0_seed)[0]
        params, model_state = initialised(task.init(init_key), where)
        sub = subspace_of(params, seed, proj_key)
        mask = d_mask(d, width, sub.dtype)
        train = trainer(sub, mask).init(sub.zeros(), key=train_key, model_state=model_state)
        return SweepState(sub, mask, train)

    def update_one(state: SweepState, batch: Any) -> tuple[SweepState, dict]:
        train, metrics = trainer(state.subspace, state.mask).update(state.train, batch)
        train = train._replace(z=train.z * state.mask)
        return state._replace(train=train), metrics

    def evaluate_one(state: SweepState, batch: Any) -> dict:
        params = state.subspace.params(state.train.z * state.mask)
        return _evaluate(task, params, state.train, batch)

    sweep = vmapped_sweep(init_one, update_one, evaluate_one, width=width, trained=masked_z)
    if projection not in STORED:
        return sweep

    def init(ds: Any, seeds: Any) -> SweepState:
        if not _traced(seeds):
            missing = sorted(set(np.asarray(seeds).tolist()) - set(known))
            if missing:
                raise ValueError(f"Sweep.init: no basis for seeds {missing}; bases has {known}")
        return sweep.init(ds, seeds)

    return sweep._replace(init=init)


def make_baseline(
    task: Task, optimizer: optax.GradientTransformation, *, estimator: Any = None
) -> Sweep:
    """The full-parameter baseline of ``task``, one member per seed, as a :class:`Sweep`.

    Trains all D parameters with the same trainer, optimiser, estimator and loss as the
    subspace members (θ0 from the seed's ``init_key``), so baseline and subspace are
    comparable. Same contract as :func:`make_sweep`: ``init(ds, seeds)``, where every
    member's d is ``width`` = D (all parameters are trained); ``state.train.z`` is the
    parameter pytree and ``trained(state)`` is None.
    """
    where = "make_baseline"
    check_task(task, where)
    _check_optimizer(optimizer, where)
    estimator = _estimator(estimator, where)
    params, _ = init_shapes(task, where)
    D = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))  # noqa: N806
    trainer = make_trainer(task.loss_fn, optimizer, estimator=estimator, D=D)

    def init_one(d: jax.Array, seed: jax.Array) -> SweepState:
        del d  # every member trains all D parameters
        init_key, _, train_key = member_keys(seed)
        params, model_state = initialised(task.init(init_key), where)
        return SweepState(None, None, trainer.init(params, key=train_key, model_state=model_state))

    def update_one(state: SweepState, batch: Any) -> tuple[SweepState, dict]:
        train, metrics = trainer.update(state.train, batch)
        return state._replace(train=train), metrics

    def evaluate_one(state: SweepState, batch: Any) -> dict:
        return _evaluate(task, state.train.z, state.train, batch)

    return vmapped_sweep(init_one, update_one, evaluate_one, width=D, trained=no_z)


def _evaluate(task: Task, params: Any, train: TrainState, batch: Any) -> dict:
    if task.eval_fn is None:
        raise ValueError("Sweep.evaluate: the task has no eval_fn")
    return task.eval_fn(params, train.model_state, batch, eval_key(train.key))


def masked_z(state: SweepState) -> jax.Array:
    """Every member's trained z, zero past its d (``Sweep.trained`` of a subspace sweep)."""
    return state.train.z * state.mask


def no_z(state: SweepState) -> None:
    """``Sweep.trained`` of a baseline: its members have no z."""
    del state


def vmapped_sweep(
    init_one: Callable[[jax.Array, jax.Array], SweepState],
    update_one: Callable[[SweepState, Any], tuple[SweepState, dict]],
    evaluate_one: Callable[[SweepState, Any], dict],
    *,
    width: int,
    trained: Callable[[SweepState], jax.Array | None],
) -> Sweep:
    """The :class:`Sweep` of one member's functions: ``init_one(d, seed)``,
    ``update_one(state, batch)`` and ``evaluate_one(state, batch)`` vmapped over members
    (a shared batch, or one batch per member for ``update_each``)."""

    def init(ds: Sequence[int] | jax.Array, seeds: Sequence[int] | jax.Array) -> SweepState:
        if not any(_traced(a) for a in (ds, seeds)):  # traced ones: checked by the caller
            check_members(ds, seeds, width, "Sweep.init")
        return jax.vmap(init_one)(jnp.asarray(ds), jnp.asarray(seeds))

    return Sweep(
        init=init,
        update=jax.vmap(update_one, in_axes=(0, None)),
        update_each=jax.vmap(update_one),
        evaluate=jax.vmap(evaluate_one, in_axes=(0, None)),
        width=width,
        trained=trained,
    )


# --- argument checks (host-side, before any tracing) ---


def _check_width(width: Any, where: str) -> int:
    width = as_int(width, "width")
    if width < 1:
        raise ValueError(f"{where}: width must be an integer >= 1; got {width}")
    return width


def _check_optimizer(optimizer: Any, where: str) -> None:
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"{where}: optimizer must be an optax.GradientTransformation (e.g. "
            f"optax.adam(1e-3)); got {type(optimizer).__name__}"
        )


def _estimator(estimator: Any, where: str) -> Any:
    return Backprop() if estimator is None else check_estimator(estimator, where)


def _traced(a: Any) -> bool:
    return isinstance(a, jax.core.Tracer) or (
        isinstance(a, jax.Array) and not a.is_fully_addressable
    )


def check_members(ds: Any, seeds: Any, width: int, where: str) -> int:
    """The one check of a group's members: ``ds`` and ``seeds`` 1-D integer arrays of the
    same non-zero length, every d in [1, width]. Returns the member count."""
    ds, seeds = np.asarray(ds), np.asarray(seeds)
    if ds.ndim != 1 or ds.shape != seeds.shape or ds.size == 0:
        raise ValueError(
            f"{where}: ds and seeds must be 1-D of the same non-zero length (one entry per "
            f"member); got shapes {ds.shape} and {seeds.shape}"
        )
    for name, a in (("ds", ds), ("seeds", seeds)):
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{where}: {name} must be integers; got dtype {a.dtype}")
    if seeds.min() < 0 or seeds.max() > MAX_SEED:
        raise ValueError(
            f"{where}: every seed must be an integer in [0, 2^32 - 1] (a PRNG key keeps 32 "
            f"bits); got {seeds.tolist()}"
        )
    if ds.min() < 1 or ds.max() > width:
        raise ValueError(
            f"{where}: every d must be an integer in [1, width={width}]; got {ds.tolist()}"
        )
    return int(ds.size)
