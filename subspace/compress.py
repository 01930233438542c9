"""A trained subspace model as a few kilobytes: (projection, key, d, D, model, z).

θ = θ0 + P z, and both θ0 and P are drawn from keys, so "the trained network is fully
described by (seed, architecture, z)" (Li et al., 2018, §2): d numbers instead of D.
:func:`save_compressed` writes that description; :func:`load_compressed` redraws P from the
stored key, takes θ0 from the caller (``theta0=`` the initial parameters, or ``init=`` a
function of the stored θ0 key) or from the file, and checks that the rebuilt model is
bitwise the one that was saved. The collections a model keeps outside θ (BatchNorm
statistics, NNX RNG counts) are not trained through z; ``model_state=`` stores them too,
and they come back bitwise in ``CompressedModel.model_state``.

This module is the API. The file format (one ``.npz``, nothing in it ever unpickled) and
its limits against hostile files are specified in :mod:`subspace._compress_header`, which
writes and checks the header; :mod:`subspace._npz` reads the zip and its ``.npy`` arrays;
:mod:`subspace._compress_json` parses the header's JSON strictly;
:mod:`subspace._compress_projection` holds P's options, its size and files of version 0.1;
:mod:`subspace._compress_theta0` θ0's source and bits; :mod:`subspace._model_state` the
model state and the leaf tables; :mod:`subspace._keys` encodes PRNG keys as JSON;
:mod:`subspace._io` writes atomically.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from subspace import _compress_quantised, _keys
from subspace._compress_header import (  # noqa: F401 -- the format's constants, read here too
    FORMAT,
    FORMAT_VERSION,
    MAX_HEADER_BYTES,
    MAX_HEADER_DEPTH,
    check_members,
    header_bytes,
    new_header,
    read_header,
)
from subspace._compress_json import json_copy
from subspace._compress_projection import (
    check_max_state_bytes,
    check_options,
    json_option,
    saved_state,
    wrap_options,
)
from subspace._compress_theta0 import theta0_field, theta0_params, to_disk
from subspace._io import atomic_write_bytes
from subspace._model_state import (
    check_leaves,
    check_state_template,
    leaf_table,
    read_state,
    state_to_bytes,
    state_to_save,
)
from subspace._model_state import sha256 as _sha256
from subspace._npz import archive, npy_data
from subspace.projections import PROJECTIONS, STORED
from subspace.projections.base import check_key, check_z
from subspace.projections.lottery import LotteryState
from subspace.wrap import Subspace, wrap

__all__ = [
    "CompressedModel",
    "SizeReport",
    "compressed_header",
    "load_compressed",
    "save_compressed",
    "size_report",
]

DEFAULT_MAX_STATE_BYTES = 1 << 30  # P's state, estimated from the header


# Why a rebuilt θ0, P or θ can differ from the saved one, for the refusal's message.
_MISMATCH = {
    "theta0": "θ0 is not the one z was trained around (wrong init, seed or weights)",
    "P": "P was drawn differently (another library version, or another backend's random numbers)",
    "theta": "θ0 + P z rounds differently here (saved on another backend?)",
}


@dataclasses.dataclass(frozen=True)
class CompressedModel:
    """A model rebuilt from its compressed description.

    Attributes:
      subspace: the :class:`Subspace` (θ0 and P), as ``wrap`` built it when saving.
      z: the trained coordinates, shape (d,), dtype ``subspace.dtype``.
      params: θ0 + P z as the parameter pytree (``subspace.params(z)``).
      key: the key that drew P, typed or raw as it was saved.
      header: the file's JSON header (``header["model"]``, ``header["extra"]``, ...).
      model_state: the collections saved with ``model_state=`` (e.g. ``{"batch_stats":
        ...}``), in the structure of ``load_compressed``'s ``model_state_like``, bitwise;
        None for a file saved without them.
    """

    subspace: Subspace
    z: jax.Array
    params: Any
    key: jax.Array
    header: dict
    model_state: Any = None


class SizeReport(NamedTuple):
    """Bytes of a compressed file against bytes of the D full parameters."""

    file_bytes: int
    full_bytes: int  # D * itemsize of ``dtype``
    D: int
    d: int
    dtype: str

    @property
    def ratio(self) -> float:
        """full_bytes / file_bytes: how many times smaller the file is."""
        return self.full_bytes / self.file_bytes

    def __str__(self) -> str:
        ratio = f"{self.ratio:,.0f}" if self.ratio >= 10 else f"{self.ratio:.2f}"
        return (
            f"{self.file_bytes:,} bytes (d = {self.d:,}) against {self.full_bytes:,} bytes of "
            f"D = {self.D:,} {self.dtype} parameters: {ratio}x smaller"
        )


def save_compressed(
    path: str | os.PathLike,
    subspace: Subspace,
    z: jax.Array,
    *,
    key: jax.Array,
    theta0_key: jax.Array | None = None,
    theta0_seed: int | None = None,
    store_theta0: bool = False,
    model: dict | None = None,
    extra: dict | None = None,
    verify: bool = True,
    model_state: Any = None,
    codebook: Any = None,
) -> Path:
    """Writes a trained subspace model as its description (projection, key, d, D, model, z).

    θ = θ0 + P z: P is redrawn at load time from ``key``; θ0 is given back by the caller
    (its initial parameters, or ``init(theta0_key)``), or stored in the file if
    ``store_theta0`` (then the file holds D more numbers). The collections outside θ
    (BatchNorm statistics) are stored as they are with ``model_state``.

    Args:
      path: the file to write (``.npz`` recommended; written exactly there, atomically,
        with mode 0666 less the umask).
      subspace: a single :class:`Subspace` (θ0 of shape (D,), not a vmapped batch).
      z: the trained coordinates, shape (d,), dtype ``subspace.dtype``. A sweep member's
        padded z must be cut to its first d coordinates.
      key: the PRNG key that drew P (``jax.random.key(seed)`` or ``jax.random.PRNGKey``).
      theta0_key: the key θ0 was drawn with: ``load_compressed(init=...)`` calls
        ``init(theta0_key)``.
      theta0_seed: an integer in [-2^63, 2^64) recorded for an ``init`` that takes a seed;
        called with it when no ``theta0_key`` is stored.
      store_theta0: also store θ0 itself (D numbers), so the file loads without ``init``.
      model: JSON description of the architecture, e.g. ``{"config": "mnist_fc"}``.
      extra: any other JSON metadata (accuracy, steps, ...). ``model`` and ``extra``
        together must fit the 1 MiB header (:data:`MAX_HEADER_BYTES`), 64 levels deep.
      verify: check that ``key`` draws ``subspace``'s P before writing (one more draw).
      model_state: a pytree of arrays the model keeps outside θ, stored bitwise: linen's
        non-``params`` collections (``{"batch_stats": ...}``, as ``model.apply`` takes
        them), or NNX's non-Param state as a pure dict (``state.to_pure_dict()``). Leaves
        may be bool, (u)int8-64, float16, bfloat16, float32 or float64 (a PRNG key leaf:
        store ``jax.random.key_data`` of it). ``load_compressed(...,
        model_state_like=...)`` gives it back.
      codebook: for a quantised z (every coordinate one of these L levels, a float16 or
        float32 array): the file stores the codebook and the range-coded symbols instead
        of z, the message a generalisation bound counts (:mod:`subspace.bounds`;
        ``pip install "subspace-intrinsic[bounds]"``); ``load_compressed`` decodes it.

    Returns:
      The path written.

    Raises:
      TypeError: wrong key, z dtype, ``model``/``extra``/options that are not JSON, or a
        ``model_state`` leaf that is not an array of one of those dtypes.
      ValueError: a batched subspace, z of the wrong shape, a key that does not draw P, or
        a header that :func:`load_compressed` would refuse (too large or deep, a seed or an
        option out of range).

    Example:
      >>> sub = subspace.wrap(params, 300, projection="fastfood", key=proj_key)
      >>> subspace.save_compressed("mnist_fc.npz", sub, z, key=proj_key,
      ...                          theta0_key=init_key, model={"config": "mnist_fc"})
    """
    where = "save_compressed"
    path = _check_path(path, where)
    if not isinstance(subspace, Subspace):
        raise TypeError(f"{where}: subspace must be a Subspace; got {type(subspace).__name__}")
    if jnp.shape(subspace.theta0) != (subspace.D,):
        raise ValueError(
            f"{where}: subspace must be a single subspace with θ0 of shape ({subspace.D},); "
            f"got θ0 of shape {jnp.shape(subspace.theta0)} (a vmapped batch? save one member, "
            "e.g. rebuilt with subspace.sweep.member_subspace)"
        )
    check_z(z, subspace.d, subspace.dtype, where)
    check_key(key, where)
    model, extra = json_copy("model", model, where), json_copy("extra", extra, where)
    state_table, state_leaves = (None, None)
    if model_state is not None:
        state_table, state_leaves = state_to_save(model_state, where)
    options = {name: json_option(name, v, where) for name, v in subspace.options}
    stored = subspace.kind in STORED
    if stored:  # the file keeps the d columns the subspace uses
        subspace = _stored_columns(subspace)
        options = {"width": subspace.d}
    check_options(subspace.kind, options, subspace.D, subspace.d, where)
    if verify and not stored and _sha256(subspace.projection.init(key)) != _sha256(subspace.state):
        raise ValueError(
            f"{where}: key does not draw this subspace's P (its {subspace.kind} state differs "
            "from the one key gives); pass the key given to wrap"
        )
    z, theta0 = np.asarray(z), np.asarray(subspace.theta0)
    t0 = theta0_field(theta0.dtype, store_theta0, theta0_key, theta0_seed, where)
    sha = {
        "theta0": _sha256(theta0),
        "P": _sha256(subspace.state),
        "theta": _sha256(subspace.flat(jnp.asarray(z))),
    }
    if state_leaves is not None:
        sha["model_state"] = _sha256(state_leaves)
    quantised, z_arrays = None, {"z": z}
    if codebook is not None:
        quantised, z_arrays = _compress_quantised.to_arrays(z, codebook, where)
    header = new_header(subspace, z, key, options, t0, state_table, sha, model, extra, quantised)
    raw = header_bytes(header, where)
    arrays = {"header": np.frombuffer(raw, np.uint8), **z_arrays}
    if store_theta0:
        arrays["theta0"] = to_disk(theta0)
    if state_leaves is not None:
        arrays["model_state"] = state_to_bytes(state_leaves)
    if stored:
        arrays["projection_state"] = np.asarray(subspace.state.U)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def _stored_columns(subspace: Subspace) -> Subspace:
    """``subspace`` with its stored P cut to the d columns it uses (``width`` = d)."""
    state = LotteryState(subspace.state.U[:, : subspace.d])
    return dataclasses.replace(subspace, state=state, options=(("width", subspace.d),))


def load_compressed(
    path: str | os.PathLike,
    *,
    theta0: Any = None,
    init: Callable[[Any], Any] | None = None,
    params_like: Any = None,
    projection: str | None = None,
    verify: bool = True,
    max_state_bytes: float = DEFAULT_MAX_STATE_BYTES,
    model_state_like: Any = None,
) -> CompressedModel:
    """Rebuilds θ = θ0 + P z from a file written by :func:`save_compressed`.

    P is redrawn with ``wrap(theta0, d, projection=kind, key=key, **options)`` from the
    stored kind, options and key. θ0 comes from, in this order: ``theta0`` (the initial
    parameter pytree), ``init`` (called with the stored θ0 key, or with the stored seed if
    only a seed was saved), or the file itself if it was saved with ``store_theta0``
    (``params_like`` then gives the pytree structure; its leaves may be arrays or
    ``jax.ShapeDtypeStruct``, e.g. from ``jax.eval_shape``). A file saved with
    ``model_state`` needs ``model_state_like``, its structure, and gives it back in
    ``.model_state``.

    Nothing in the file is trusted to be small: the header is read first (at most 1 MiB)
    and checked field by field, D and the leaves are checked against the caller's model,
    the model state's leaves against ``model_state_like``, and P's state is sized from the
    header before anything is drawn or inflated (see :mod:`subspace._compress_header`).

    Args:
      path: a file written by :func:`save_compressed`.
      theta0: the model's initial parameters θ0 (a pytree of float arrays).
      init: ``init(key) -> params``, the model's initialiser (e.g.
        ``lambda k: model.init(k, x)["params"]``).
      params_like: the parameter pytree's structure, for a file that stores θ0.
      projection: if given, refuse a file whose projection kind differs.
      verify: refuse a rebuilt model whose θ0, P or θ is not bitwise the saved one
        (sha256). ``verify=False`` loads it anyway, e.g. a file saved on another backend
        whose random numbers or rounding of P z differ.
      max_state_bytes: refuse a file whose P would take more bytes than this (default
        :data:`DEFAULT_MAX_STATE_BYTES` = 1 GiB; fastfood takes about 9 bytes per
        parameter, dense 4·D·d). A dense file's own ``max_bytes`` is ignored: this limit
        is passed to ``wrap`` instead.
      model_state_like: the structure of the model state the file stores (a pytree of
        arrays or ``jax.ShapeDtypeStruct``, e.g. ``{"batch_stats":
        jax.eval_shape(model.init, key, x)["batch_stats"]}``); its leaves' names (paths),
        shapes and dtypes must be the file's. Required for a file with model state (it
        is refused without, before any of it is read), refused for a file without.
        Leaves of 64 bits come back as numpy arrays when ``jax_enable_x64`` is off (JAX
        would round them), the others as JAX arrays.

    Returns:
      A :class:`CompressedModel` with ``.subspace``, ``.z``, ``.params`` (θ0 + P z),
      ``.key``, ``.header`` and ``.model_state`` (None for a file without it).

    Raises:
      FileNotFoundError: no file at ``path``.
      ValueError: a corrupt, truncated, foreign or hostile file (a header field of the
        wrong type or out of range, an array or header larger than the header allows,
        unexpected or pickled arrays), another format version or projection, a model whose
        D or leaves (names, shapes, dtypes) differ from the file's, a P larger than
        ``max_state_bytes``, (``verify``) a θ0, P or θ that is not the saved one, model
        state without ``model_state_like`` or with another one, ``model_state_like`` for a
        file without model state, or model state whose sha256 is not the saved one.
      TypeError: both ``theta0`` and ``init``, a ``max_state_bytes`` that is no number,
        or a ``model_state_like`` leaf without a shape and dtype.

    Example:
      >>> m = subspace.load_compressed("mnist_fc.npz", init=lambda k: model.init(k, x)["params"])
      >>> logits = model.apply({"params": m.params}, x)
      >>> m = subspace.load_compressed("bn.npz", init=init, model_state_like={"batch_stats": bs})
      >>> logits = model.apply({"params": m.params, **m.model_state}, x, train=False)
    """
    where = "load_compressed"
    path = _check_path(path, where)
    if theta0 is not None and init is not None:
        raise TypeError(f"{where}: pass theta0 or init, not both")
    if init is not None and not callable(init):
        raise TypeError(f"{where}: init must be callable as init(key) -> params; got {init!r}")
    if projection is not None and projection not in PROJECTIONS:
        raise ValueError(
            f"{where}: projection must be None or one of {sorted(PROJECTIONS)}; got {projection!r}"
        )
    check_max_state_bytes(max_state_bytes, where)
    state_like = None if model_state_like is None else leaf_table(model_state_like, where)
    with archive(path, where) as zf:
        header = read_header(zf, path, where)
        kind = header["projection"]
        if projection is not None and projection != kind:
            raise ValueError(
                f"{where}: projection does not match: file has {kind!r}, expected {projection!r}"
            )
        members = check_members(zf, header, path, where)
        check_state_template(header, state_like, where)  # before any work on θ0
        draw_key, key = _keys.key_from_json(header["key"])
        params = theta0_params(zf, header, members, theta0, init, params_like, path, where)
        check_leaves(header, leaf_table(params), where)
        options = wrap_options(header, draw_key, max_state_bytes, path, where)
        if header["quantised"] is None:
            z = jnp.asarray(npy_data(zf, members["z"], path, where))
        else:
            z = jnp.asarray(_compress_quantised.read_z(zf, members, header, path, where))
        model_state = None
        if state_like is not None:  # its leaves match the header's: that many bytes
            model_state = read_state(zf, header, members, model_state_like, path, where)
        given = None  # P's state, for a projection that stores it (sized above)
        if kind in STORED:
            given = LotteryState(
                jnp.asarray(npy_data(zf, members["projection_state"], path, where))
            )

    if given is None:
        sub = wrap(
            params, header["d"], projection=kind, key=draw_key, said=header["said"], **options
        )
    else:
        sub = wrap(params, header["d"], projection=kind, state=given, **options)
    check_z(z, sub.d, sub.dtype, where)
    flat = sub.flat(z)
    if verify:
        state = saved_state(header, sub.state)
        for field, value in (("theta0", sub.theta0), ("P", state), ("theta", flat)):
            want, got = header["sha256"][field], _sha256(value)
            if got != want:
                raise ValueError(
                    f"{where}: sha256 of {field} does not match: file has {want[:16]}..., "
                    f"rebuilt has {got[:16]}...: {_MISMATCH[field]}. verify=False loads it anyway"
                )
    return CompressedModel(sub, z, sub.unravel(flat), key, header, model_state)


def compressed_header(path: str | os.PathLike) -> dict:
    """The JSON header of a file written by :func:`save_compressed`, checked, without θ.

    Reads only the header member (at most 1 MiB), so it is cheap whatever the file holds.
    Use it to find out which model to build before loading (``header["model"]``).
    """
    where = "compressed_header"
    path = _check_path(path, where)
    with archive(path, where) as zf:
        return read_header(zf, path, where)


def size_report(path: str | os.PathLike, *, dtype: Any = np.float32) -> SizeReport:
    """The size of a compressed file against the D full parameters stored as ``dtype``.

    Example:
      >>> print(subspace.compress.size_report("mnist_fc.npz"))
      2,131 bytes (d = 300) against 796,840 bytes of D = 199,210 float32 parameters: 374x smaller
    """
    _check_path(path, "size_report")
    try:
        dt = np.dtype(jnp.dtype(dtype))
    except TypeError:
        raise TypeError(
            f"size_report: dtype must be a numpy/JAX dtype (e.g. np.float32); got {dtype!r}"
        ) from None
    header = compressed_header(path)
    return SizeReport(
        file_bytes=os.path.getsize(path),
        full_bytes=header["D"] * dt.itemsize,
        D=header["D"],
        d=header["d"],
        dtype=dt.name,
    )


def _check_path(path: Any, where: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a str or os.PathLike; got {path!r}")
    return Path(path)
