"""θ0 from given parameters: a pretrained network as the origin of every member's subspace.

Intrinsic dimension is mostly measured away from a random initialisation now: SAID
(Aghajanyan et al., 2021) measures how few coordinates fine-tune a pretrained network.
:func:`with_theta0` makes a task whose θ0 is the given parameters for every member (P and
the training randomness still come from each member's seed); :func:`load_theta0` reads
them from a compressed file or an orbax checkpoint first. The parameters are checked
against the task's own initialiser (structure, shapes and dtypes) before any work.

A measurement records them through its task fingerprint (:mod:`subspace.fingerprints`:
the hash of θ0's bytes and the model state), so a resumed measurement refuses another θ0.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subspace._checks import check_int
from subspace.task import Task, check_task, init_shapes

__all__ = ["burn_in", "load_theta0", "with_theta0"]


def with_theta0(task: Task, params: Any, model_state: Any = None) -> Task:
    """``task`` whose initialiser returns ``params`` (and ``model_state``) for every key.

    Args:
      task: the model and objective; its ``init`` gives the structure θ0 must have.
      params: θ0, a pytree with the structure, shapes and dtypes of ``task.init``'s
        parameters (a pretrained network's).
      model_state: its model state (BatchNorm statistics); None: the task's initial state
        for each key (``()`` for a model without state).

    Returns:
      A :class:`subspace.Task` with the same loss and evaluation.

    Example:
      >>> pretrained = subspace.theta0.with_theta0(task, trained_params)
      >>> subspace.measure(pretrained, dims=(10, 100), seeds=3, ...)
    """
    check_task(task, "with_theta0")
    want_params, want_state = init_shapes(task, "with_theta0")
    params = _checked(params, want_params, "params")
    if model_state is not None:
        model_state = _checked(model_state, want_state, "model_state")

    def init(key: jax.Array) -> tuple[Any, Any]:
        # The barrier keeps XLA from constant-folding θ0 into every use (a broadcast over a
        # sweep's members would otherwise be folded at compile time, slowly).
        theta0 = jax.lax.optimization_barrier(params)
        if model_state is None:
            return theta0, task.init(key)[1]
        return theta0, jax.lax.optimization_barrier(model_state)

    return Task(init=init, loss_fn=task.loss_fn, eval_fn=task.eval_fn)


def burn_in(
    task: Task,
    optimizer: Any,
    *,
    steps: int,
    data: Any,
    batch_size: int,
    seeds: Any,
    shuffle_seed: int = 0,
) -> Task:
    """``task`` whose θ0 for seed s is its own initialisation after ``steps`` steps of
    full-parameter training (Larsen et al., 2022's burn-in subspaces).

    The seeds' burn-in runs train together, once, through the same trainer as the
    full-parameter baseline (:func:`subspace.make_baseline` and
    :func:`subspace.train_group`, on ``data`` in the minibatch order of ``shuffle_seed``);
    the returned task's ``init`` then gives each seed's trained parameters and model
    state for that seed's θ0 key (a measurement's member (d, s) starts from seed s's
    burn-in; P and training randomness still come from s). ``steps = 0`` is the task's
    own initialisation. A key of a seed not in ``seeds`` gets a NaN θ0, so such a member
    diverges (and is reported so) instead of silently borrowing another seed's.

    The measurement's task fingerprint hashes the first seed's θ0 after burn-in, so a
    resume with another ``steps`` (or optimiser, or data) is refused.

    Args:
      task: the model and objective.
      optimizer: an optax transformation for the full parameters (e.g. the baseline's).
      steps: burn-in steps k >= 0.
      data: the training data (:class:`subspace.Data`).
      batch_size: minibatch size of the burn-in.
      seeds: the members' seeds (a measurement's ``grid.seeds``).
      shuffle_seed: the minibatch order's seed.
    """
    from subspace.loop import train_group
    from subspace.sweep import make_baseline, member_keys

    where = "burn_in"
    check_task(task, where)
    steps = check_int(steps, "steps", 0, where=where)
    seeds = [check_int(s, "seeds", 0, where=where) for s in np.atleast_1d(np.asarray(seeds))]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"{where}: seeds must be distinct integers >= 0; got {seeds}")
    if steps == 0:
        return task
    sweep = make_baseline(task, optimizer)
    ds = np.full(len(seeds), sweep.width)
    out = train_group(
        sweep,
        (ds, np.array(seeds)),
        steps=steps,
        data=data,
        batch_size=batch_size,
        shuffle_seed=shuffle_seed,
    )
    if not out["finite"].all():
        bad = [s for s, ok in zip(seeds, out["finite"], strict=True) if not ok]
        raise ValueError(f"{where}: the burn-in of seeds {bad} diverged")
    params = jax.tree_util.tree_map(jnp.asarray, out["params"])
    states = jax.tree_util.tree_map(jnp.asarray, out["model_state"])
    table = jnp.stack([jax.random.key_data(member_keys(s)[0]) for s in seeds])

    def init(key: jax.Array) -> tuple[Any, Any]:
        hit = jnp.all(jax.random.key_data(key) == table, axis=-1)
        i = jnp.argmax(hit)
        known = jnp.any(hit)
        theta0 = jax.tree_util.tree_map(lambda a: jnp.where(known, a[i], jnp.nan), params)
        return theta0, jax.tree_util.tree_map(lambda a: a[i], states)

    return Task(init=init, loss_fn=task.loss_fn, eval_fn=task.eval_fn)


def load_theta0(task: Task, path: str | os.PathLike, **load_options: Any) -> Task:
    """:func:`with_theta0` with the parameters of a file: a compressed network
    (``.npz``, :func:`subspace.load_compressed`, θ0 rebuilt with ``task.init`` and its
    model state read when saved; a file that records only a seed gets
    ``task.init(jax.random.key(seed))``) or an orbax checkpoint folder of ``{"params": ...,
    "model_state": ...}`` or of the parameters alone (restored into the task's shapes:
    nothing in the file sets a shape). ``load_options`` go to ``load_compressed``."""
    from subspace.compress import compressed_header, load_compressed

    check_task(task, "load_theta0")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_theta0: {path}: no such file or folder")
    params_like, state_like = init_shapes(task, "load_theta0")
    if path.is_dir():
        if load_options:
            raise TypeError(
                f"load_theta0: {path} is an orbax folder; options {sorted(load_options)} "
                "are for a compressed file"
            )
        params, model_state = _orbax_restore(path, params_like, state_like)
        return with_theta0(task, params, model_state)
    stored = compressed_header(path)["theta0"]["source"] == "stored"

    def init(key: Any) -> Any:  # the file's θ0 key, or its seed as jax.random.key(seed)
        return task.init(jax.random.key(key) if isinstance(key, int) else key)[0]

    model = load_compressed(
        path,
        **({"params_like": params_like} if stored else {"init": init}),
        model_state_like=state_like if jax.tree_util.tree_leaves(state_like) else None,
        **load_options,
    )
    return with_theta0(task, model.params, model.model_state)


def _orbax_restore(path: Path, params_like: Any, state_like: Any) -> tuple[Any, Any]:
    import orbax.checkpoint as ocp

    def abstract(tree):
        return jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype), tree)

    checkpointer = ocp.StandardCheckpointer()
    metadata = checkpointer.metadata(path.absolute())
    tree = getattr(getattr(metadata, "item_metadata", metadata), "tree", None)
    top = set(tree) if isinstance(tree, dict) else set()
    try:
        if top == {"params", "model_state"} or top == {"params"}:
            target = {"params": abstract(params_like)}
            if "model_state" in top:
                target["model_state"] = abstract(state_like)
            restored = checkpointer.restore(path.absolute(), target)
            return restored["params"], restored.get("model_state")
        return checkpointer.restore(path.absolute(), abstract(params_like)), None
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"load_theta0: {path}: the checkpoint does not hold this model's parameters ({e})"
        ) from None


def _checked(tree: Any, like: Any, name: str) -> Any:
    """``tree`` as arrays, if its structure, shapes and dtypes are ``like``'s."""
    got, want = jax.tree_util.tree_structure(tree), jax.tree_util.tree_structure(like)
    if got != want:
        raise ValueError(
            f"with_theta0: {name} must have the structure of the task's init; got {got}, "
            f"the model's is {want}"
        )
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    for (path, leaf), spec in zip(flat, jax.tree_util.tree_leaves(like), strict=True):
        shape, dtype = np.shape(leaf), jnp.result_type(leaf)
        if shape != spec.shape or dtype != spec.dtype:
            raise ValueError(
                f"with_theta0: {name}{jax.tree_util.keystr(path)} is {dtype}{list(shape)}; "
                f"the model's is {spec.dtype}{list(spec.shape)}"
            )
        if jnp.issubdtype(dtype, jnp.floating) and not np.isfinite(np.asarray(leaf)).all():
            raise ValueError(f"with_theta0: {name}{jax.tree_util.keystr(path)} is not finite")
    return jax.tree_util.tree_map(jnp.asarray, tree)
