"""A projection whose columns are given, not drawn: the lottery subspace of Larsen et al.
(2022), P = the top principal directions of a training trajectory (:mod:`subspace.lottery`)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from subspace._checks import as_int
from subspace.projections.base import Projection, check_dims, check_dtype, check_z
from subspace.projections.linear import linear_map

__all__ = ["LotteryState", "lottery"]


class LotteryState(NamedTuple):
    """The stored columns: U of shape (D, W); P is its first d columns."""

    U: jax.Array


def lottery(
    D: int,  # noqa: N803 -- the paper's symbol
    d: int,
    *,
    width: int | None = None,
    dtype: DTypeLike = jnp.float32,
) -> Projection:
    """P z = U[:, :d] z with U (D × W) given: the state is stored, never drawn from a key.

    ``init(key)`` refuses (there is nothing to draw): compute U with
    :func:`subspace.lottery.principal_directions` and pass it to
    ``subspace.wrap(..., projection="lottery", state=LotteryState(U))``. Derivatives as for
    every projection (:func:`subspace.projections.linear.linear_map`): forward mode runs
    U z, reverse mode Uᵀ g. A compressed file of a lottery subspace stores U's d columns
    (its size counts them).

    Args:
      D: number of parameters.
      d: subspace dimension, 1 <= d <= W.
      width: W, the number of columns of the stored U (default d).
      dtype: the dtype of U, z and the output.
    """
    D, d = check_dims(D, d)  # noqa: N806
    dtype = check_dtype(dtype)
    W = d if width is None else as_int(width, "width")  # noqa: N806
    if not d <= W <= D:
        raise ValueError(f"lottery: width must be an integer in [d = {d}, D = {D}]; got {W}")
    highest = jax.lax.Precision.HIGHEST

    def init(key: jax.Array) -> LotteryState:
        del key
        raise ValueError(
            "lottery: P is not drawn from a key; it is the top principal directions of a "
            "training trajectory: pass state=LotteryState(U) (subspace.lottery."
            "principal_directions) to subspace.wrap"
        )

    def forward(state: LotteryState, z: jax.Array) -> jax.Array:
        return jnp.matmul(state.U[:, :d], z, precision=highest)

    def transpose(state: LotteryState, g: jax.Array) -> jax.Array:
        # gᵀU, not Uᵀg: the same numbers, and XLA's CPU matrix-vector product is about 6x
        # faster this way round on a tall U (199,210 x 200: 28 against 161 ms).
        return jnp.matmul(g, state.U[:, :d], precision=highest)

    project = linear_map(forward, transpose)

    def apply(state: LotteryState, z: jax.Array) -> jax.Array:
        check_z(z, d, dtype, "lottery.apply")
        return project(state, z)

    return Projection(init, jax.jit(apply))


def check_state(state: object, D: int, W: int, dtype: object, where: str) -> LotteryState:  # noqa: N803
    """``state`` if it is a LotteryState whose U is ``dtype`` (D, W) and finite."""
    import numpy as np

    U = getattr(state, "U", None)  # noqa: N806
    if not isinstance(state, LotteryState) or U is None:
        raise TypeError(f"{where}: state must be a LotteryState(U); got {type(state).__name__}")
    if tuple(np.shape(U)) != (D, W) or jnp.result_type(U) != dtype:
        raise ValueError(
            f"{where}: the lottery state's U must be {np.dtype(dtype)}({D}, {W}) (D, the "
            f"columns); got {jnp.result_type(U)}{tuple(np.shape(U))}"
        )
    if not isinstance(U, jax.core.Tracer) and not bool(np.isfinite(np.asarray(U)).all()):
        raise ValueError(f"{where}: the lottery state's U is not finite")
    return state
