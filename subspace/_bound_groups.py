"""The members of one (projection, width, L) bounded together (private: subspace.bounds).

The members are split into groups as :func:`subspace.measure` splits them
(:func:`subspace._grouping.choose`: on a CPU the faster of one member per device and the
largest group that fits memory, and the faster loop form, timed; on an accelerator the
largest, in a compiled scan). Each group is
started from its members' trained z, model state and initial codebooks (a warm start of
:func:`subspace.train_group`), fine-tuned with :func:`subspace.estimators.quantised`
when asked, put on its codebooks, and evaluated on the training and test sets in one
program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from subspace._grouping import choose
from subspace.estimators import quantised
from subspace.loop import evaluate_split, init_group, train_group
from subspace.memory import default_budget
from subspace.quantise import kmeans_codebook, quantise_member, uniform_codebook
from subspace.sharding import member_mesh
from subspace.sweep import d_mask, make_sweep

__all__: list[str] = []


def bound_group(task, data, q, where, group, networks, error_metric, eval_batch_size, group_size):
    """Fine-tunes (if asked), quantises and evaluates one group's members."""
    projection, width, levels = where
    model_states = _model_states(group, networks)
    ds = np.array([r["d"] for r in group])
    seeds = np.array([r["seed"] for r in group])
    zs = np.zeros((len(group), width), np.float32)
    for i, r in enumerate(group):
        zs[i, : r["d"]] = np.asarray(networks[id(r)].z)
    masks = np.asarray(jax.vmap(lambda d: d_mask(d, width))(ds))
    init = kmeans_codebook if q.codebook == "kmeans" else uniform_codebook
    books = np.asarray(jax.vmap(lambda z, m: init(z, levels, m))(zs, masks))
    estimator = quantised(levels, learning_rate=q.codebook_learning_rate)
    sweep = make_sweep(
        task, optax.adam(q.learning_rate), projection=projection, width=width, estimator=estimator
    )
    mesh = member_mesh()
    grouping = choose(
        sweep,
        ds,
        seeds,
        steps=max(q.steps, 1),
        data=data,
        batch_size=q.batch_size,
        budget=default_budget(mesh.devices.flat[0]),
        mesh=mesh,
        rule=group_size,
        recorded=None,
    )
    size = grouping.size
    found = []
    for lo in range(0, len(group), size):
        part = slice(lo, lo + size)
        states = None if model_states is None else _rows(model_states, part)
        found += _bound_part(
            sweep,
            estimator,
            data,
            q,
            group[part],
            (ds[part], seeds[part]),
            zs[part],
            books[part],
            states,
            grouping,
            mesh,
            error_metric,
            eval_batch_size,
        )
    return found


def _rows(tree, part):
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[part], tree)


def _bound_part(
    sweep,
    estimator,
    data,
    q,
    group,
    members,
    zs,
    books,
    model_states,
    grouping,
    mesh,
    error_metric,
    eval_batch_size,
):
    """One group of at most ``grouping.size`` members: fine-tuned (in its loop form),
    quantised and evaluated."""
    ds, seeds = members
    finite = np.ones(len(group), bool)
    if q.steps > 0:
        out = train_group(
            sweep,
            (ds, seeds),
            group_size=grouping.size,
            mesh=mesh,
            chunk=grouping.chunk,
            loop=grouping.loop,
            steps=q.steps,
            data=data,
            batch_size=q.batch_size,
            shuffle_seed=q.shuffle_seed,
            start=_warm(zs, books, model_states, estimator),
            eval_batch_size=eval_batch_size,
        )
        zs, books = out["z"], out["estimator_state"].codebook
        finite = out["finite"].copy()
        model_states = None if model_states is None else out["model_state"]
    quantised_z = np.zeros_like(zs)
    found = []
    for i, r in enumerate(group):
        ok = finite[i] and np.all(np.isfinite(zs[i, : r["d"]])) and np.all(np.isfinite(books[i]))
        finite[i] = ok
        got = {"finite": bool(ok)}
        if ok:
            got["symbols"], got["codebook"], got["z"] = quantise_member(
                zs[i, : r["d"]], books[i], q.codebook_bits
            )
            quantised_z[i, : r["d"]] = got["z"]
            got["model_state"] = jax.tree_util.tree_map(
                lambda a, i=i: np.asarray(a)[i], () if model_states is None else model_states
            )
        found.append(got)
    state = init_group(sweep, (ds, seeds), group_size=grouping.size, mesh=mesh)
    state = _warm(quantised_z, books, model_states, estimator)(state)
    errors = []
    for x, y in ((data.train_x, data.train_y), (data.test_x, data.test_y)):
        if x is None:
            errors.append(np.full(len(group), np.nan))
            continue
        metrics = evaluate_split(sweep, state, x, y, mesh, eval_batch_size)
        errors.append(1.0 - metrics[error_metric][: len(group)])
    for i, got in enumerate(found):
        got.update(train_error=errors[0][i], test_error=errors[1][i])
    return found


def _padded(a: np.ndarray, size: int) -> np.ndarray:
    """``a``'s member axis padded to ``size`` by repeating its last member (as
    ``init_group`` pads the members)."""
    return a[np.minimum(np.arange(size), len(a) - 1)]


def _warm(zs, books, model_states, estimator):
    """The start of fine-tuning: the trained z, model state and codebook of every member."""

    def start(state):
        size = len(state.mask)
        codebooks = jnp.asarray(_padded(books, size))
        train = state.train._replace(
            z=jnp.asarray(_padded(zs, size)),
            estimator_state=jax.vmap(estimator.start)(codebooks),
        )
        if model_states is not None:
            ms = jax.tree_util.tree_map(lambda a: jnp.asarray(_padded(a, size)), model_states)
            train = train._replace(model_state=ms)
        return state._replace(train=train)

    return start


def _model_states(group, networks):
    leaves = jax.tree_util.tree_leaves(networks[id(group[0])].model_state)
    if not leaves:
        return None
    states = [networks[id(r)].model_state for r in group]
    return jax.tree_util.tree_map(lambda *a: np.stack([np.asarray(x) for x in a]), *states)
