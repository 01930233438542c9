"""PRNG keys as JSON, for :mod:`subspace.compress`: written, checked and read back.

A key is recorded as ``{"impl", "data", "typed"}``: the PRNG implementation's name, the
key's raw uint32 words (``jax.random.key_data``) and whether it was a typed key
(``jax.random.key``) or a raw one (``jax.random.PRNGKey``). Reading draws with the typed
key of the recorded implementation, so a raw key draws the same numbers whatever the
loading process's default implementation is. Private: no public names.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import numpy as np

from subspace._checks import is_typed_key

__all__: list[str] = []

KEY_IMPLS = ("threefry2x32", "threefry4x32", "philox2x32", "philox4x32", "rbg", "unsafe_rbg")


def key_to_json(key: jax.Array) -> dict:
    """The JSON record of a single key, typed or raw (checked by the caller)."""
    typed = is_typed_key(key)
    impl = str(jax.random.key_impl(key)) if typed else str(jax.config.jax_default_prng_impl)
    data = np.asarray(jax.random.key_data(key) if typed else key, np.uint32)
    return {"impl": impl, "data": data.tolist(), "typed": bool(typed)}


@functools.cache
def key_shapes() -> dict[str, tuple[int, ...]]:
    """The key data shape of each PRNG implementation this JAX has (abstractly, no draw)."""
    shapes = {}
    for impl in KEY_IMPLS:
        try:
            data = jax.eval_shape(
                lambda impl=impl: jax.random.key_data(jax.random.key(0, impl=impl))
            )
        except (ValueError, KeyError, TypeError):
            continue
        shapes[impl] = tuple(data.shape)
    return shapes


def key_json_problem(spec: Any, describe: Any = repr) -> tuple[str, str] | None:
    """What is wrong with a key record from a file, as (sub-field, text), or None.

    The sub-field is appended to the record's field name (``""``, ``".impl"``, ...); the
    text says what the field must be and what it holds (``describe(value)``).
    """
    if not isinstance(spec, dict) or not {"impl", "data", "typed"} <= set(spec):
        return "", f"must be an object with impl, data and typed; got {describe(spec)}"
    shapes = key_shapes()
    impl, data = spec["impl"], spec["data"]
    if not isinstance(impl, str) or impl not in shapes:
        return ".impl", f"must be one of {sorted(shapes)}; got {describe(impl)}"
    n = math.prod(shapes[impl])
    if not (
        isinstance(data, list)
        and len(data) == n
        and all(type(w) is int and 0 <= w < 1 << 32 for w in data)
    ):
        words = f"a list of {n} uint32 words (the key data of a {impl} key)"
        return ".data", f"must be {words}; got {describe(data)}"
    if not isinstance(spec["typed"], bool):
        return ".typed", f"must be true or false; got {describe(spec['typed'])}"
    return None


def key_from_json(spec: dict) -> tuple[jax.Array, jax.Array]:
    """Returns (the typed key of the recorded implementation, the key as it was saved).

    ``spec`` was checked by :func:`key_json_problem`.
    """
    data = np.asarray(spec["data"], np.uint32).reshape(key_shapes()[spec["impl"]])
    key = jax.random.wrap_key_data(data, impl=spec["impl"])
    return key, key if spec["typed"] else jax.random.key_data(key)
