"""The model state in a compressed file, and the leaf tables of the model it belongs to.

The model state is the collections a model keeps outside θ (BatchNorm statistics, NNX RNG
counts), stored bitwise as one uint8 array: each leaf's bytes, little-endian, in the order
of the header's leaf table, one after the other (no padding); bfloat16 and the other dtypes
as their bits. Leaf tables ([name, shape, dtype] per leaf, the names
``jax.tree_util.keystr`` of each leaf's path), θ's and the model state's, are checked
against the caller's model and template, name by name, before any of their data is read.
:func:`sha256` is the hash the header stores of θ0, P's state, θ and the model state.
Private: the public functions are in :mod:`subspace.compress`.
"""

from __future__ import annotations

import hashlib
import math
import zipfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subspace._checks import is_key_dtype, is_typed_key
from subspace._npz import npy_data

__all__: list[str] = []

# Dtypes of model-state leaves: statistics, counters (NNX's RNG counts are uint32), flags.
STATE_DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
)
STATE_MISMATCH = (
    "the stored model state is not the one that was saved (the file was altered); "
    "checked whatever verify is: these bytes are read, not recomputed"
)


def sha256(tree: Any) -> str:
    """The hash the header's ``sha256`` holds: each leaf's dtype, shape and bytes in turn."""
    h = hashlib.sha256()
    for x in jax.tree_util.tree_leaves(tree):
        x = np.ascontiguousarray(np.asarray(x))
        h.update(f"{x.dtype.name}{x.shape};".encode())
        h.update(x.tobytes())
    return h.hexdigest()


def as_dtype(name: str) -> np.dtype:
    return np.dtype(jnp.dtype(name))


# ----------------------------------------------------------------------------- leaf tables


def leaf_table(tree: Any, where: str | None = None) -> list[tuple[str, tuple[int, ...], str]]:
    # Like flatten.ravel's table, but also for jax.ShapeDtypeStruct leaves (params_like).
    # With ``where`` (a model_state_like template), every leaf must have a shape and dtype.
    table = []
    for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = jax.tree_util.keystr(path)
        if where is not None and not (hasattr(x, "shape") and hasattr(x, "dtype")):
            raise TypeError(
                f"{where}: model_state_like: leaf {name} must be an array or "
                f"jax.ShapeDtypeStruct; got {type(x).__name__} {x!r:.100}"
            )
        shape = tuple(int(s) for s in (x.shape if hasattr(x, "shape") else np.shape(x)))
        dtype = x.dtype if hasattr(x, "dtype") else jnp.result_type(x)
        if not is_key_dtype(dtype):
            dtype = np.dtype(dtype)
        table.append((name, shape, dtype.name))
    return table


def check_leaves(header: dict, table: list, where: str) -> None:
    D = sum(int(np.prod(shape, dtype=np.int64)) for _, shape, _ in table)  # noqa: N806
    if D != header["D"]:
        raise ValueError(
            f"{where}: D (number of parameters) does not match: file has {header['D']}, "
            f"model has {D}"
        )
    check_table(header["leaves"], table, "", where)


def check_table(leaves: list, table: list, what: str, where: str) -> None:
    """The file's leaf table against the caller's, name by name, shape, dtype."""
    if len(leaves) != len(table):
        raise ValueError(
            f"{where}: {what}{': ' if what else ''}number of leaves does not match: file has "
            f"{len(leaves)}, model has {len(table)}"
        )
    for (fname, fshape, fdtype), (name, shape, dtype) in zip(leaves, table, strict=True):
        for field, a, b in (
            ("name", fname, name),
            ("shape", tuple(fshape), shape),
            ("dtype", fdtype, dtype),
        ):
            if a != b:
                raise ValueError(
                    f"{where}: {what}{' ' if what else ''}leaf {field} does not match at "
                    f"{fname:.200}: file has {a!s:.200}, model has {b}"
                )


# ----------------------------------------------------------------------------- model state


def state_to_save(tree: Any, where: str) -> tuple[list, list[np.ndarray]]:
    """The leaf table ([name, shape, dtype]) and numpy leaves of a model state to save."""
    table, leaves = [], []
    for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = jax.tree_util.keystr(path)
        if not (hasattr(x, "shape") and hasattr(x, "dtype")):
            raise TypeError(
                f"{where}: model_state: leaf {name} must be an array (numpy or JAX); got "
                f"{type(x).__name__} {x!r:.100}"
            )
        if is_typed_key(x):
            raise TypeError(
                f"{where}: model_state: leaf {name} has dtype {x.dtype}, a PRNG key; store "
                "jax.random.key_data(key) (uint32) instead, or leave the RNG state out"
            )
        dtype = np.dtype(x.dtype)
        if dtype.name not in STATE_DTYPES:
            raise TypeError(
                f"{where}: model_state: leaf {name} has dtype {dtype.name}; model state "
                f"leaves must be one of {list(STATE_DTYPES)}"
            )
        x = np.asarray(x)
        if not x.dtype.isnative:  # hashed as it is read back: in this machine's byte order
            x = x.astype(x.dtype.newbyteorder("="))
        table.append([name, list(x.shape), dtype.name])
        leaves.append(x)
    return table, leaves


def check_state_template(header: dict, table: list | None, where: str) -> None:
    """Refuses a file with model state and no template, a template and no model state, or
    a template whose leaves are not the file's; before any of it is read."""
    stored = header["model_state"]
    if stored is None:
        if table is not None:
            raise ValueError(
                f"{where}: model_state_like was given but the file stores no model state "
                "(saved without save_compressed(..., model_state=...))"
            )
        return
    if table is None:
        leaves = stored["leaves"]
        names = ", ".join(f"{name:.100}" for name, _, _ in leaves[:3])
        names += ", ..." if len(leaves) > 3 else ""
        count = f"{len(leaves)} leaf" if len(leaves) == 1 else f"{len(leaves)} leaves"
        raise ValueError(
            f"{where}: the file stores model state ({count}: {names}); pass "
            "model_state_like= its structure (a pytree of arrays or jax.ShapeDtypeStruct, "
            "e.g. {'batch_stats': variables['batch_stats']}) to load it"
        )
    check_table(stored["leaves"], table, "model_state", where)


def read_state(
    zf: zipfile.ZipFile, header: dict, members: dict, like: Any, path: Path, where: str
) -> Any:
    """The model state in the structure of ``like``, whose leaves matched the header's (so
    its member has exactly their bytes), refused unless its sha256 is the saved one."""
    raw = npy_data(zf, members["model_state"], path, where)
    leaves = state_from_bytes(raw, header["model_state"]["leaves"])
    want, got = header["sha256"]["model_state"], sha256(leaves)
    if got != want:
        raise ValueError(
            f"{where}: sha256 of model_state does not match: file has {want[:16]}..., "
            f"read has {got[:16]}...: {STATE_MISMATCH}"
        )
    treedef = jax.tree_util.tree_structure(like)
    return jax.tree_util.tree_unflatten(treedef, [to_jax(x) for x in leaves])


def to_jax(x: np.ndarray) -> Any:
    # A JAX array, unless JAX would change its dtype (64 bits with jax_enable_x64 off).
    return jnp.asarray(x) if jax.dtypes.canonicalize_dtype(x.dtype) == x.dtype else x


def state_nbytes(table: list) -> int:
    """Bytes of the leaves of a (checked) model-state leaf table."""
    return sum(math.prod(shape) * as_dtype(dtype).itemsize for _, shape, dtype in table)


def state_to_bytes(leaves: list[np.ndarray]) -> np.ndarray:
    """The model-state array of ``leaves`` (numpy arrays of :data:`STATE_DTYPES`)."""
    parts = [np.ascontiguousarray(x).view(np.uint8).reshape(-1) for x in map(little, leaves)]
    return np.concatenate([np.zeros(0, np.uint8), *parts])


def state_from_bytes(raw: np.ndarray, table: list) -> list[np.ndarray]:
    """The leaves of a model-state array read back, one copy each; ``raw`` has exactly
    :func:`state_nbytes` bytes (checked by
    :func:`subspace._compress_header.check_members`)."""
    leaves, offset = [], 0
    for _, shape, name in table:
        dtype = as_dtype(name)
        disk = disk_state_dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        bits = raw[offset : offset + nbytes].view(disk.newbyteorder("<"))
        leaves.append(bits.astype(disk).view(dtype).reshape(shape))
        offset += nbytes
    return leaves


def disk_state_dtype(dtype: np.dtype) -> np.dtype:
    """A numpy-native dtype of the same bits: bfloat16 as uint16."""
    return dtype if dtype.name != "bfloat16" else np.dtype(np.uint16)


def little(x: np.ndarray) -> np.ndarray:
    """``x``'s bits as a little-endian numpy-native array (the disk's byte order)."""
    x = np.asarray(x)
    x = x.view(disk_state_dtype(x.dtype))
    return x.astype(x.dtype.newbyteorder("<"), copy=False)
