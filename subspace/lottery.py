"""Lottery subspaces (Larsen et al., ICLR 2022): P spanned by the top principal directions
of a full-parameter training trajectory instead of drawn at random.

:func:`trajectory` trains a seed's full parameters with the baseline's trainer
(:func:`subspace.make_baseline`, the minibatch order of :func:`subspace.train_group`) and
records the displacement θ_t − θ_{t−k} every k steps, as Larsen et al.'s released code does;
:func:`principal_directions` gives the top W left singular vectors of those displacements
(a D × W matrix with orthonormal columns); ``subspace.wrap(params, d, projection=
"lottery", state=LotteryState(U), width=W)`` is then the subspace θ0 + U[:, :d] z, with θ0
the same seed's initialisation (the trajectory's start). The lottery subspace is the
"optimal" end of the random-versus-trained comparison: a random subspace of the same d
reaches less. A compressed file of a lottery subspace stores U's d columns.

Reference: B. W. Larsen, S. Fort, N. Becker, S. Ganguli, "How many degrees of freedom do we
need to train deep networks: a loss landscape perspective", ICLR 2022.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from subspace import _interrupt
from subspace._checks import check_int
from subspace.data import Data, check_data, step_indices
from subspace.flatten import ravel
from subspace.projections.lottery import LotteryState
from subspace.task import Task, check_task

__all__ = ["LotteryState", "principal_directions", "trajectory"]


def trajectory(
    task: Task,
    optimizer: Any,
    *,
    steps: int,
    every: int,
    data: Data,
    batch_size: int,
    seed: int = 0,
    shuffle_seed: int = 0,
) -> np.ndarray:
    """The displacements θ_{ik} − θ_{(i−1)k}, i = 1 .. steps // k, of seed ``seed``'s
    full-parameter training (k = ``every``), shape (steps // k, D), float32.

    Args:
      task: the model and objective; θ_0 is its initialisation for ``seed`` (the member
        keys of :func:`subspace.sweep.member_keys`, as a measurement draws them).
      optimizer: an optax transformation of the full parameters (the baseline's).
      steps: training steps, a multiple of ``every`` (at least ``every``).
      every: steps between recorded displacements.
      data: the training data; batch_size, shuffle_seed: the minibatch order.
      seed: the member seed whose initialisation and training key are used.
    """
    from subspace.sweep import make_baseline

    where = "trajectory"
    check_task(task, where)
    every = check_int(every, "every", 1, where=where)
    steps = check_int(steps, "steps", every, where=where)
    if steps % every:
        raise ValueError(f"{where}: steps must be a multiple of every = {every}; got {steps}")
    check_data(data, batch_size, where)
    sweep = make_baseline(task, optimizer)
    state = sweep.init(np.array([sweep.width]), np.array([seed]))

    @jax.jit
    def advance(state, xs, ys):
        def body(s, batch):
            return sweep.update(s, batch)[0], None

        return jax.lax.scan(body, state, (xs, ys))[0]

    def flat(state) -> np.ndarray:
        return np.asarray(ravel(jax.tree_util.tree_map(lambda a: a[0], state.train.z))[0])

    rows = step_indices(len(data.train_x), batch_size, steps, shuffle_seed)
    before, out = flat(state), []
    for i in range(steps // every):
        if _interrupt.requested():  # Ctrl-C inside measure: stop at this record
            raise _interrupt.Interrupted(
                f"interrupted while recording seed {seed}'s trajectory (step {i * every} of "
                f"{steps}); its basis is not kept"
            )
        chunk = rows[i * every : (i + 1) * every]
        state = advance(state, data.train_x[chunk], data.train_y[chunk])
        now = flat(state)
        out.append(now - before)
        before = now
    moves = np.stack(out).astype(np.float32)
    if not np.isfinite(moves).all():
        raise ValueError(f"{where}: the training diverged; no directions")
    return moves


def principal_directions(displacements: Any, width: int) -> np.ndarray:
    """The top ``width`` principal directions of the rows of ``displacements`` (n, D): the
    left singular vectors of its transpose (uncentred, as Larsen et al. take them), as a
    (D, width) float32 matrix with orthonormal columns, the strongest first.

    Computed from the n × n Gram matrix in float64 (n is small: a trajectory's records).
    A trajectory of fewer than ``width`` displacements, or one that spans fewer directions,
    is refused: each column of P must be a direction the training took.
    """
    where = "principal_directions"
    moves = np.asarray(displacements, np.float64)
    if moves.ndim != 2 or not np.isfinite(moves).all():
        raise ValueError(f"{where}: displacements must be a finite (n, D) array; got {moves.shape}")
    n, D = moves.shape  # noqa: N806
    width = check_int(width, "width", 1, where=where, maximum=D)
    if n < width:
        raise ValueError(
            f"{where}: a trajectory of {n} displacements spans at most {n} directions; "
            f"width (the largest d) is {width}: record more (steps >= width x every)"
        )
    values, vectors = np.linalg.eigh(moves @ moves.T)
    order = np.argsort(values)[::-1][:width]
    values, vectors = values[order], vectors[:, order]
    if values[-1] <= 1e-10 * values[0]:
        rank = int(np.sum(values > 1e-10 * values[0]))
        raise ValueError(f"{where}: the trajectory spans only {rank} directions; width is {width}")
    U = (moves.T @ vectors) / np.sqrt(values)  # noqa: N806
    return U.astype(np.float32)
