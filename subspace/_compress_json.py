"""The JSON of a compressed file's header, read strictly, and the words of its refusals.

:func:`parse_json` keeps NaN, ±Infinity and numbers too large for a float aside as
:class:`NonFinite` (as their text) and refuses what Python's recursion limit cannot parse;
:func:`walk` then refuses nesting deeper than :data:`MAX_HEADER_DEPTH` and non-finite
numbers in every field the loader reads, without recursion. :func:`refuse` and
:func:`describe` word every header refusal as a :class:`~subspace._npz.FileError`. Private:
used by :mod:`subspace._compress_header`, which holds the file format.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

from subspace._npz import FileError

__all__: list[str] = []

MAX_HEADER_DEPTH = 64  # JSON nesting of the header object
FREE_FIELDS = ("model", "extra")  # the caller's JSON: never interpreted by the loader


def json_copy(name: str, value: Any, where: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: {name} must be JSON-serialisable; {e}") from None


class NonFinite:
    """NaN, ±Infinity or a number too large for a float, kept as its JSON text."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def parse_float(text: str) -> float | NonFinite:
    value = float(text)
    return value if math.isfinite(value) else NonFinite(text)


def parse_json(raw: bytes, ctx: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=NonFinite, parse_float=parse_float)
    except RecursionError:
        raise FileError(
            f"{ctx}: header is nested too deeply (past Python's recursion limit; at most "
            f"{MAX_HEADER_DEPTH} levels are read)"
        ) from None
    except (UnicodeDecodeError, ValueError) as e:
        raise FileError(f"{ctx}: header is not UTF-8 JSON ({e})") from None


def walk(header: dict, ctx: str) -> None:
    """Refuses nesting deeper than MAX_HEADER_DEPTH, and NaN/±Infinity in any field the
    loader uses; in the others (model, extra, dense's ignored max_bytes) they become floats.
    Iterative, so its memory is the depth, not the size."""
    stack = [(header, iter(list(header.items())), 1, "", "")]
    while stack:
        container, items, depth, prefix, top = stack[-1]
        entry = next(items, None)
        if entry is None:
            stack.pop()
            continue
        key, value = entry
        field = f"{prefix}[{key}]" if isinstance(container, list) else f"{prefix}.{key}"
        field = field.removeprefix(".")
        if isinstance(value, (dict, list)):
            if depth + 1 > MAX_HEADER_DEPTH:
                refuse(ctx, top or field, f"is nested deeper than {MAX_HEADER_DEPTH} levels")
            children = value.items() if isinstance(value, dict) else enumerate(value)
            stack.append((value, iter(children), depth + 1, field, top or field))
        elif isinstance(value, NonFinite) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            if (top or field) not in FREE_FIELDS and field != "options.max_bytes":
                refuse(ctx, field, f"is {value!r}: non-finite numbers are refused here")
            container[key] = float(repr(value))


def refuse(ctx: str, field: str, text: str) -> NoReturn:
    raise FileError(f"{ctx}: header field {field!r} {text}")


def describe(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    text = text if len(text) <= 100 else text[:100] + "..."
    if type(value) in (int, float):
        return text
    return f"{type(value).__name__} {text}"


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
