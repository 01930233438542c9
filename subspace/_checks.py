"""Argument checks shared by the modules (private).

Each check takes the argument's ``name`` and ``where`` (the caller's name, put in front of
the message as ``"where: "``; empty for none), so the messages read as each module's own.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import jax
import numpy as np

__all__: list[str] = []


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def as_int(value: Any, name: str, *, where: str = "") -> int:
    """``value`` as an int: anything with ``__index__`` (numpy integers too), never a bool."""
    if isinstance(value, bool):
        raise TypeError(f"{_prefix(where)}{name} must be an integer; got bool {value}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{_prefix(where)}{name} must be an integer; got {type(value).__name__} {value!r}"
        ) from None


def check_int(
    value: Any,
    name: str,
    minimum: int,
    *,
    where: str = "",
    what: str | None = None,
    types: type | tuple[type, ...] = numbers.Integral,
    type_error: type[Exception] = TypeError,
    range_repr: bool = False,
    maximum: int | None = None,
) -> int:
    """``value`` as an int ``>= minimum`` (and ``<= maximum``); a bool, or not an instance
    of ``types``, is refused.

    The message is ``"{where}: {name} must be {what}; got {value!r}"`` (``what`` defaults
    to ``"an integer >= {minimum}"``, or ``"an integer in [minimum, maximum]"``), raised as
    ``type_error`` for a wrong type and as ValueError out of range, where the value is shown
    with ``str`` unless ``range_repr``.
    """
    if what is None:
        what = (
            f"an integer >= {minimum}"
            if maximum is None
            else f"an integer in [{minimum}, {maximum}]"
        )
    if isinstance(value, bool) or not isinstance(value, types):
        raise type_error(f"{_prefix(where)}{name} must be {what}; got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        shown = repr(value) if range_repr else str(value)
        raise ValueError(f"{_prefix(where)}{name} must be {what}; got {shown}")
    return int(value)


def check_bool(
    value: Any, name: str, *, where: str = "", what: str = "True or False", numpy: bool = False
) -> bool:
    """Raises TypeError unless ``value`` is a bool (or a numpy bool, with ``numpy``)."""
    if not isinstance(value, (bool, np.bool_) if numpy else bool):
        raise TypeError(f"{_prefix(where)}{name} must be {what}; got {value!r}")
    return value


def check_float(value: Any, name: str, where: str = "", *, positive: bool) -> float:
    """``value`` as a finite float, ``> 0`` with ``positive``, else ``>= 0``; a bool is refused."""
    what = "a finite number > 0" if positive else "a finite number >= 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_prefix(where)}{name} must be {what}; got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{_prefix(where)}{name} must be {what}; got {value!r}")
    return value


def check_real(
    value: Any, name: str, where: str = "", *, low: float, high: float, closed: bool = True
) -> float:
    """``value`` as a finite float in [low, high] (``closed``) or (low, high); a bool is
    refused; ``high`` may be ``math.inf``."""
    left, right = ("[", "]") if closed else ("(", ")")
    what = f"a finite number in {left}{low:g}, {high:g}{right}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_prefix(where)}{name} must be {what}; got {value!r}")
    value = float(value)
    inside = low <= value <= high if closed else low < value < high
    if not (math.isfinite(value) and inside):
        raise ValueError(f"{_prefix(where)}{name} must be {what}; got {value!r}")
    return value


def check_group_size(value: Any, where: str) -> None:
    """A group size: ``"auto"``, ``"memory"`` or an integer >= 1."""
    if isinstance(value, str) and value in ("auto", "memory"):
        return
    what = "'auto', 'memory' or an integer >= 1"
    check_int(value, "group_size", 1, where=where, what=what, range_repr=True)


def is_key_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` is a typed PRNG key dtype (``jax.random.key``)."""
    return jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def is_typed_key(x: Any) -> bool:
    """Whether ``x`` is an array of typed PRNG keys (a raw uint32 key is not)."""
    return hasattr(x, "dtype") and is_key_dtype(x.dtype)
