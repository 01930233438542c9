"""Reading and checking the file format of :mod:`subspace.compress`, trusting nothing in it.

The zip directory, each member's ``.npy`` header and the JSON header are read and checked
before any array data: sizes come from the header's d and D (themselves checked against
the caller's model by :func:`subspace.load_compressed`), never from the file's own claims.
Every refusal is a :class:`FileError` (a ``ValueError``) naming the field or member, what it
holds and what is allowed. Private: the public functions are in :mod:`subspace.compress`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import jax
import jax.numpy as jnp
import numpy as np

from subspace.hadamard import METHODS
from subspace.projections import PROJECTIONS

__all__: list[str] = []

FORMAT = "subspace.compress"
FORMAT_VERSION = 1

MAX_HEADER_BYTES = 1 << 20  # the header array's size, checked from its .npy header
MAX_HEADER_DEPTH = 64  # JSON nesting of the header object

MAX_D = 1 << 40
MAX_NPY_HEADER = 10_000  # a .npy header's own length (numpy's default limit)
SEED_RANGE = (-(1 << 63), 1 << 64)  # what jax.random.key accepts (int64 or uint64)
KEY_IMPLS = ("threefry2x32", "threefry4x32", "philox2x32", "philox4x32", "rbg", "unsafe_rbg")
Z_DTYPES = ("float32", "float64")
SOURCES = ("caller", "init", "stored")
FREE_FIELDS = ("model", "extra")  # the caller's JSON: never interpreted by the loader
NPY_MAGIC = b"\x93NUMPY"
ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
SHA256 = re.compile(r"[0-9a-f]{64}")

ARRAYS = ("header", "z", "theta0")
# Dtypes numpy writes and reads natively; others (bfloat16) go to disk as their bits.
NATIVE = ("float16", "float32", "float64")


class FileError(ValueError):
    """A refusal whose message already says what is wrong with the file."""


def disk_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if dtype.name in NATIVE else np.dtype(f"uint{8 * dtype.itemsize}")


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


@contextlib.contextmanager
def corrupt_is_value_error(path: Path, where: str) -> Iterator[None]:
    try:
        yield
    except FileError:
        raise
    except Exception as e:  # zipfile, zlib, numpy format errors: one clear refusal
        raise ValueError(
            f"{where}: {path} is corrupt, truncated or not a subspace file "
            f"({type(e).__name__}: {e})"
        ) from e


@contextlib.contextmanager
def archive(path: Path, where: str) -> Iterator[zipfile.ZipFile]:
    """The open zip, its directory checked (names, duplicates, compression); no data read."""
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no such file: {path}")
    with corrupt_is_value_error(path, where):
        with open(path, "rb") as f:
            if f.read(len(NPY_MAGIC)) == NPY_MAGIC:
                raise FileError(f"{where}: {path} is a single .npy array, not an .npz archive")
        zf = zipfile.ZipFile(path)
    with zf:
        check_directory(zf, path, where)
        yield zf  # errors of the caller's code (init) pass through unchanged


def check_directory(zf: zipfile.ZipFile, path: Path, where: str) -> None:
    infos = zf.infolist()
    seen: dict[str, int] = {}
    for info in infos:
        seen[info.filename] = seen.get(info.filename, 0) + 1
    for name, count in seen.items():
        if count > 1:
            raise FileError(
                f"{where}: {path}: zip member {name!r} appears {count} times; refused (which "
                "one a reader takes is not defined)"
            )
    known = {f"{name}.npy" for name in ARRAYS}
    missing = sorted(name for name in ("header", "z") if f"{name}.npy" not in seen)
    unexpected = sorted(n.removesuffix(".npy") for n in seen if n not in known)
    if missing or unexpected:
        raise FileError(
            f"{where}: {path} is not a subspace file: arrays missing {missing}, unexpected "
            f"{unexpected}; expected 'header', 'z' and optionally 'theta0'"
        )
    for info in infos:
        if info.compress_type not in ZIP_METHODS:
            raise FileError(
                f"{where}: {path}: zip member {info.filename!r} is compressed with method "
                f"{info.compress_type}; only stored (0) and deflate (8) are read"
            )


class Npy(NamedTuple):
    """A member's .npy header: what its data will be, before any of it is read."""

    name: str  # "header", "z" or "theta0"
    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int  # bytes of the .npy header, before the data

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def npy_header(zf: zipfile.ZipFile, name: str, path: Path, where: str) -> Npy:
    """Reads only the .npy header of ``name``: shape and dtype, checked against the zip
    directory's uncompressed size; a pickled (object) array is refused unread."""
    info = zf.getinfo(f"{name}.npy")
    with corrupt_is_value_error(path, where):
        with zf.open(info) as f:
            magic = read_exact(f, len(NPY_MAGIC) + 2)
            version = (magic[-2], magic[-1])
            if magic[:-2] != NPY_MAGIC or version not in ((1, 0), (2, 0)):
                raise ValueError(f"array {name!r} is not a .npy array of version 1.0 or 2.0")
            size_field = read_exact(f, 2 if version == (1, 0) else 4)
            length = int.from_bytes(size_field, "little")
            if length > MAX_NPY_HEADER:  # numpy would read it all before checking
                raise FileError(
                    f"{where}: {path}: array {name!r}: its .npy header is {length:,} bytes; "
                    f"at most {MAX_NPY_HEADER:,}"
                )
            text = read_exact(f, length)
        buf = io.BytesIO(magic + size_field + text)
        np.lib.format.read_magic(buf)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read(buf)  # at most MAX_NPY_HEADER bytes, checked above
    if dtype.hasobject:
        raise FileError(
            f"{where}: {path}: array {name!r} holds Python objects (pickled data); refused, "
            "nothing was unpickled"
        )
    npy = Npy(name, info, tuple(shape), dtype, len(magic) + len(size_field) + length)
    expected = npy.offset + npy.nbytes
    if info.file_size != expected:
        raise FileError(
            f"{where}: {path}: zip member {info.filename!r} declares {info.file_size:,} bytes "
            f"uncompressed; its .npy header and shape make {expected:,}"
        )
    return npy


def npy_data(zf: zipfile.ZipFile, npy: Npy, path: Path, where: str) -> np.ndarray:
    """The array of a member whose header was checked: exactly ``npy.nbytes`` are read."""
    with corrupt_is_value_error(path, where), zf.open(npy.info) as f:
        read_exact(f, npy.offset)
        data = read_exact(f, npy.nbytes)
        if f.read(1):  # also makes zipfile check the CRC
            raise ValueError(f"array {npy.name!r} has data after its end")
    return np.frombuffer(data, npy.dtype).reshape(npy.shape)


def read_exact(f: Any, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ValueError(f"truncated: expected {n:,} bytes, got {len(data):,}")
    return data


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
    """The .npy headers of z and θ0, checked against d, D and the dtypes; no data read."""
    names = set(zf.namelist())
    members = {n: npy_header(zf, n, path, where) for n in ("z", "theta0") if f"{n}.npy" in names}
    z, d, want = members["z"], header["d"], np.dtype(header["z_dtype"])
    if z.shape != (d,) or z.dtype != want:
        raise FileError(
            f"{where}: {path}: array 'z' does not match the header: file has {z.dtype} "
            f"{z.shape}, header says {want} ({d},)"
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
    return members


# ----------------------------------------------------------------------------- the header


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
    check_sha256_json(header.get("sha256"), ctx)
    header.setdefault("model", None)
    header.setdefault("extra", None)
    return header


def int_field(header: dict, name: str, hi: int, hi_text: str, ctx: str) -> int:
    value = header.get(name)
    if not is_int(value) or not 1 <= value <= hi:
        refuse(ctx, name, f"must be an integer in [1, {hi_text}]; got {describe(value)}")
    return value


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
}


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


def check_key_json(spec: Any, field: str, ctx: str) -> None:
    if not isinstance(spec, dict) or not {"impl", "data", "typed"} <= set(spec):
        refuse(ctx, field, f"must be an object with impl, data and typed; got {describe(spec)}")
    shapes = key_shapes()
    impl, data = spec["impl"], spec["data"]
    if not isinstance(impl, str) or impl not in shapes:
        refuse(ctx, f"{field}.impl", f"must be one of {sorted(shapes)}; got {describe(impl)}")
    n = math.prod(shapes[impl])
    if not (
        isinstance(data, list)
        and len(data) == n
        and all(is_int(w) and 0 <= w < 1 << 32 for w in data)
    ):
        words = f"a list of {n} uint32 words (the key data of a {impl} key)"
        refuse(ctx, f"{field}.data", f"must be {words}; got {describe(data)}")
    check_bool(spec["typed"], f"{field}.typed", 0, 0, ctx)


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


def check_leaves_json(leaves: Any, D: int, ctx: str) -> None:  # noqa: N803
    if not isinstance(leaves, list):
        refuse(ctx, "leaves", f"must be a list of [name, shape, dtype]; got {describe(leaves)}")
    total = 0
    for leaf in leaves:
        if not (
            isinstance(leaf, list)
            and len(leaf) == 3
            and isinstance(leaf[0], str)
            and isinstance(leaf[1], list)
            and all(is_int(s) and 0 <= s <= MAX_D for s in leaf[1])
            and isinstance(leaf[2], str)
        ):
            refuse(
                ctx, "leaves", f"has a bad entry {describe(leaf)} (expected [name, shape, dtype])"
            )
        total += math.prod(leaf[1])
    if total != D:
        refuse(ctx, "leaves", f"add up to {total:,} parameters, not D = {D:,}")


def check_sha256_json(sha: Any, ctx: str) -> None:
    if not isinstance(sha, dict):
        refuse(ctx, "sha256", f"must be an object with theta0, P and theta; got {describe(sha)}")
    for name in ("theta0", "P", "theta"):
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


def as_dtype(name: str) -> np.dtype:
    return np.dtype(jnp.dtype(name))


def key_from_json(spec: dict) -> tuple[jax.Array, jax.Array]:
    """Returns (the typed key of the recorded implementation, the key as it was saved).

    A raw key is drawn with as the typed key of its recorded implementation, so the draw
    does not depend on the loading process's default PRNG implementation. ``spec`` was
    checked by :func:`check_key_json`.
    """
    data = np.asarray(spec["data"], np.uint32).reshape(key_shapes()[spec["impl"]])
    key = jax.random.wrap_key_data(data, impl=spec["impl"])
    return key, key if spec["typed"] else jax.random.key_data(key)
