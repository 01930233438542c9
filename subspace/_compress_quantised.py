"""A quantised z in a compressed file: the codebook and the range-coded symbols.

``save_compressed(..., codebook=c)`` stores a z whose every coordinate is a level of the
codebook ``c`` (L values, float16 or float32) as the message :mod:`subspace.bounds`
counts: instead of the ``z`` array, the file holds

* ``codebook``: (L,), float16 or float32, the levels, sorted;
* ``symbols``: (N,) uint32, the range coder's words (:mod:`subspace.arithmetic_code`);

and the header's ``quantised`` field ``{"levels": L, "codebook_dtype": "float16" |
"float32", "counts": [L integers], "words": N}``: how many coordinates take each level
(the decoder's model). The loader checks the field (2 <= L <= d, the counts >= 0 summing
to d, N at most ``d + 2``, a coder's words for d symbols of at most 32 bits each), the two
arrays' ``.npy`` headers against it, decodes, and checks that the words give back exactly
those counts; z is then ``codebook[symbols]`` in the file's ``z_dtype``, so θ's sha256
verifies it bitwise. Private: :mod:`subspace.compress` calls it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from subspace import arithmetic_code
from subspace._compress_json import describe, is_int, refuse
from subspace._npz import FileError, Npy, npy_data

__all__: list[str] = []

CODEBOOK_DTYPES = {"float16": 16, "float32": 32}
MAX_LEVELS = 1 << 16


def max_words(d: int) -> int:
    """The most words a file may declare for d symbols (32 bits each, and the coder's end)."""
    return d + 2


def to_arrays(z: np.ndarray, codebook: Any, where: str) -> tuple[dict, dict]:
    """``(header field, arrays)`` for z on ``codebook``; refuses a z that is not on it."""
    book = np.asarray(codebook)
    if book.dtype.name not in CODEBOOK_DTYPES or book.ndim != 1:
        raise TypeError(
            f"{where}: codebook must be a 1-D float16 or float32 array of levels; got "
            f"{book.dtype} {book.shape}"
        )
    if not 2 <= len(book) <= min(len(z), MAX_LEVELS) or not np.all(np.isfinite(book)):
        raise ValueError(
            f"{where}: codebook must have 2 to min(d, 65536) finite levels; got {len(book)}"
        )
    if len(np.unique(book)) != len(book):
        raise ValueError(f"{where}: codebook levels must be distinct")
    book = np.sort(book)
    levels = book.astype(z.dtype)
    symbols = np.searchsorted(levels, z)
    symbols = np.minimum(symbols, len(book) - 1)
    if not np.array_equal(levels[symbols], z):
        raise ValueError(
            f"{where}: z must be on the codebook (every coordinate one of its levels, in "
            "z's dtype); quantise it first (subspace.bounds.quantise_member)"
        )
    message = arithmetic_code.encode(
        symbols, len(book), codebook_bits=CODEBOOK_DTYPES[book.dtype.name]
    )
    field = {
        "levels": len(book),
        "codebook_dtype": book.dtype.name,
        "counts": [int(c) for c in message.counts],
        "words": len(message.words),
    }
    return field, {"codebook": book, "symbols": message.words}


def check_json(q: Any, d: int, ctx: str) -> None:
    """The header's ``quantised`` field (null, or as the module docstring says)."""
    if q is None:
        return
    if not isinstance(q, dict) or set(q) != {"levels", "codebook_dtype", "counts", "words"}:
        refuse(
            ctx,
            "quantised",
            f"must be null or an object with levels, codebook_dtype, counts "
            f"and words; got {describe(q)}",
        )
    levels = q["levels"]
    if not is_int(levels) or not 2 <= levels <= min(d, MAX_LEVELS):
        refuse(
            ctx,
            "quantised.levels",
            f"must be an integer in [2, min(d, 65536)]; got {describe(levels)}",
        )
    if q["codebook_dtype"] not in CODEBOOK_DTYPES:
        refuse(
            ctx,
            "quantised.codebook_dtype",
            f"must be one of {list(CODEBOOK_DTYPES)}; got {describe(q['codebook_dtype'])}",
        )
    counts = q["counts"]
    if (
        not isinstance(counts, list)
        or len(counts) != levels
        or not all(is_int(c) and 0 <= c <= d for c in counts)
        or sum(counts) != d
    ):
        refuse(ctx, "quantised.counts", f"must be {levels} integers >= 0 summing to d = {d}")
    words = q["words"]
    if not is_int(words) or not 0 <= words <= max_words(d):
        refuse(ctx, "quantised.words", f"must be an integer in [0, d + 2]; got {describe(words)}")


def check_members(members: dict, q: dict, path: Path, where: str) -> None:
    """The ``codebook`` and ``symbols`` arrays' ``.npy`` headers against the field."""
    want = {
        "codebook": (np.dtype(q["codebook_dtype"]), (q["levels"],)),
        "symbols": (np.dtype(np.uint32), (q["words"],)),
    }
    for name, (dtype, shape) in want.items():
        npy = members.get(name)
        if npy is None or npy.dtype != dtype or npy.shape != shape:
            got = "none" if npy is None else f"{npy.dtype} {npy.shape}"
            raise FileError(
                f"{where}: {path}: array {name!r} does not match the header's quantised field: "
                f"file has {got}, header says {dtype} {shape}"
            )
    if "z" in members:
        raise FileError(f"{where}: {path}: a quantised file has no 'z' array; this one has one")


def read_z(zf: zipfile.ZipFile, members: dict[str, Npy], header: dict, path: Path, where: str):
    """z decoded from the codebook and the symbols (their sizes checked already)."""
    q = header["quantised"]
    book = npy_data(zf, members["codebook"], path, where)
    words = npy_data(zf, members["symbols"], path, where)
    if not np.all(np.isfinite(book)) or np.any(np.diff(book.astype(np.float64)) <= 0):
        raise FileError(f"{where}: {path}: the codebook's levels must be finite and increasing")
    try:
        symbols = arithmetic_code.decode(words, np.asarray(q["counts"], np.int64), header["d"])
    except ValueError as e:
        raise FileError(f"{where}: {path}: the symbols do not decode: {e}") from None
    return book.astype(header["z_dtype"])[symbols]
