"""A linear map with a hand-written transpose that every JAX transformation accepts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["linear_map"]


def linear_map(
    forward: Callable[[Any, jax.Array], jax.Array],
    transpose: Callable[[Any, jax.Array], jax.Array],
) -> Callable[[Any, jax.Array], jax.Array]:
    """``apply(state, z) = forward(state, z) = P z``, differentiated as the linear map P.

    ``forward(state, z)`` computes P z (z of shape (d,), P z of shape (D,)) and
    ``transpose(state, g)`` computes Pᵀ g (shape (d,)); both must be linear in their second
    argument and use only plain JAX. The returned ``apply`` is evaluated by ``forward``,
    and its derivatives with respect to z are those of a linear map:

    * forward mode (``jvp``, ``jacfwd``, ``linearize``, any order): ż ↦ P ż, ``forward``
      again, so a Hessian or a forward-over-reverse HVP of a loss of P z works;
    * reverse mode (``grad``, ``vjp``, ``jacrev``, ``linear_transpose``): ḡ ↦ Pᵀ ḡ by the
      hand-written ``transpose`` (say a gather by Π⁻¹), never the transpose autodiff would
      derive from ``forward`` (the scatter that transposes a gather);
    * ``jit`` and ``vmap`` over z, over the state, or both, and any composition.

    The state is a constant of P: derivatives with respect to it are zero (it is passed
    through ``jax.lax.stop_gradient``; without it, a tangent of the state alone would reach
    ``custom_linear_solve``'s JVP rule, which fails on it), as a random projection is not
    trained.

    Mechanism: ``jax.lax.custom_linear_solve(matvec, b, solve, transpose_solve)`` returns
    x = solve(b) and differentiates it as x = A⁻¹ b with A = matvec: ẋ = solve(ḃ) in
    forward mode (matvec has no constants, so ∂A = 0) and x̄ ↦ transpose_solve(x̄) in
    reverse mode, with a batching rule for every operand. With n = max(d, D), A = I_n,
    b = [z; 0] ∈ R^n, solve(b) = [P b_{:d}; 0] and transpose_solve(g) = [Pᵀ g_{:D}; 0],
    the first D entries of x are P z with derivatives P and Pᵀ as above. The identity
    matvec is never evaluated and solve is not its inverse: JAX uses neither, and the
    tests pin the behaviour. The padding of z to length n (and the slice of the gradient
    back to d) costs nothing once compiled, as XLA simplifies slice(pad(z)) back to z:
    the MNIST FC training step with Fastfood compiles to the same program as with a
    ``jax.custom_vjp`` (``experiments/benchmark/autodiff.py`` checks this).
    (``jax.custom_vjp`` has no forward mode; ``jax.custom_derivatives.linear_call`` has
    no batching rule; a ``custom_jvp`` whose tangent is a ``custom_vjp`` function cannot be
    transposed; JAX 0.10 has no public ``custom_transpose``.)

    Args:
      forward: ``(state, z) -> P z``, z of shape (d,), result of shape (D,).
      transpose: ``(state, g) -> Pᵀ g``, g of shape (D,), result of shape (d,).

    Returns:
      ``apply(state, z) -> P z``, jittable, vmappable and differentiable in every mode.

    Example:
      >>> perm = jnp.array([2, 0, 1])              # P z = z[perm], a permutation
      >>> apply = linear_map(lambda p, z: z[p], lambda p, g: g[jnp.argsort(p)])
      >>> jax.jvp(lambda z: apply(perm, z), (z,), (v,))  # (z[perm], v[perm])
    """
    for name, fn in (("forward", forward), ("transpose", transpose)):
        if not callable(fn):
            raise TypeError(
                f"linear_map: {name} must be callable as {name}(state, vector); got {fn!r}"
            )

    def apply(state: Any, z: jax.Array) -> jax.Array:
        state = jax.lax.stop_gradient(state)
        if z.ndim != 1:
            raise ValueError(f"linear_map: z must be a vector of shape (d,); got {z.shape}")
        d = z.shape[0]
        out = jax.eval_shape(forward, state, z)
        if out.ndim != 1 or out.dtype != z.dtype:
            raise ValueError(
                f"linear_map: forward must return a vector of z's dtype {z.dtype}; "
                f"got {out.dtype}{tuple(out.shape)}"
            )
        D = out.shape[0]  # noqa: N806 -- the paper's symbol
        back = jax.eval_shape(transpose, state, jnp.zeros(D, z.dtype))
        if back.shape != (d,) or back.dtype != z.dtype:
            raise ValueError(
                f"linear_map: transpose must return z's shape ({d},) and dtype {z.dtype}; "
                f"got {back.dtype}{tuple(back.shape)}"
            )
        n = max(d, D)

        def solve(_, b: jax.Array) -> jax.Array:
            return _pad(forward(state, b[:d]), n)

        def transpose_solve(_, g: jax.Array) -> jax.Array:
            return _pad(transpose(state, g[:D]), n)

        x = jax.lax.custom_linear_solve(_identity, _pad(z, n), solve, transpose_solve)
        return x[:D]

    return apply


def _identity(x: jax.Array) -> jax.Array:
    return x


def _pad(x: jax.Array, n: int) -> jax.Array:
    return x if x.shape[0] == n else jnp.pad(x, (0, n - x.shape[0]))
