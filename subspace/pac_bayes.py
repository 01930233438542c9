"""The PAC-Bayes bound on the error of a network sent as a message of a given length.

With a prior that gives a hypothesis h the mass 2^-|code(h)| over a prefix-free code and a
point-mass posterior on the one quantised network, KL(Q‖P) = (ℓ′ + b)·ln 2, where ℓ′ is the
message length in bits made prefix-free (``prefix_free_bits``) and b the bits that pay for
every choice made by looking at the data (:func:`choice_bits`). Then, with probability at
least 1 − δ over the n training examples (Catoni's bound, as Lotfi et al. 2022 compute it,
the free parameter γ optimised under a union bound over a geometric grid):

    err ≤ min over γ in [0, 4 + ln n] of Φ⁻¹_{e^γ/n}( ê + (1 + α)·e^{−γ}·(KL + ln(1/δ)
          + 2·ln(2 + γ / ln(1 + α))) ),    Φ⁻¹_a(q) = (1 − e^{−a·q}) / (1 − e^{−a}),

with ê the network's error on all n training examples and α = 1e-4. ``error_bound``
returns this, clipped to at most 1 (a bound above 1 says nothing).

Reference: S. Lotfi, M. Finzi, S. Kapoor, A. Potapczynski, M. Goldblum, A. G. Wilson,
"PAC-Bayes Compression Bounds So Tight That They Can Explain Generalization", NeurIPS 2022.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from subspace._checks import check_int, check_real

__all__ = ["choice_bits", "error_bound", "prefix_free_bits"]

ALPHA = 1e-4


def prefix_free_bits(bits: Any) -> float:
    """ℓ′ = ℓ + 2·log2 ℓ: a message of ℓ bits made prefix-free (ℓ ≥ 1)."""
    bits = check_real(bits, "bits", "prefix_free_bits", low=1.0, high=math.inf)
    return bits + 2.0 * math.log2(bits)


def choice_bits(*counts: Any) -> float:
    """b = Σ log2 K: the bits that pay for choosing one of K values of each hyper-parameter
    by looking at the data (the d values, levels, seeds, ... actually searched)."""
    total = 0.0
    for i, k in enumerate(counts):
        total += math.log2(check_int(k, f"counts[{i}]", 1, where="choice_bits"))
    return total


def error_bound(train_error: Any, kl_bits: Any, n: Any, delta: Any = 0.05) -> float:
    """The 1 − δ upper bound on the error of the quantised network (module docstring).

    Args:
      train_error: ê, its error on all ``n`` training examples, in [0, 1].
      kl_bits: ℓ′ + b, the prefix-free message length plus the choice bits (≥ 0).
      n: the number of training examples (≥ 1).
      delta: the probability that the bound fails, in (0, 1).

    Returns:
      The bound, a fraction in [ê, 1].
    """
    where = "error_bound"
    e = check_real(train_error, "train_error", where, low=0.0, high=1.0)
    kl_bits = check_real(kl_bits, "kl_bits", where, low=0.0, high=math.inf)
    n = check_int(n, "n", 1, where=where)
    delta = check_real(delta, "delta", where, low=0.0, high=1.0, closed=False)
    kl = kl_bits * math.log(2.0)
    # A dense grid of γ, then a golden-section search in the best cell: the bound is smooth
    # and unimodal in γ on [0, 4 + ln n] where it matters, and this never leaves the range.
    top = 4.0 + math.log(n)
    grid = np.linspace(0.0, top, 4097)
    values = _bound(grid, e, kl, n, delta)
    i = int(np.argmin(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if _bound(np.array([a]), e, kl, n, delta)[0] <= _bound(np.array([b]), e, kl, n, delta)[0]:
            hi = b
        else:
            lo = a
    best = min(float(values[i]), float(_bound(np.array([(lo + hi) / 2]), e, kl, n, delta)[0]))
    return float(min(max(best, e), 1.0))


def _bound(gamma: np.ndarray, e: float, kl: float, n: int, delta: float) -> np.ndarray:
    exp_g = np.exp(gamma)
    union = 2.0 * np.log(2.0 + gamma / math.log1p(ALPHA))
    q = e + (1.0 + ALPHA) / exp_g * (kl + math.log(1.0 / delta) + union)
    a = exp_g / n
    with np.errstate(over="ignore", invalid="ignore"):
        value = np.expm1(-a * q) / np.expm1(-a)
    return np.where(np.isfinite(value), value, np.inf)
