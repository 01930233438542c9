"""Reading a zip of ``.npy`` arrays (``np.savez``'s format) that may be hostile.

Nothing in the file is trusted: the zip directory is checked first (member names, no
duplicates, only stored or deflated members), then each member's ``.npy`` header alone is
read (its length bounded, pickled arrays refused unread) and its shape and dtype checked
against the size the zip directory declares; array data is read only when the caller asks,
exactly as many bytes as the checked header makes, never what the file says it holds.
Nothing is unpickled. Every refusal is a :class:`FileError` (a ``ValueError``) naming the
member, what it holds and what is allowed; any other error of ``zipfile``, ``zlib`` or numpy
becomes one ``ValueError`` saying the file is corrupt. Private: used by
:mod:`subspace.compress` (its format is in :mod:`subspace._compress_header`).
"""

from __future__ import annotations

import contextlib
import io
import math
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__: list[str] = []

ARRAYS = (  # a file's members
    "header",
    "z",
    "theta0",
    "model_state",
    "codebook",
    "symbols",
    "projection_state",
)
MAX_NPY_HEADER = 10_000  # a .npy header's own length (numpy's default limit)
NPY_MAGIC = b"\x93NUMPY"
ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


class FileError(ValueError):
    """A refusal whose message already says what is wrong with the file."""


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
    quantised = {"codebook.npy", "symbols.npy"} & set(seen)
    z = ("codebook", "symbols") if quantised else ("z",)  # a quantised z has no z array
    missing = sorted(name for name in ("header", *z) if f"{name}.npy" not in seen)
    unexpected = sorted(n.removesuffix(".npy") for n in seen if n not in known)
    if missing or unexpected:
        raise FileError(
            f"{where}: {path} is not a subspace file: arrays missing {missing}, unexpected "
            f"{unexpected}; expected 'header', 'z' (or 'codebook' and 'symbols') and "
            "optionally 'theta0' and 'model_state'"
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
