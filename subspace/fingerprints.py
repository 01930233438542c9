"""Fingerprints of what a measurement's config cannot show: the task and the data.

A resumed measurement must train the same model on the same data as the members already in
its folder. The config records the grid, the schedule (optimisers included) and the
read-out; the task and the data are Python objects, so the results record a hash of each:

* the task: the structure of θ0 and of the model state (names, shapes, dtypes) and the
  values of θ0 for the first seed of the grid (so another model, another initialiser or
  another init scale differ); a changed loss function with the same model is not seen;
* the data: every array's shape, dtype and bytes (the training and the test split).

:func:`subspace.measure` records them in ``results.json`` (``fingerprints``) and compares
them when it resumes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import jax
import numpy as np

from subspace._checks import is_typed_key
from subspace.data import Data
from subspace.sweep import member_keys
from subspace.task import Task, check_task, initialised

__all__ = ["data_fingerprint", "task_fingerprint"]


def _update(h: Any, tree: Any) -> None:
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if is_typed_key(leaf):  # an NNX model's RNG state
            leaf = jax.random.key_data(leaf)
        x = np.ascontiguousarray(np.asarray(leaf))
        h.update(f"{jax.tree_util.keystr(path)}:{x.dtype.name}{x.shape};".encode())
        h.update(x.tobytes())


def task_fingerprint(task: Task, seed: int) -> str:
    """The hash of θ0 and the model state of member ``seed`` (their structure and values)."""
    check_task(task, "task_fingerprint")
    init_key = member_keys(seed)[0]
    params, model_state = initialised(jax.jit(task.init)(init_key), "measure")
    h = hashlib.blake2b(digest_size=16)
    _update(h, {"params": params, "model_state": model_state})
    return h.hexdigest()


def data_fingerprint(data: Data | None) -> str | None:
    """The hash of the data's arrays (None for a problem without data)."""
    if data is None:
        return None
    if not isinstance(data, Data):
        raise TypeError(
            f"data_fingerprint: data must be a subspace.Data or None; got {data!r:.100}"
        )
    h = hashlib.blake2b(digest_size=16)
    _update(h, {k: v for k, v in data._asdict().items() if v is not None})
    return h.hexdigest()
