"""The drop-in: any parameter pytree becomes θ(z) = θ0 + P z with only z trained."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subspace._checks import check_bool
from subspace.flatten import Unravel, ravel
from subspace.projections import PROJECTIONS, STORED, Projection
from subspace.projections.base import check_dims, check_key, check_z
from subspace.projections.lottery import check_state

__all__ = ["Subspace", "wrap"]


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["theta0", "state"],
    meta_fields=["unravel", "kind", "d", "options", "said"],
)
@dataclasses.dataclass(frozen=True)
class Subspace:
    """A random d-dimensional affine subspace θ0 + span(P) of a model's parameter space.

    A pytree: ``theta0`` (the flat initial parameters, shape (D,)) and ``state`` (what
    defines P) are its leaves; the structure (``unravel``), the projection ``kind``, ``d``
    and the projection's ``options`` are static. So a ``Subspace`` can be passed through
    ``jax.jit`` and built under ``jax.vmap`` over keys (one subspace per key).

    Attributes:
      theta0: flat θ0, shape (D,), in the promoted dtype of the parameters.
      state: the projection's state (e.g. ``FastfoodState``).
      unravel: maps a flat θ back to the parameter pytree (see :func:`subspace.flatten.ravel`).
      kind: "dense", "sparse", "fastfood" or "kronqr".
      d: subspace dimension.
      options: the projection's keyword options, as sorted (name, value) pairs.
      said: SAID's per-tensor scales (Aghajanyan et al., 2021): the first ``m`` coordinates
        of z (m = the number of parameter tensors) are scales, θ_l = θ0_l + (1 + z_l)·(P
        z_{m:})_l, and P has d − m columns; see :func:`wrap`.
    """

    theta0: jax.Array
    state: Any
    unravel: Unravel
    kind: str
    d: int
    options: tuple[tuple[str, Any], ...] = ()
    said: bool = False

    @property
    def m(self) -> int:
        """The number of SAID scales in z (one per parameter tensor; 0 without SAID)."""
        return len(self.unravel.leaves) if self.said else 0

    @property
    def D(self) -> int:  # noqa: N802 -- the paper's symbol
        """Number of parameters of the model."""
        return self.unravel.D

    @property
    def dtype(self) -> np.dtype:
        """dtype of z and of P z: the parameters' dtype, at least float32."""
        return _z_dtype(self.unravel.dtype)

    @property
    def projection(self) -> Projection:
        """The :class:`Projection` whose state is ``self.state``."""
        return _projection(self.kind, self.D, self.d - self.m, self.dtype, self.options)

    def zeros(self) -> jax.Array:
        """The starting point z = 0, shape (d,), dtype ``self.dtype``."""
        return jnp.zeros(self.d, self.dtype)

    def delta(self, z: jax.Array) -> jax.Array:
        """P z, shape (D,); with SAID, each tensor's part of P z_{m:} times 1 + z_l."""
        check_z(z, self.d, self.dtype, "Subspace")
        if not self.said:
            return self.projection.apply(self.state, z)
        m = self.m
        delta = self.projection.apply(self.state, z[m:])
        # Each tensor's slice times its scale: static slices, no D-long index array (whose
        # construction XLA would constant-fold at every compilation).
        parts, offset = [], 0
        for i, leaf in enumerate(self.unravel.leaves):
            parts.append(delta[offset : offset + leaf.size] * (1 + z[i]))
            offset += leaf.size
        return jnp.concatenate(parts)

    def flat(self, z: jax.Array) -> jax.Array:
        """θ0 + P z as a flat vector of shape (D,), in the parameters' promoted dtype."""
        theta = self.theta0.astype(self.dtype) + self.delta(z)
        return theta.astype(self.unravel.dtype)

    def params(self, z: jax.Array) -> Any:
        """θ0 + P z as a pytree of the same structure and leaf dtypes as the wrapped params."""
        return self.unravel(self.flat(z))


def wrap(
    params: Any,
    d: int,
    *,
    projection: str = "fastfood",
    key: jax.Array | None = None,
    said: bool = False,
    state: Any = None,
    **options: Any,
) -> Subspace:
    """Wraps a parameter pytree into a random d-dimensional subspace around it.

    The given ``params`` are θ0. Train only z (start at ``subspace.zeros()``) and call the
    model with ``subspace.params(z)`` = θ0 + P z.

    * linen: wrap ``variables["params"]``; other collections (``batch_stats``) stay outside
      the subspace and keep being updated by the model (``mutable=["batch_stats"]``), as in
      the original code. The whole ``variables`` dict is refused (see below).
    * NNX: ``graphdef, params, rest = nnx.split(model, nnx.Param, ...)``, wrap ``params``,
      and rebuild with ``nnx.merge(graphdef, subspace.params(z), rest)``.

    Args:
      params: pytree of float arrays, θ0.
      d: subspace dimension, 1 <= d <= D.
      projection: "fastfood" (default, O(D) memory), "kronqr" (O(√(D·d))), "sparse" or
        "dense".
      key: PRNG key that draws P.
      said: SAID's structure-aware subspace (Aghajanyan et al., 2021): one trainable
        scale λ_l per parameter tensor, θ_l = θ0_l + λ_l·(P z')_l, counted in d: z holds
        the m scales' offsets (λ = 1 + z_{:m}, so λ starts at 1 as in the public SAID
        implementations, and trains with z's optimiser and learning rate) and then
        z' = z_{m:}, d − m coordinates through a P of d − m columns. Needs at least two
        tensors and d > m.
      state: P's state when it is given, not drawn: ``projection="lottery"`` only (a
        :class:`subspace.lottery.LotteryState`, U of shape (D, width)); ``key`` is then
        not used.
      **options: keyword options of the projection (``max_bytes`` for dense, ``density``
        for sparse, ``block_size`` for fastfood). The dtype of P and z is the parameters'
        promoted dtype, at least float32.

    Returns:
      A :class:`Subspace`.

    Raises:
      TypeError: ``params`` is a linen ``variables`` dict (``"params"`` beside collections
        such as ``"batch_stats"``, or ``{"params": ...}`` alone): pass
        ``variables["params"]``. Also a bad key or option.
      ValueError: d out of [1, D], or an unknown projection.

    Example:
      >>> variables = model.init(init_key, x)
      >>> sub = subspace.wrap(variables["params"], 750, key=proj_key)
      >>> logits = model.apply({"params": sub.params(z)}, x)
    """
    check_options(projection, options, "wrap")
    if (state is not None) != (projection in STORED):
        raise TypeError(
            f"wrap: state= is given for projection {STORED} (a stored P) and for no other; "
            f"got projection {projection!r} with state {type(state).__name__}"
        )
    if state is None:
        check_key(key, "wrap")
    elif said:
        raise ValueError("wrap: said=True is for a drawn projection, not a stored one")
    _refuse_linen_variables(params, "wrap")
    check_bool(said, "said", where="wrap")
    theta0, unravel = ravel(params)
    _, d = check_dims(unravel.D, d)
    m = check_said(said, len(unravel.leaves), d, "wrap")
    opts = tuple(sorted(options.items()))
    proj = _projection(
        projection, unravel.D, d - m, _z_dtype(unravel.dtype), opts
    )  # validates the options, no work
    if state is None:
        state = proj.init(key)
    else:  # a given U: its shape and dtype are checked here, once
        width = dict(opts).get("width") or d - m
        state = check_state(state, unravel.D, width, _z_dtype(unravel.dtype), "wrap")
    return Subspace(theta0, state, unravel, projection, d, opts, said)


def check_said(said: bool, tensors: int, d: int, where: str) -> int:
    """m, the number of SAID scales (0 without SAID), once the model and d allow them."""
    if not said:
        return 0
    if tensors < 2:
        raise ValueError(
            f"{where}: said=True needs a model with at least 2 parameter tensors (one scale "
            f"per tensor; with {tensors} it is one global scale); got {tensors}"
        )
    if d <= tensors:
        raise ValueError(
            f"{where}: with said=True, d must be > m = {tensors} (the model's parameter "
            f"tensors, one scale each, counted in d); got d = {d}"
        )
    return tensors


def check_options(projection: Any, options: dict[str, Any], where: str) -> None:
    """Raises unless ``projection`` is a known kind and ``options`` are keyword options of
    it with hashable values (they are part of a ``Subspace``'s static description)."""
    if not isinstance(projection, str) or projection not in PROJECTIONS:
        raise ValueError(
            f"{where}: projection must be one of {sorted(PROJECTIONS)}; got {projection!r}"
        )
    if "dtype" in options:
        raise TypeError(f"{where}: dtype is not an option; z follows the parameters' dtype")
    signature = inspect.signature(PROJECTIONS[projection])
    allowed = sorted(
        name
        for name, p in signature.parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "dtype"
    )
    for name, value in options.items():
        if name not in allowed:
            raise TypeError(
                f"{where}: unexpected keyword option {name!r} for projection {projection!r}; "
                f"its options are {allowed}"
            )
        try:
            hash(value)
        except TypeError:
            raise TypeError(
                f"{where}: option {name} must be a number (hashable); got {value!r}"
            ) from None


# Collections flax.linen itself creates or documents besides "params" (BatchNorm's
# statistics, attention's decoding cache, sow's intermediates, perturb's perturbations,
# partitioning metadata), and "losses", the common sow target.
LINEN_COLLECTIONS = frozenset(
    {"batch_stats", "cache", "intermediates", "losses", "perturbations", "params_axes"}
)


def _refuse_linen_variables(params: Any, where: str) -> None:
    """Refuses a linen ``variables`` dict given where its ``["params"]`` belongs.

    Wrapping it would put the BatchNorm statistics into θ (moved by P z, never updated
    as statistics) and give back a tree ``model.apply`` does not take as params. The
    heuristic: a dict (linen returns a dict, or a FrozenDict in older flax) with a
    top-level ``"params"`` that is itself a dict, and either no other key or another key
    that is a known linen collection name. A parameter tree whose top-level module is
    called "params" beside other modules ("Dense_0") is not refused, nor is an NNX
    ``State`` (``nnx.split``'s parameters; a module attribute may be called params).
    """
    frozen = getattr(sys.modules.get("flax.core.frozen_dict"), "FrozenDict", ())
    if not isinstance(params, dict) and not (frozen and isinstance(params, frozen)):
        return
    if "params" not in params or not isinstance(params["params"], Mapping):
        return
    others = sorted(str(k) for k in params if k != "params")
    if others and not LINEN_COLLECTIONS.intersection(others):
        return
    found = sorted(str(k) for k in params)
    raise TypeError(
        f"{where}: params looks like a linen variables dict (collections {found}); pass "
        'variables["params"]: only the parameters are wrapped, and the other collections '
        "(batch_stats, ...) stay outside the subspace, passed to model.apply beside "
        "{'params': subspace.params(z)} and updated by the model (mutable=['batch_stats'])"
    )


def _z_dtype(params_dtype: np.dtype) -> np.dtype:
    return np.dtype(jnp.promote_types(params_dtype, jnp.float32))


@functools.lru_cache(maxsize=256)
def _projection(kind: str, D: int, d: int, dtype: np.dtype, options: tuple) -> Projection:  # noqa: N803
    # Cached so that every Subspace with the same static description shares one
    # Projection object, and a jitted caller sees the same functions (no retrace).
    return PROJECTIONS[kind](D, d, dtype=dtype, **dict(options))
