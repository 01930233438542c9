"""θ0 in a compressed file: where it comes from at load time, and its bits on disk.

The header's ``theta0`` field says where θ0 comes from when the file is loaded: the caller
(``theta0=``), ``init`` called with the stored key or seed, or the file itself (saved with
``store_theta0``). A stored θ0 is flat, shape (D,); a dtype numpy has no native code for
(bfloat16) is stored as its bits and viewed back. It is read only once ``params_like``'s
leaves match the header's. Private: the public functions are in :mod:`subspace.compress`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subspace import _keys
from subspace._checks import as_int
from subspace._model_state import as_dtype, check_leaves, leaf_table
from subspace._npz import npy_data
from subspace.projections.base import check_key

__all__: list[str] = []

SEED_RANGE = (-(1 << 63), 1 << 64)  # what jax.random.key accepts (int64 or uint64)
# Dtypes numpy writes and reads natively; others (bfloat16) go to disk as their bits.
NATIVE = ("float16", "float32", "float64")


def theta0_field(dtype: np.dtype, store: bool, key: Any, seed: Any, where: str) -> dict:
    """The header's ``theta0``: where θ0 comes from at load time, its key or seed, dtype."""
    if key is not None:
        check_key(key, f"{where} (theta0_key)")
    if seed is not None:
        seed = as_int(seed, "theta0_seed", where=where)
        check_seed(seed, where)
    if store:
        source = "stored"
    elif key is not None or seed is not None:
        source = "init"
    else:
        source = "caller"
    json_key = None if key is None else _keys.key_to_json(key)
    return {"source": source, "key": json_key, "seed": seed, "dtype": dtype.name}


def check_seed(seed: int, where: str) -> None:
    lo, hi = SEED_RANGE
    if not lo <= seed < hi:
        raise ValueError(f"{where}: theta0_seed must be an integer in [-2^63, 2^64); got {seed}")


def disk_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if dtype.name in NATIVE else np.dtype(f"uint{8 * dtype.itemsize}")


def to_disk(theta0: np.ndarray) -> np.ndarray:
    return theta0.view(disk_dtype(theta0.dtype))


def theta0_params(
    zf: zipfile.ZipFile,
    header: dict,
    members: dict,
    theta0: Any,
    init: Callable[[Any], Any] | None,
    params_like: Any,
    path: Path,
    where: str,
) -> Any:
    """θ0 as a pytree: the caller's, ``init``'s, or the file's (after its leaves match)."""
    t0 = header["theta0"]
    source = t0["source"]
    if params_like is not None and (theta0 is not None or init is not None or source != "stored"):
        raise TypeError(
            f"{where}: params_like is only used for a file that stores θ0, without theta0/init"
        )
    if theta0 is not None:
        return theta0
    if init is not None:
        if t0["key"] is not None:
            return init(_keys.key_from_json(t0["key"])[1])
        if t0["seed"] is not None:
            return init(t0["seed"])
        raise ValueError(
            f"{where}: the file records no θ0 key or seed to call init with "
            f"(theta0.source = {source!r}); pass theta0= the initial parameters"
        )
    if source == "stored":
        if params_like is None:
            raise ValueError(
                f"{where}: the file stores θ0; pass params_like= the parameter pytree (or "
                "its jax.eval_shape) to give it its structure"
            )
        check_leaves(header, leaf_table(params_like), where)  # before reading D numbers
        flat = npy_data(zf, members["theta0"], path, where)
        return unflatten(flat.view(as_dtype(t0["dtype"])), header, params_like)
    raise ValueError(
        f"{where}: θ0 is needed: pass theta0= the initial parameters or init= the "
        f"initialiser (the file's theta0.source is {source!r}, its model is "
        f"{header['model']!r})"
    )


def unflatten(flat: np.ndarray, header: dict, like: Any) -> Any:
    chunks, offset = [], 0
    for _, shape, dtype in header["leaves"]:
        size = int(np.prod(shape, dtype=np.int64))
        chunk = flat[offset : offset + size].reshape(shape).astype(np.dtype(jnp.dtype(dtype)))
        chunks.append(jnp.asarray(chunk))
        offset += size
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like), chunks)
