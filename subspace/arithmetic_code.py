"""Quantised z as a message: range-coded symbols, the codebook and the symbol counts.

A quantised z of d coordinates is d symbols (indices into a codebook of L levels). The
message that sends it, as Lotfi et al. (2022) count it, is

* the symbols, range-coded (an arithmetic coder) with their empirical frequencies —
  ``constriction``'s ``RangeEncoder`` (the ``[bounds]`` extra), whose output is whole
  32-bit words: the bits counted are the bits actually written;
* the codebook: L values of ``codebook_bits`` each (16: float16, 32: float32);
* the counts of each symbol, L·⌈log2(d + 1)⌉ bits, from which the decoder rebuilds the
  frequencies (so the coder's model is part of the message, not assumed known).

``message_bits`` is ℓ, their sum; :func:`decode` gives the symbols back from the words and
the counts. The counts are checked against d before anything is decoded.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from subspace._checks import check_int

__all__ = ["Message", "decode", "encode"]

CODEBOOK_BITS = (16, 32)


class Message(NamedTuple):
    """The coded symbols and what the decoder needs."""

    words: np.ndarray  # uint32: the range coder's output
    counts: np.ndarray  # int64 (L,): how many coordinates take each level
    symbol_bits: int  # 32 · len(words)
    codebook_bits: int  # L · (16 or 32)
    count_bits: int  # L · ⌈log2(d + 1)⌉

    @property
    def bits(self) -> int:
        """ℓ: everything the receiver needs besides the seed (which the header carries)."""
        return self.symbol_bits + self.codebook_bits + self.count_bits


def _constriction() -> Any:
    try:
        import constriction
    except ImportError:
        raise ImportError(
            "the arithmetic coder needs constriction: pip install 'subspace-intrinsic[bounds]'"
        ) from None
    return constriction.stream


def _model(counts: np.ndarray) -> Any:
    stream = _constriction()
    used = counts > 0
    if used.sum() == 1:  # one level only: nothing to code, each symbol costs 0 bits
        return None
    probs = counts[used] / counts.sum()
    return stream.model.Categorical(probs.astype(np.float64), perfect=False)


def encode(symbols: Any, levels: int, *, codebook_bits: int = 16) -> Message:
    """Range-codes ``symbols`` (ints in [0, levels)) with their empirical frequencies."""
    where = "encode"
    levels = check_int(levels, "levels", 2, where=where)
    if codebook_bits not in CODEBOOK_BITS:
        raise ValueError(
            f"{where}: codebook_bits must be one of {CODEBOOK_BITS}; got {codebook_bits!r}"
        )
    symbols = np.asarray(symbols)
    if symbols.ndim != 1 or symbols.size == 0 or not np.issubdtype(symbols.dtype, np.integer):
        _refuse(
            where, "symbols", "a non-empty 1-D integer array", f"{symbols.dtype} {symbols.shape}"
        )
    if symbols.min() < 0 or symbols.max() >= levels:
        _refuse(where, "symbols", f"in [0, {levels})", f"[{symbols.min()}, {symbols.max()}]")
    counts = np.bincount(symbols, minlength=levels).astype(np.int64)
    model = _model(counts)
    words = np.zeros(0, np.uint32)
    if model is not None:
        dense = np.cumsum(counts > 0) - 1  # the index of each used level among the used ones
        encoder = _constriction().queue.RangeEncoder()
        encoder.encode(dense[symbols].astype(np.int32), model)
        words = np.asarray(encoder.get_compressed(), np.uint32)
    d = symbols.size
    return Message(
        words,
        counts,
        32 * len(words),
        levels * codebook_bits,
        levels * math.ceil(math.log2(d + 1)),
    )


def decode(words: Any, counts: Any, d: int) -> np.ndarray:
    """The ``d`` symbols of a message from its ``words`` and ``counts`` (checked first)."""
    where = "decode"
    d = check_int(d, "d", 1, where=where)
    counts = np.asarray(counts)
    if counts.ndim != 1 or len(counts) < 2 or not np.issubdtype(counts.dtype, np.integer):
        raise ValueError(f"{where}: counts must be a 1-D integer array of at least 2 levels")
    if counts.min() < 0 or int(counts.sum()) != d:
        _refuse(where, "counts", f">= 0 and sum to d = {d}", f"sum {int(counts.sum())}")
    words = np.asarray(words)
    if words.dtype != np.uint32 or words.ndim != 1:
        _refuse(where, "words", "a 1-D uint32 array", f"{words.dtype} {words.shape}")
    used = np.flatnonzero(counts > 0)
    model = _model(counts)
    if model is None:
        return np.full(d, used[0], np.int64)
    dense = np.asarray(_constriction().queue.RangeDecoder(words).decode(model, d))
    symbols = used[dense].astype(np.int64)
    if not np.array_equal(np.bincount(symbols, minlength=len(counts)), counts):
        raise ValueError(f"{where}: the words do not decode to the counts (a corrupt message)")
    return symbols


def _refuse(where: str, name: str, what: str, got: object) -> None:
    raise ValueError(f"{where}: {name} must be {what}; got {got}")
