"""P in a compressed file: its options, its state's size, and files of version 0.1.

P is redrawn at load time from the stored kind, options and key. The options go to the
file exactly (ints as ints, floats as floats), are checked when read (:data:`OPTION_CHECKS`:
every option of every projection, each bounded) and come back as ``wrap``'s keywords; P's
state is sized from the header alone (``jax.eval_shape``: nothing is drawn) and refused
above the loader's ``max_state_bytes``; a dense file's own ``max_bytes`` is never trusted.
Fastfood files written by version 0.1.x are redrawn with that version's options and hashed
in its layout. Private: the public functions are in :mod:`subspace.compress`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from subspace._compress_json import describe, is_int, is_number, refuse
from subspace._npz import FileError
from subspace.hadamard import METHODS
from subspace.projections import PROJECTIONS, STORED
from subspace.projections.dense import DEFAULT_MAX_BYTES as DENSE_DEFAULT_MAX_BYTES
from subspace.projections.fastfood import LEGACY_01_OPTIONS, legacy_01_layout

__all__: list[str] = []


# ----------------------------------------------------------------------------- options


def json_option(name: str, value: Any, where: str) -> Any:
    # Options go back to wrap as keywords: keep them exactly (ints as ints, floats as
    # floats, which JSON round-trips bit for bit via repr).
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    raise TypeError(
        f"{where}: projection option {name}={value!r} cannot be stored "
        "(expected an int, float, str, bool or None)"
    )


def check_options(kind: str, options: Any, D: int, d: int, ctx: str) -> None:  # noqa: N803
    """Refuses options the projection does not take, and values out of their bounds."""
    if not isinstance(options, dict):
        refuse(ctx, "options", f"must be an object; got {describe(options)}")
    checks = OPTION_CHECKS[kind]
    unknown = sorted(set(options) - set(checks))
    if unknown:
        allowed = sorted(checks)
        refuse(
            ctx, "options", f"has unknown options {unknown} for {kind}; its options are {allowed}"
        )
    for name, value in options.items():
        checks[name](value, f"options.{name}", D, d, ctx)


def check_block_size(value: Any, field: str, D: int, d: int, ctx: str) -> None:  # noqa: N803
    hi = 1 << (D - 1).bit_length()  # one block for all D rows: a larger one only pads zeros
    if value is not None and (not is_int(value) or not d <= value <= hi or value & (value - 1)):
        allowed = f"[d = {d:,}, {hi:,}] ({hi:,} = 2^ceil(log2 D), one block for all D = {D:,} rows)"
        refuse(ctx, field, f"must be null or a power of two in {allowed}; got {describe(value)}")


def check_width(value: Any, field: str, D: int, d: int, ctx: str) -> None:  # noqa: N803
    if value is not None and (not is_int(value) or not d <= value <= D):
        refuse(
            ctx,
            field,
            f"must be null or an integer in [d = {d:,}, D = {D:,}]; got {describe(value)}",
        )


def check_stored_width(value: Any, field: str, D: int, d: int, ctx: str) -> None:  # noqa: N803
    # A file stores the d columns a lottery subspace uses: its width is d.
    if value != d:
        refuse(
            ctx, field, f"must be d = {d:,} (the columns the file stores); got {describe(value)}"
        )


def check_fwht_method(value: Any, field: str, D: int, d: int, ctx: str) -> None:  # noqa: N803
    if not isinstance(value, str) or value not in METHODS:
        refuse(ctx, field, f"must be one of {list(METHODS)}; got {describe(value)}")


def check_bool(value: Any, field: str, D: int, d: int, ctx: str) -> None:  # noqa: N803
    if not isinstance(value, bool):
        refuse(ctx, field, f"must be true or false; got {describe(value)}")


def check_density(value: Any, field: str, D: int, d: int, ctx: str) -> None:  # noqa: N803
    if value is not None and (not is_number(value) or not 0 < value <= 1):
        refuse(ctx, field, f"must be null or a finite number in (0, 1]; got {describe(value)}")


def check_max_bytes(value: Any, field: str, D: int, d: int, ctx: str) -> None:  # noqa: N803
    if value is not None and not is_number(value):
        why = "it is not used: load_compressed's max_state_bytes applies"
        refuse(ctx, field, f"must be null or a number ({why}); got {describe(value)}")


# Every keyword option of every projection, with the check of its value in a file.
OPTION_CHECKS: dict[str, dict[str, Callable[..., None]]] = {
    "dense": {"max_bytes": check_max_bytes},
    "sparse": {"density": check_density},
    "fastfood": {
        "block_size": check_block_size,
        "fwht_method": check_fwht_method,
        "shared_input": check_bool,
    },
    "kronqr": {"width": check_width},
    "lottery": {"width": check_stored_width},
}


# ----------------------------------------------------------------------------- P's size


def check_max_state_bytes(value: Any, where: str) -> None:
    message = f"{where}: max_state_bytes must be a number of bytes > 0; got {value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(message)
    if not value > 0:
        raise ValueError(message)


def wrap_options(header: dict, key: jax.Array, limit: float, path: Path, where: str) -> dict:
    """The options to draw P with, once P's state is sized and within ``limit``."""
    kind, D, d = header["projection"], header["D"], header["d"]  # noqa: N806
    options = dict(header["options"])
    file_max_bytes = options.pop("max_bytes", None)  # dense: never trust a limit from the file
    if is_legacy_fastfood(header):
        options = {**LEGACY_01_OPTIONS, **options}
    nbytes = state_bytes(header, options, key)
    if nbytes > limit:
        note = ""
        if "max_bytes" in header["options"]:
            note = f"; the file's options.max_bytes ({file_max_bytes!r}) is not trusted"
        raise FileError(
            f"{where}: {path}: P's {kind} state would take {nbytes:,} bytes (D = {D:,}, "
            f"d = {d:,}) > max_state_bytes = {limit:,}{note}; pass "
            "load_compressed(..., max_state_bytes=...) to allow it"
        )
    if kind == "dense" and ("max_bytes" in header["options"] or nbytes > DENSE_DEFAULT_MAX_BYTES):
        options["max_bytes"] = limit
    return options


def state_bytes(header: dict, options: dict, key: jax.Array) -> int:
    """Bytes of P's state, from its shapes alone: the factory and eval_shape draw nothing."""
    kind, dtype = header["projection"], np.dtype(header["z_dtype"])
    if kind in STORED:  # the file's own U: D x d numbers of the z dtype
        return header["D"] * header["d"] * dtype.itemsize
    if kind == "dense":
        options = {**options, "max_bytes": math.inf}  # sized here against the loader's limit
    proj = PROJECTIONS[kind](header["D"], header["d"], dtype=dtype, **options)
    shapes = jax.tree_util.tree_leaves(jax.eval_shape(proj.init, key))
    return sum(math.prod(s.shape) * np.dtype(s.dtype).itemsize for s in shapes)


# ----------------------------------------------------------------------------- version 0.1


def is_legacy_fastfood(header: dict) -> bool:
    # Files from version 0.1.x: fastfood always used the butterfly transform and stored B
    # in the float dtype and the permutations as int32 (same values as now).
    return header["projection"] == "fastfood" and header["library_version"].startswith("0.1.")


def saved_state(header: dict, state: Any) -> Any:
    """P's state as the file's sha256 hashed it: in version 0.1's layout for its files."""
    return legacy_01_layout(state) if is_legacy_fastfood(header) else state
