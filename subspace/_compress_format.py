"""Reading and checking the file format of :mod:`subspace.compress`, trusting nothing in it.

The zip directory, each member's ``.npy`` header and the JSON header are read and checked
before any array data: sizes come from the header's d, D and model-state leaf table
(themselves checked against the caller's model and template by
:func:`subspace.load_compressed`), never from the file's own claims. The model state's
byte layout (its leaves' bytes, little-endian, one after the other) is written and read
here too; PRNG keys' JSON is in :mod:`subspace._keys`.
Every refusal is a :class:`FileError` (a ``ValueError``) naming the field or member, what it
holds and what is allowed. Private: the public functions are in :mod:`subspace.compress`.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import jax.numpy as jnp
import numpy as np

from subspace import _keys
from subspace.hadamard import METHODS
from subspace.projections import PROJECTIONS

__all__: list[str] = []

FORMAT = "subspace.compress"
FORMAT_VERSION = 1

MAX_HEADER_BYTES = 1 << 20  # the header array's size, checked from its .npy header
MAX_HEADER_DEPTH = 64  # JSON nesting of the header object

MAX_D = 1 << 40
MAX_NPY_HEADER = 10_000  # a .npy header's own length (numpy's default limit)
MAX_NDIM = 64  # numpy's most dimensions: a longer shape in a file is refused unmultiplied
SEED_RANGE = (-(1 << 63), 1 << 64)  # what jax.random.key accepts (int64 or uint64)
Z_DTYPES = ("float32", "float64")
SOURCES = ("caller", "init", "stored")
FREE_FIELDS = ("model", "extra")  # the caller's JSON: never interpreted by the loader
NPY_MAGIC = b"\x93NUMPY"
ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
SHA256 = re.compile(r"[0-9a-f]{64}")

ARRAYS = ("header", "z", "theta0", "model_state")
# Dtypes numpy writes and reads natively; others (bfloat16) go to disk as their bits.
NATIVE = ("float16", "float32", "float64")
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
            f"{unexpected}; expected 'header', 'z' and optionally 'theta0' and 'model_state'"
        )
    for info in infos:
        if info.compress_type not in ZIP_METHODS:
            raise FileError(
                f"{where}: {path}: zip member {info.filename!r} is compressed with method "
                f"{info.compress_type}; only stored (0) and deflate (8) are read"
            )


class Npy(NamedTuple):
    """A member's .npy header: what its data will be, before any of it is read."""

    name: str  # "header", "z", "theta0" or "model_state"
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
    """The .npy headers of z, θ0 and the model state, checked against d, D, the dtypes and
    the model state's leaf table; no data read."""
    names = set(zf.namelist())
    members = {n: npy_header(zf, n, path, where) for n in ARRAYS[1:] if f"{n}.npy" in names}
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


# ----------------------------------------------------------------------------- model state
#
# The model state (collections outside θ: BatchNorm statistics, RNG counts) is one uint8
# array: each leaf's bytes, little-endian, in the order of the header's leaf table, one
# after the other (no padding). bfloat16 and the other dtypes are stored as their bits.


def state_nbytes(table: list) -> int:
    """Bytes of the leaves of a (checked) model-state leaf table."""
    return sum(math.prod(shape) * as_dtype(dtype).itemsize for _, shape, dtype in table)


def state_to_bytes(leaves: list[np.ndarray]) -> np.ndarray:
    """The model-state array of ``leaves`` (numpy arrays of :data:`STATE_DTYPES`)."""
    parts = [np.ascontiguousarray(x).view(np.uint8).reshape(-1) for x in map(little, leaves)]
    return np.concatenate([np.zeros(0, np.uint8), *parts])


def state_from_bytes(raw: np.ndarray, table: list) -> list[np.ndarray]:
    """The leaves of a model-state array read back, one copy each; ``raw`` has exactly
    :func:`state_nbytes` bytes (checked by :func:`check_members`)."""
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
    header.setdefault("model_state", None)  # files without it (all of format version 1)
    check_model_state_json(header["model_state"], ctx)
    check_sha256_json(header.get("sha256"), header["model_state"] is not None, ctx)
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


def as_dtype(name: str) -> np.dtype:
    return np.dtype(jnp.dtype(name))
