"""The file format of :mod:`subspace.compress`, and the checks of its JSON header.

File format (one ``.npz``, format version 1, written with ``np.savez_compressed``; read
member by member with ``zipfile`` and numpy's ``.npy`` header parser, in
:mod:`subspace._npz`; nothing in it is ever unpickled):

* ``header``: uint8 array, the UTF-8 bytes of a JSON object: ``format``,
  ``format_version``, ``library_version``, ``jax_version``, ``projection`` (the kind),
  ``options`` (the projection's keyword options, e.g. ``{"block_size": 512}``), ``said``
  (true: z starts with SAID's per-tensor scales, one per leaf; absent in older files:
  false; always false for a stored projection), ``D``, ``d``, ``z_dtype``, ``key``
  (``{"impl", "data", "typed"}``: the PRNG implementation, the key's raw uint32 words
  from ``jax.random.key_data`` and whether it was a typed key),
  ``theta0`` (``{"source": "init" | "stored" | "caller", "key", "seed", "dtype"}``),
  ``leaves`` (``[name, shape, dtype]`` per leaf, from ``Subspace.unravel.leaves``),
  ``model_state`` (null, or ``{"leaves": [[name, shape, dtype], ...]}``, the names being
  ``jax.tree_util.keystr`` of each leaf's path), ``sha256`` (of θ0, of P's state, of
  θ = θ0 + P z and, with model state, of its leaves), ``model`` and ``extra`` (the
  caller's JSON).
* ``z``: shape (d,), dtype ``z_dtype`` (float32 or float64); or, for a quantised z
  (``save_compressed(codebook=...)``), ``codebook`` and ``symbols`` in its place, with the
  header's ``quantised`` field (:mod:`subspace._compress_quantised`).
* ``projection_state``: only for a projection whose state is stored, not drawn
  (``lottery``): U's d columns, shape (D, d), dtype ``z_dtype``; sized from the header and
  refused above the loader's ``max_state_bytes`` before it is read.
* ``theta0``: only with ``store_theta0=True``: the flat θ0, shape (D,); a dtype numpy has no
  native code for (bfloat16) is stored as its bits (uint16) and viewed back.
* ``model_state``: only with ``model_state=``: uint8, the bytes of its leaves one after the
  other in the order of the header's table, each little-endian (bfloat16 as its bits).
  Leaves may be bool, (u)int8-64, float16, bfloat16, float32 or float64.

Files without model state are unchanged from before it existed (still format version 1;
the header's ``model_state`` field is absent or null), so every version-1 file loads. A
reader older than model state refuses a file that has it (an unexpected array).

For d = 300 the file is about 2 KB whatever D is; with ``store_theta0`` it grows by D
numbers, with ``model_state`` by its bytes (a linen BatchNorm layer: 2 floats per
channel).

Writes are atomic (a temporary file in the same folder, then ``os.replace``) and give the
file the permissions of a normally created one (0644 under umask 022). What this adds to
``np.savez``/orbax: the description instead of the D numbers, and the refusals (wrong D,
leaves, version, projection, θ0 or key; corrupt, truncated, pickled or hostile files) as
``ValueError`` naming the field and both values.

Limits (a file is never trusted with one; each is checked before anything is allocated):

* The header array is at most :data:`MAX_HEADER_BYTES` = 1 MiB. A ResNet-20 header (59
  leaves) is 4.5 KB; 1 MiB holds about 15,000 leaves with names as long. JSON nests at most
  :data:`MAX_HEADER_DEPTH` = 64 levels. NaN and ±Infinity are refused in every field the
  loader reads (``model`` and ``extra`` are the caller's and may hold them).
* Every header field has its type and range checked: 1 <= d <= D <= 2^40, key words of
  the shape their PRNG implementation has, a θ0 seed in [-2^63, 2^64), and each projection
  option bounded (fastfood's ``block_size`` a power of two in [d, 2^ceil(log2 D)],
  sparse's ``density`` in (0, 1]; unknown options refused). Dense's ``max_bytes`` in a
  file is ignored: the loader's own limit applies.
* ``z`` and ``theta0`` are read only after their ``.npy`` headers declare shape (d,) and
  (D,) and the zip directory declares exactly that many bytes, and after D and the leaves
  match the caller's model: a zip bomb is refused before it inflates. Only stored and
  deflated members are read; duplicate members are refused. Shapes in the header have at
  most 64 dimensions.
* ``model_state`` is read only after its ``.npy`` header declares uint8 of exactly the
  bytes of the header's leaf table (each leaf at most 2^40 elements), the zip directory
  declares that many, and that table matches the caller's template ``model_state_like``
  leaf by leaf (names, shapes, dtypes): the caller's template bounds what is read. A file
  with model state and no template is refused before any of it is read.
* P's state is sized from the header (``jax.eval_shape``, nothing drawn) and refused above
  ``max_state_bytes`` (default :data:`subspace.compress.DEFAULT_MAX_STATE_BYTES` = 1
  GiB, the dense projection's own default limit, so any P that ``wrap`` builds by default
  loads by default).

So a file of under 1 MB costs at most a few tens of MB beyond the model it rebuilds (the
caller's θ0 and P's state): ``tests/test_compress_hostile.py`` measures it.

Here: the format's constants, the header written (:func:`new_header`, :func:`header_bytes`)
and read (:func:`read_header`: every field the loader reads checked for type and range
before any array data), and the arrays' ``.npy`` headers checked against it
(:func:`check_members`): sizes come from the header's d, D and model-state leaf table, never
from the file's own claims. Every refusal is a :class:`~subspace._npz.FileError` (a
``ValueError``) naming the field, what it holds and what is allowed. Elsewhere: the zip and
``.npy`` reader in :mod:`subspace._npz`, the strict JSON in :mod:`subspace._compress_json`,
P's options and size in :mod:`subspace._compress_projection`, θ0 in
:mod:`subspace._compress_theta0`, the model state and leaf tables in
:mod:`subspace._model_state`, PRNG keys in :mod:`subspace._keys`. Private: the public
functions are in :mod:`subspace.compress`.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subspace import _compress_quantised, _keys
from subspace._compress_json import (  # noqa: F401 -- MAX_HEADER_DEPTH: a limit of the format
    MAX_HEADER_DEPTH,
    describe,
    is_int,
    parse_json,
    refuse,
    walk,
)
from subspace._compress_projection import check_options
from subspace._compress_theta0 import SEED_RANGE, disk_dtype
from subspace._model_state import STATE_DTYPES, as_dtype, state_nbytes
from subspace._npz import ARRAYS, FileError, npy_data, npy_header
from subspace.projections import PROJECTIONS, STORED
from subspace.wrap import Subspace

__all__: list[str] = []

FORMAT = "subspace.compress"
FORMAT_VERSION = 1

MAX_HEADER_BYTES = 1 << 20  # the header array's size, checked from its .npy header

MAX_D = 1 << 40
MAX_NDIM = 64  # numpy's most dimensions: a longer shape in a file is refused unmultiplied
Z_DTYPES = ("float32", "float64")
SOURCES = ("caller", "init", "stored")
SHA256 = re.compile(r"[0-9a-f]{64}")


# ----------------------------------------------------------------------------- writing


def new_header(
    sub: Subspace,
    z: np.ndarray,
    key: jax.Array,
    options: dict,
    theta0: dict,
    state_table: list | None,
    sha256: dict,
    model: Any,
    extra: Any,
    quantised: dict | None = None,
) -> dict:
    """The header of a file (its fields are listed above); :func:`header_bytes` checks it."""
    from subspace import __version__  # at call time: subspace/__init__ imports compress

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "jax_version": jax.__version__,
        "projection": sub.kind,
        "options": options,
        "said": sub.said,
        "D": sub.D,
        "d": sub.d,
        "z_dtype": z.dtype.name,
        "key": _keys.key_to_json(key),
        "theta0": theta0,
        "leaves": [
            [leaf.name, list(leaf.shape), np.dtype(leaf.dtype).name] for leaf in sub.unravel.leaves
        ],
        "model_state": None if state_table is None else {"leaves": state_table},
        "quantised": quantised,
        "sha256": sha256,
        "model": model,
        "extra": extra,
    }


def header_bytes(header: dict, where: str) -> bytes:
    """The header as JSON bytes, refused if load_compressed would refuse it."""
    walk(header, where)
    raw = json.dumps(header).encode()
    if len(raw) > MAX_HEADER_BYTES:
        free = len(json.dumps([header["model"], header["extra"]]))
        raise ValueError(
            f"{where}: the header would take {len(raw):,} bytes > {MAX_HEADER_BYTES:,}, the "
            f"most load_compressed reads (model and extra take {free:,} of them)"
        )
    return raw


# ----------------------------------------------------------------------------- reading


def read_header(zf: zipfile.ZipFile, path: Path, where: str) -> dict:
    npy = npy_header(zf, "header", path, where)
    if npy.dtype != np.uint8 or len(npy.shape) != 1:
        raise FileError(
            f"{where}: {path}: header must be a 1-d uint8 array; got {npy.dtype} {npy.shape}"
        )
    if npy.nbytes > MAX_HEADER_BYTES:
        raise FileError(
            f"{where}: {path}: array 'header' has {npy.nbytes:,} bytes; a header is at most "
            f"{MAX_HEADER_BYTES:,}"
        )
    raw = npy_data(zf, npy, path, where).tobytes()
    return check_header(parse_json(raw, f"{where}: {path}"), f"{where}: {path}")


def check_members(zf: zipfile.ZipFile, header: dict, path: Path, where: str) -> dict:
    """The .npy headers of z, θ0 and the model state, checked against d, D, the dtypes and
    the model state's leaf table; no data read."""
    names = set(zf.namelist())
    members = {n: npy_header(zf, n, path, where) for n in ARRAYS[1:] if f"{n}.npy" in names}
    d, want = header["d"], np.dtype(header["z_dtype"])
    if header["quantised"] is not None:
        _compress_quantised.check_members(members, header["quantised"], path, where)
    else:
        z = members.get("z")
        if (
            z is None
            or z.shape != (d,)
            or z.dtype != want
            or {"codebook", "symbols"} & set(members)
        ):
            got = "no z" if z is None else f"{z.dtype} {z.shape}"
            if {"codebook", "symbols"} & set(members):
                got += " and a quantised z's arrays"
            raise FileError(
                f"{where}: {path}: array 'z' does not match the header: file has {got}, "
                f"header says {want} ({d},)"
            )
    t0 = header["theta0"]
    stored = t0["source"] == "stored"
    if stored != ("theta0" in members):
        raise FileError(
            f"{where}: {path}: theta0.source is {t0['source']!r} but the file "
            f"{'has' if 'theta0' in members else 'lacks'} a 'theta0' array"
        )
    if stored:
        t, D, dtype = members["theta0"], header["D"], as_dtype(t0["dtype"])  # noqa: N806
        if t.shape != (D,) or t.dtype != disk_dtype(dtype):
            raise FileError(
                f"{where}: {path}: array 'theta0' does not match the header: file has "
                f"{t.dtype} {t.shape}, header says {dtype} ({D},)"
            )
    kept = header["projection"] in STORED  # P's state is in the file, not drawn
    if kept != ("projection_state" in members):
        raise FileError(
            f"{where}: {path}: projection {header['projection']!r} "
            f"{'stores' if kept else 'draws'} P's state but the file "
            f"{'has' if 'projection_state' in members else 'lacks'} a 'projection_state' array"
        )
    if kept:
        p, D = members["projection_state"], header["D"]  # noqa: N806
        if p.shape != (D, d) or p.dtype != want:
            raise FileError(
                f"{where}: {path}: array 'projection_state' does not match the header: file "
                f"has {p.dtype} {p.shape}, header says {want} ({D}, {d})"
            )
    has = header["model_state"] is not None
    if has != ("model_state" in members):
        raise FileError(
            f"{where}: {path}: the header has {'' if has else 'no '}model_state but the file "
            f"{'has' if 'model_state' in members else 'lacks'} a 'model_state' array"
        )
    if has:
        s, nbytes = members["model_state"], state_nbytes(header["model_state"]["leaves"])
        if s.shape != (nbytes,) or s.dtype != np.uint8:
            raise FileError(
                f"{where}: {path}: array 'model_state' does not match the header: file has "
                f"{s.dtype} {s.shape}, header says uint8 ({nbytes},) (its leaves' bytes)"
            )
    return members


# ----------------------------------------------------------------------------- the fields


def check_header(header: Any, ctx: str) -> dict:
    """``header`` if every field the loader reads has its type and range, else refuses."""
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        got = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise FileError(f"{ctx}: format: file has {got!r}, expected {FORMAT!r}")
    version = header.get("format_version")
    if not is_int(version) or version != FORMAT_VERSION:
        raise FileError(
            f"{ctx}: format_version does not match: file has {version!r}, this library reads "
            f"{FORMAT_VERSION}"
        )
    walk(header, ctx)
    for name in ("library_version", "projection", "z_dtype"):
        if not isinstance(header.get(name), str):
            refuse(ctx, name, f"must be a string; got {describe(header.get(name))}")
    kind = header["projection"]
    if kind not in PROJECTIONS:
        refuse(ctx, "projection", f"must be one of {sorted(PROJECTIONS)}; got {describe(kind)}")
    D = int_field(header, "D", MAX_D, f"{MAX_D:,}", ctx)  # noqa: N806
    d = int_field(header, "d", D, f"D = {D:,}", ctx)
    if header["z_dtype"] not in Z_DTYPES:
        refuse(
            ctx, "z_dtype", f"must be one of {list(Z_DTYPES)}; got {describe(header['z_dtype'])}"
        )
    check_options(kind, header.get("options"), D, d, ctx)
    check_key_json(header.get("key"), "key", ctx)
    check_theta0_json(header.get("theta0"), ctx)
    check_leaves_json(header.get("leaves"), D, ctx)
    header.setdefault("said", False)  # files from before SAID
    if not isinstance(header["said"], bool):
        refuse(ctx, "said", f"must be true or false; got {describe(header['said'])}")
    if header["said"] and kind in STORED:
        refuse(ctx, "said", f"must be false for a stored projection ({kind!r})")
    if header["said"] and not 2 <= len(header["leaves"]) < d:
        m = len(header["leaves"])
        refuse(ctx, "said", f"needs 2 <= leaves ({m}) < d ({d}) (one scale per leaf in z)")
    header.setdefault("model_state", None)  # files without it (all of format version 1)
    check_model_state_json(header["model_state"], ctx)
    header.setdefault("quantised", None)  # files with z itself
    _compress_quantised.check_json(header["quantised"], d, ctx)
    check_sha256_json(header.get("sha256"), header["model_state"] is not None, ctx)
    header.setdefault("model", None)
    header.setdefault("extra", None)
    return header


def int_field(header: dict, name: str, hi: int, hi_text: str, ctx: str) -> int:
    value = header.get(name)
    if not is_int(value) or not 1 <= value <= hi:
        refuse(ctx, name, f"must be an integer in [1, {hi_text}]; got {describe(value)}")
    return value


def check_key_json(spec: Any, field: str, ctx: str) -> None:
    problem = _keys.key_json_problem(spec, describe)
    if problem is not None:
        refuse(ctx, field + problem[0], problem[1])


def check_theta0_json(t0: Any, ctx: str) -> None:
    if not isinstance(t0, dict) or not {"source", "key", "seed", "dtype"} <= set(t0):
        fields = "an object with source, key, seed and dtype"
        refuse(ctx, "theta0", f"must be {fields}; got {describe(t0)}")
    if not isinstance(t0["source"], str) or t0["source"] not in SOURCES:
        refuse(
            ctx, "theta0.source", f"must be one of {list(SOURCES)}; got {describe(t0['source'])}"
        )
    if t0["key"] is not None:
        check_key_json(t0["key"], "theta0.key", ctx)
    seed, (lo, hi) = t0["seed"], SEED_RANGE
    if seed is not None and (not is_int(seed) or not lo <= seed < hi):
        refuse(
            ctx, "theta0.seed", f"must be an integer in [-2^63, 2^64) or null; got {describe(seed)}"
        )
    if float_dtype(t0["dtype"]) is None:
        floats = "a floating-point dtype (float16, bfloat16, float32, float64)"
        refuse(ctx, "theta0.dtype", f"must be {floats}; got {describe(t0['dtype'])}")


def is_leaf_entry(leaf: Any) -> bool:
    """[name, shape, dtype] with at most MAX_NDIM dimensions of at most MAX_D each."""
    return (
        isinstance(leaf, list)
        and len(leaf) == 3
        and isinstance(leaf[0], str)
        and isinstance(leaf[1], list)
        and len(leaf[1]) <= MAX_NDIM
        and all(is_int(s) and 0 <= s <= MAX_D for s in leaf[1])
        and isinstance(leaf[2], str)
    )


def check_leaves_json(leaves: Any, D: int, ctx: str) -> None:  # noqa: N803
    if not isinstance(leaves, list):
        refuse(ctx, "leaves", f"must be a list of [name, shape, dtype]; got {describe(leaves)}")
    total = 0
    for leaf in leaves:
        if not is_leaf_entry(leaf):
            refuse(
                ctx, "leaves", f"has a bad entry {describe(leaf)} (expected [name, shape, dtype])"
            )
        total += math.prod(leaf[1])
    if total != D:
        refuse(ctx, "leaves", f"add up to {total:,} parameters, not D = {D:,}")


def check_model_state_json(state: Any, ctx: str) -> None:
    """null, or ``{"leaves": [[name, shape, dtype], ...]}``: each leaf at most MAX_D
    elements of a dtype of STATE_DTYPES. Their total is bounded by the caller's template
    (load_compressed compares the two leaf by leaf before reading any of it)."""
    if state is None:
        return
    if not isinstance(state, dict) or "leaves" not in state:
        refuse(ctx, "model_state", f"must be null or an object with leaves; got {describe(state)}")
    leaves = state["leaves"]
    if not isinstance(leaves, list):
        refuse(
            ctx,
            "model_state.leaves",
            f"must be a list of [name, shape, dtype]; got {describe(leaves)}",
        )
    for leaf in leaves:
        if not (is_leaf_entry(leaf) and math.prod(leaf[1]) <= MAX_D and leaf[2] in STATE_DTYPES):
            expected = f"[name, shape, dtype] with dtype one of {list(STATE_DTYPES)}"
            refuse(
                ctx, "model_state.leaves", f"has a bad entry {describe(leaf)} (expected {expected})"
            )


def check_sha256_json(sha: Any, model_state: bool, ctx: str) -> None:
    names = ("theta0", "P", "theta") + (("model_state",) if model_state else ())
    if not isinstance(sha, dict):
        refuse(ctx, "sha256", f"must be an object with {', '.join(names)}; got {describe(sha)}")
    for name in names:
        value = sha.get(name)
        if not isinstance(value, str) or not SHA256.fullmatch(value):
            refuse(ctx, f"sha256.{name}", f"must be a 64-digit hex string; got {describe(value)}")


def float_dtype(name: Any) -> np.dtype | None:
    if not isinstance(name, str):
        return None
    try:
        dtype = np.dtype(jnp.dtype(name))
    except (TypeError, ValueError):
        return None
    return dtype if jnp.issubdtype(dtype, jnp.floating) else None
