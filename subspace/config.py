"""Configs as data: frozen dataclasses to and from JSON, and overridden by a dotted path.

A measurement (:class:`subspace.Measurement`) and an experiment of the checkout are trees
of frozen dataclasses that check themselves when built. These three functions are all
that is needed to print one, store it whole in a results file, rebuild it from there, and
change one field from the command line (``schedule.epochs=10``) with the same checks:

* :func:`to_json` — a dataclass tree as plain JSON (tuples as lists; a value with its own
  ``to_json``, such as :class:`subspace.Optimizer` or an estimator, writes itself);
* :func:`from_json` — the tree back, refusing unknown fields; a class names how its nested
  fields are read in ``JSON_FIELDS`` (field name -> function of the JSON value);
* :func:`override` — a copy with the fields at dotted paths replaced, rebuilt from JSON
  with every check run again.

What this adds to ``dataclasses``: the nested round trip and the dotted path with errors
that name the path and the fields there are (no config library is needed for it).
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["from_json", "override", "parse_value", "to_json"]


def to_json(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses as dicts of their fields, recursively."""
    if hasattr(value, "to_json") and not isinstance(value, type):
        return value.to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (numbers.Integral, np.integer)):
        return int(value)
    if isinstance(value, (numbers.Real, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"to_json: a {type(value).__name__} is not JSON data; got {value!r:.100}")


def from_json(cls: type, doc: Any, where: str | None = None) -> Any:
    """An instance of dataclass ``cls`` from :func:`to_json`'s output.

    Fields listed in ``cls.JSON_FIELDS`` are read by their function (a nested dataclass's
    ``from_json``); the others are passed as they are, and ``cls`` checks them.
    """
    where = where or cls.__name__
    if not isinstance(doc, Mapping):
        raise ValueError(f"{where} must be a JSON object; got {doc!r:.200}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(doc) - set(names))
    if unknown:
        raise ValueError(f"{where} has no field {unknown[0]!r}; its fields are {names}")
    readers: dict[str, Callable] = getattr(cls, "JSON_FIELDS", {})
    kwargs = {}
    for name, value in doc.items():
        reader = readers.get(name)
        kwargs[name] = value if reader is None or value is None else reader(value)
    return cls(**kwargs)


def override(obj: Any, changes: Mapping[str, Any]) -> Any:
    """A copy of ``obj`` (a dataclass tree) with the fields at the dotted paths of
    ``changes`` set to their values, checked once, as a whole.

    The changes are applied in order to ``obj``'s JSON (:func:`to_json`); a path walks
    object fields and dict keys (``"schedule.optimizer.learning_rate"``,
    ``"task.model.kwargs.width"``), a value is JSON (a nested object may be given whole:
    ``{"schedule.baseline": {"name": "sgd", "learning_rate": 0.1}}``). The result is
    rebuilt with :func:`from_json`, so every check runs on the final config (two fields
    that must change together, such as a schedule's steps and epochs, may).

    Raises:
      ValueError: a path that names no field (the message lists the fields there), or a
        config the checks refuse.

    Example:
      >>> m2 = override(m, {"schedule.epochs": 10, "grid.seeds": [0, 1, 2, 3, 4]})
    """
    if not isinstance(changes, Mapping):
        raise TypeError(f"override: changes must be a dict of path -> value; got {changes!r}")
    doc = to_json(obj)
    for path, value in changes.items():
        if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
            raise ValueError(f"a config path is dot-separated field names; got {path!r}")
        _set(doc, path.split("."), to_json(value), [])
    return from_json(type(obj), doc)


def _set(doc: Any, parts: list[str], value: Any, seen: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    here = ".".join(seen) or "the config"
    if not isinstance(doc, dict):
        kind = "null" if doc is None else type(doc).__name__
        raise ValueError(
            f"{here} is {kind}, not an object with fields: set it whole ({here}={{...}}) "
            f"instead of {here}.{head}"
        )
    if not rest:  # a new key of a dataclass is refused by from_json, naming the fields
        doc[head] = value
    elif head not in doc:
        raise ValueError(f"{here} has no field {head!r}; its fields are {sorted(doc)}")
    else:
        _set(doc[head], rest, value, [*seen, head])


def parse_value(text: str) -> Any:
    """A command-line value: JSON if it parses (``10``, ``0.5``, ``true``, ``null``,
    ``[1, 2]``, ``{"name": "sgd"}``), else the text itself (``fastfood``)."""
    if not isinstance(text, str):
        raise TypeError(f"parse_value: text must be a str; got {text!r:.100}")
    try:
        return json.loads(text)
    except ValueError:
        return text
