"""Memory of the projections: bytes of P's state per parameter, from shapes alone.

The state of ``proj.init(key)`` is measured with ``jax.eval_shape``, so nothing is
allocated and a dense P too large to build is still measured (its ``max_bytes`` check
is lifted here). θ0 (D numbers in the parameters' dtype) is counted apart.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from experiments.benchmark.steps import projection_options
from subspace.projections import PROJECTIONS

__all__ = ["state_bytes", "state_records"]


def state_bytes(D: int, d: int, projection: str) -> int:  # noqa: N803 -- the paper's symbol
    """Bytes of the float32 state of ``projection`` for a D×d P."""
    name, options = projection_options(projection, D)
    if name == "dense":
        options["max_bytes"] = math.inf
    proj = PROJECTIONS[name](D, d, dtype=jnp.float32, **options)
    shapes = jax.eval_shape(proj.init, jax.random.key(0))
    return sum(math.prod(s.shape) * s.dtype.itemsize for s in jax.tree_util.tree_leaves(shapes))


def state_records(
    nets: list[tuple[str, int, tuple[int, ...]]], projections: tuple[str, ...]
) -> list[dict]:
    """One record per (net, projection, d) for ``nets`` given as (name, D, dims); every
    projection at every d."""
    records = []
    for name, D, dims in nets:  # noqa: N806
        for projection in projections:
            for d in (d for d in dims if d <= D):
                nbytes = state_bytes(D, d, projection)
                records.append(
                    {
                        "model": name,
                        "D": D,
                        "projection": projection,
                        "d": d,
                        "state_bytes": nbytes,
                        "bytes_per_parameter": nbytes / D,
                        "theta0_bytes_per_parameter": 4.0,
                    }
                )
    return records
