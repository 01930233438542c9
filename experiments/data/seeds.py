"""Validation of the integer seeds that drive the numpy-side randomness of the data."""

from __future__ import annotations

import numpy as np


def check_seed(seed: int, argname: str = "seed") -> int:
    """Returns `seed` as an int if it is a non-negative integer.

    Args:
      seed: the value to check.
      argname: the argument's name, for the error message.

    Raises:
      TypeError: not an integer (bools are refused too).
      ValueError: negative.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{argname} must be a non-negative int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{argname} must be a non-negative int, got {seed}")
    return int(seed)
