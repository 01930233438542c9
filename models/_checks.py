"""Validation of model hyperparameters and input shapes.

Shapes are static under `jax.jit`, so the input checks are safe inside traced code.
"""

from __future__ import annotations

import jax
import numpy as np


def check_int(name: str, value: int, *, minimum: int) -> None:
    """Raises TypeError unless `value` is an int, ValueError unless it is >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")


def check_images(x: jax.Array, model: str) -> None:
    """Raises ValueError unless `x` is a rank-4 (N, H, W, C) batch of images."""
    if x.ndim != 4:
        raise ValueError(f"{model} expects x of shape (N, H, W, C), got shape {x.shape}")


def check_batched(x: jax.Array, model: str) -> None:
    """Raises ValueError unless `x` has a batch axis and at least one feature axis."""
    if x.ndim < 2:
        raise ValueError(f"{model} expects x of shape (N, ...) with rank >= 2, got {x.shape}")
