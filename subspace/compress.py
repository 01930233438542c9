"""A trained subspace model as a few kilobytes: (projection, key, d, D, model, z).

θ = θ0 + P z, and both θ0 and P are drawn from keys, so "the trained network is fully
described by (seed, architecture, z)" (Li et al., 2018, §2): d numbers instead of D.
:func:`save_compressed` writes that description; :func:`load_compressed` redraws P from the
stored key, takes θ0 from the caller (``theta0=`` the initial parameters, or ``init=`` a
function of the stored θ0 key) or from the file, and checks that the rebuilt model is
bitwise the one that was saved. The collections a model keeps outside θ (BatchNorm
statistics, NNX RNG counts) are not trained through z; ``model_state=`` stores them too,
and they come back bitwise in ``CompressedModel.model_state``.

The modules: this one is the API; :mod:`subspace._compress_format` reads and checks the
file format; :mod:`subspace._keys` encodes PRNG keys as JSON; :mod:`subspace._io` writes
atomically.

File format (one ``.npz``, format version 1, written with ``np.savez_compressed``; read
member by member with ``zipfile`` and numpy's ``.npy`` header parser, in
:mod:`subspace._compress_format`; nothing in it is ever unpickled):

* ``header``: uint8 array, the UTF-8 bytes of a JSON object: ``format``,
  ``format_version``, ``library_version``, ``jax_version``, ``projection`` (the kind),
  ``options`` (the projection's keyword options, e.g. ``{"block_size": 512}``), ``D``,
  ``d``, ``z_dtype``, ``key`` (``{"impl", "data", "typed"}``: the PRNG implementation, the
  key's raw uint32 words from ``jax.random.key_data`` and whether it was a typed key),
  ``theta0`` (``{"source": "init" | "stored" | "caller", "key", "seed", "dtype"}``),
  ``leaves`` (``[name, shape, dtype]`` per leaf, from ``Subspace.unravel.leaves``),
  ``model_state`` (null, or ``{"leaves": [[name, shape, dtype], ...]}``, the names being
  ``jax.tree_util.keystr`` of each leaf's path), ``sha256`` (of θ0, of P's state, of
  θ = θ0 + P z and, with model state, of its leaves), ``model`` and ``extra`` (the
  caller's JSON).
* ``z``: shape (d,), dtype ``z_dtype`` (float32 or float64).
* ``theta0``: only with ``store_theta0=True``: the flat θ0, shape (D,); a dtype numpy has no
  native code for (bfloat16) is stored as its bits (uint16) and viewed back.
* ``model_state``: only with ``model_state=``: uint8, the bytes of its leaves one after the
  other in the order of the header's table, each little-endian (bfloat16 as its bits).
  Leaves may be bool, (u)int8-64, float16, bfloat16, float32 or float64.

Files without model state are unchanged from before it existed (still format version 1;
the header's ``model_state`` field is absent or null), so every version-1 file loads. A
reader older than model state refuses a file that has it (an unexpected array).

For d = 300 the file is about 2 KB whatever D is; with ``store_theta0`` it grows by D
numbers, with ``model_state`` by its bytes (a linen BatchNorm layer: 2 floats per
channel).

Writes are atomic (a temporary file in the same folder, then ``os.replace``) and give the
file the permissions of a normally created one (0644 under umask 022). What this adds to
``np.savez``/orbax: the description instead of the D numbers, and the refusals (wrong D,
leaves, version, projection, θ0 or key; corrupt, truncated, pickled or hostile files) as
``ValueError`` naming the field and both values.

Limits (a file is never trusted with one; each is checked before anything is allocated):

* The header array is at most :data:`MAX_HEADER_BYTES` = 1 MiB. A ResNet-20 header (59
  leaves) is 4.5 KB; 1 MiB holds about 15,000 leaves with names as long. JSON nests at most
  :data:`MAX_HEADER_DEPTH` = 64 levels. NaN and ±Infinity are refused in every field the
  loader reads (``model`` and ``extra`` are the caller's and may hold them).
* Every header field has its type and range checked: 1 <= d <= D <= 2^40, key words of
  the shape their PRNG implementation has, a θ0 seed in [-2^63, 2^64), and each projection
  option bounded (fastfood's ``block_size`` a power of two in [d, 2^ceil(log2 D)],
  sparse's ``density`` in (0, 1]; unknown options refused). Dense's ``max_bytes`` in a
  file is ignored: the loader's own limit applies.
* ``z`` and ``theta0`` are read only after their ``.npy`` headers declare shape (d,) and
  (D,) and the zip directory declares exactly that many bytes, and after D and the leaves
  match the caller's model: a zip bomb is refused before it inflates. Only stored and
  deflated members are read; duplicate members are refused. Shapes in the header have at
  most 64 dimensions.
* ``model_state`` is read only after its ``.npy`` header declares uint8 of exactly the
  bytes of the header's leaf table (each leaf at most 2^40 elements), the zip directory
  declares that many, and that table matches the caller's template ``model_state_like``
  leaf by leaf (names, shapes, dtypes): the caller's template bounds what is read. A file
  with model state and no template is refused before any of it is read.
* P's state is sized from the header (``jax.eval_shape``, nothing drawn) and refused above
  ``max_state_bytes`` (default :data:`DEFAULT_MAX_STATE_BYTES` = 1 GiB, the dense
  projection's own default limit, so any P that ``wrap`` builds by default loads by
  default).

So a file of under 1 MB costs at most a few tens of MB beyond the model it rebuilds (the
caller's θ0 and P's state): ``tests/test_compress_hostile.py`` measures it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import numbers
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from subspace import _compress_format as fmt
from subspace import _keys
from subspace._checks import as_int, is_key_dtype, is_typed_key
from subspace._compress_format import (  # noqa: F401 -- the format's constants, read here too
    FORMAT,
    FORMAT_VERSION,
    MAX_HEADER_BYTES,
    MAX_HEADER_DEPTH,
)
from subspace._io import atomic_write_bytes
from subspace.projections import PROJECTIONS
from subspace.projections.base import check_key, check_z
from subspace.projections.dense import DEFAULT_MAX_BYTES as DENSE_DEFAULT_MAX_BYTES
from subspace.projections.fastfood import LEGACY_01_OPTIONS, legacy_01_layout
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
_STATE_MISMATCH = (
    "the stored model state is not the one that was saved (the file was altered); "
    "checked whatever verify is: these bytes are read, not recomputed"
)


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
            "e.g. rebuilt with subspace.member_subspace)"
        )
    check_z(z, subspace.d, subspace.dtype, where)
    check_key(key, where)
    model, extra = _json_copy("model", model, where), _json_copy("extra", extra, where)
    state_table, state_leaves = (None, None)
    if model_state is not None:
        state_table, state_leaves = _state_leaves(model_state, where)
    options = {name: _json_option(name, v, where) for name, v in subspace.options}
    fmt.check_options(subspace.kind, options, subspace.D, subspace.d, where)
    if verify and _sha256(subspace.projection.init(key)) != _sha256(subspace.state):
        raise ValueError(
            f"{where}: key does not draw this subspace's P (its {subspace.kind} state differs "
            "from the one key gives); pass the key given to wrap"
        )
    if theta0_key is not None:
        check_key(theta0_key, f"{where} (theta0_key)")
    if theta0_seed is not None:
        theta0_seed = as_int(theta0_seed, "theta0_seed", where=where)
        _check_seed(theta0_seed, where)
    if store_theta0:
        source = "stored"
    elif theta0_key is not None or theta0_seed is not None:
        source = "init"
    else:
        source = "caller"

    from subspace import __version__  # at call time: subspace/__init__ imports this module

    z = np.asarray(z)
    theta0 = np.asarray(subspace.theta0)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "jax_version": jax.__version__,
        "projection": subspace.kind,
        "options": options,
        "D": subspace.D,
        "d": subspace.d,
        "z_dtype": z.dtype.name,
        "key": _keys.key_to_json(key),
        "theta0": {
            "source": source,
            "key": None if theta0_key is None else _keys.key_to_json(theta0_key),
            "seed": theta0_seed,
            "dtype": theta0.dtype.name,
        },
        "leaves": [
            [leaf.name, list(leaf.shape), np.dtype(leaf.dtype).name]
            for leaf in subspace.unravel.leaves
        ],
        "model_state": None if state_table is None else {"leaves": state_table},
        "sha256": {
            "theta0": _sha256(theta0),
            "P": _sha256(subspace.state),
            "theta": _sha256(subspace.flat(jnp.asarray(z))),
        },
        "model": model,
        "extra": extra,
    }
    if state_leaves is not None:
        header["sha256"]["model_state"] = _sha256(state_leaves)
    raw = fmt.header_bytes(header, where)
    arrays = {"header": np.frombuffer(raw, np.uint8), "z": z}
    if store_theta0:
        arrays["theta0"] = _to_disk(theta0)
    if state_leaves is not None:
        arrays["model_state"] = fmt.state_to_bytes(state_leaves)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


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
    header before anything is drawn or inflated (see the module docstring).

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
    _check_max_state_bytes(max_state_bytes, where)
    state_like = None if model_state_like is None else _leaf_table(model_state_like, where)
    with fmt.archive(path, where) as zf:
        header = fmt.read_header(zf, path, where)
        kind = header["projection"]
        if projection is not None and projection != kind:
            raise ValueError(
                f"{where}: projection does not match: file has {kind!r}, expected {projection!r}"
            )
        members = fmt.check_members(zf, header, path, where)
        _check_state_template(header, state_like, where)  # before any work on θ0
        draw_key, key = _keys.key_from_json(header["key"])
        params = _theta0_params(zf, header, members, theta0, init, params_like, path, where)
        _check_leaves(header, _leaf_table(params), where)
        options = _wrap_options(header, draw_key, max_state_bytes, path, where)
        z = jnp.asarray(fmt.npy_data(zf, members["z"], path, where))
        model_state = None
        if state_like is not None:  # its leaves match the header's: that many bytes
            raw = fmt.npy_data(zf, members["model_state"], path, where)
            leaves = fmt.state_from_bytes(raw, header["model_state"]["leaves"])
            want, got = header["sha256"]["model_state"], _sha256(leaves)
            if got != want:
                raise ValueError(
                    f"{where}: sha256 of model_state does not match: file has {want[:16]}..., "
                    f"read has {got[:16]}...: {_STATE_MISMATCH}"
                )
            treedef = jax.tree_util.tree_structure(model_state_like)
            model_state = jax.tree_util.tree_unflatten(treedef, [_to_jax(x) for x in leaves])

    sub = wrap(params, header["d"], projection=kind, key=draw_key, **options)
    check_z(z, sub.d, sub.dtype, where)
    flat = sub.flat(z)
    if verify:
        state = legacy_01_layout(sub.state) if _is_legacy_fastfood(header) else sub.state
        for field, value in (("theta0", sub.theta0), ("P", state), ("theta", flat)):
            want, got = header["sha256"][field], _sha256(value)
            if got != want:
                raise ValueError(
                    f"{where}: sha256 of {field} does not match: file has {want[:16]}..., "
                    f"rebuilt has {got[:16]}...: {_MISMATCH[field]}. verify=False loads it anyway"
                )
    return CompressedModel(sub, z, sub.unravel(flat), key, header, model_state)


def _theta0_params(
    zf: zipfile.ZipFile,
    header: dict,
    members: dict,
    theta0: Any,
    init: Callable[[Any], Any] | None,
    params_like: Any,
    path: Path,
    where: str,
) -> Any:
    """θ0 as a pytree: the caller's, ``init``'s, or the file's (after its leaves match)."""
    t0 = header["theta0"]
    source = t0["source"]
    if params_like is not None and (theta0 is not None or init is not None or source != "stored"):
        raise TypeError(
            f"{where}: params_like is only used for a file that stores θ0, without theta0/init"
        )
    if theta0 is not None:
        return theta0
    if init is not None:
        if t0["key"] is not None:
            return init(_keys.key_from_json(t0["key"])[1])
        if t0["seed"] is not None:
            return init(t0["seed"])
        raise ValueError(
            f"{where}: the file records no θ0 key or seed to call init with "
            f"(theta0.source = {source!r}); pass theta0= the initial parameters"
        )
    if source == "stored":
        if params_like is None:
            raise ValueError(
                f"{where}: the file stores θ0; pass params_like= the parameter pytree (or "
                "its jax.eval_shape) to give it its structure"
            )
        _check_leaves(header, _leaf_table(params_like), where)  # before reading D numbers
        flat = fmt.npy_data(zf, members["theta0"], path, where)
        return _unflatten(flat.view(fmt.as_dtype(t0["dtype"])), header, params_like)
    raise ValueError(
        f"{where}: θ0 is needed: pass theta0= the initial parameters or init= the "
        f"initialiser (the file's theta0.source is {source!r}, its model is "
        f"{header['model']!r})"
    )


def _is_legacy_fastfood(header: dict) -> bool:
    # Files from version 0.1.x: fastfood always used the butterfly transform and stored B
    # in the float dtype and the permutations as int32 (same values as now).
    return header["projection"] == "fastfood" and header["library_version"].startswith("0.1.")


def compressed_header(path: str | os.PathLike) -> dict:
    """The JSON header of a file written by :func:`save_compressed`, checked, without θ.

    Reads only the header member (at most 1 MiB), so it is cheap whatever the file holds.
    Use it to find out which model to build before loading (``header["model"]``).
    """
    where = "compressed_header"
    path = _check_path(path, where)
    with fmt.archive(path, where) as zf:
        return fmt.read_header(zf, path, where)


def size_report(path: str | os.PathLike, *, dtype: Any = np.float32) -> SizeReport:
    """The size of a compressed file against the D full parameters stored as ``dtype``.

    Example:
      >>> print(subspace.size_report("mnist_fc.npz"))
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


# ----------------------------------------------------------------------------- writing


def _check_path(path: Any, where: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a str or os.PathLike; got {path!r}")
    return Path(path)


def _sha256(tree: Any) -> str:
    h = hashlib.sha256()
    for x in jax.tree_util.tree_leaves(tree):
        x = np.ascontiguousarray(np.asarray(x))
        h.update(f"{x.dtype.name}{x.shape};".encode())
        h.update(x.tobytes())
    return h.hexdigest()


def _to_disk(theta0: np.ndarray) -> np.ndarray:
    return theta0.view(fmt.disk_dtype(theta0.dtype))


def _check_seed(seed: int, where: str) -> None:
    lo, hi = fmt.SEED_RANGE
    if not lo <= seed < hi:
        raise ValueError(f"{where}: theta0_seed must be an integer in [-2^63, 2^64); got {seed}")


def _json_option(name: str, value: Any, where: str) -> Any:
    # Options go back to wrap as keywords: keep them exactly (ints as ints, floats as
    # floats, which JSON round-trips bit for bit via repr).
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    raise TypeError(
        f"{where}: projection option {name}={value!r} cannot be stored "
        "(expected an int, float, str, bool or None)"
    )


def _json_copy(name: str, value: Any, where: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: {name} must be JSON-serialisable; {e}") from None


# ----------------------------------------------------------------------------- P's size


def _check_max_state_bytes(value: Any, where: str) -> None:
    message = f"{where}: max_state_bytes must be a number of bytes > 0; got {value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(message)
    if not value > 0:
        raise ValueError(message)


def _wrap_options(header: dict, key: jax.Array, limit: float, path: Path, where: str) -> dict:
    """The options to draw P with, once P's state is sized and within ``limit``."""
    kind, D, d = header["projection"], header["D"], header["d"]  # noqa: N806
    options = dict(header["options"])
    file_max_bytes = options.pop("max_bytes", None)  # dense: never trust a limit from the file
    if _is_legacy_fastfood(header):
        options = {**LEGACY_01_OPTIONS, **options}
    nbytes = _state_bytes(header, options, key)
    if nbytes > limit:
        note = ""
        if "max_bytes" in header["options"]:
            note = f"; the file's options.max_bytes ({file_max_bytes!r}) is not trusted"
        raise fmt.FileError(
            f"{where}: {path}: P's {kind} state would take {nbytes:,} bytes (D = {D:,}, "
            f"d = {d:,}) > max_state_bytes = {limit:,}{note}; pass "
            "load_compressed(..., max_state_bytes=...) to allow it"
        )
    if kind == "dense" and ("max_bytes" in header["options"] or nbytes > DENSE_DEFAULT_MAX_BYTES):
        options["max_bytes"] = limit
    return options


def _state_bytes(header: dict, options: dict, key: jax.Array) -> int:
    """Bytes of P's state, from its shapes alone: the factory and eval_shape draw nothing."""
    kind, dtype = header["projection"], np.dtype(header["z_dtype"])
    if kind == "dense":
        options = {**options, "max_bytes": math.inf}  # sized here against the loader's limit
    proj = PROJECTIONS[kind](header["D"], header["d"], dtype=dtype, **options)
    shapes = jax.tree_util.tree_leaves(jax.eval_shape(proj.init, key))
    return sum(math.prod(s.shape) * np.dtype(s.dtype).itemsize for s in shapes)


# ----------------------------------------------------------------------------- the model


def _leaf_table(tree: Any, where: str | None = None) -> list[tuple[str, tuple[int, ...], str]]:
    # Like flatten.ravel's table, but also for jax.ShapeDtypeStruct leaves (params_like).
    # With ``where`` (a model_state_like template), every leaf must have a shape and dtype.
    table = []
    for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = jax.tree_util.keystr(path)
        if where is not None and not (hasattr(x, "shape") and hasattr(x, "dtype")):
            raise TypeError(
                f"{where}: model_state_like: leaf {name} must be an array or "
                f"jax.ShapeDtypeStruct; got {type(x).__name__} {x!r:.100}"
            )
        shape = tuple(int(s) for s in (x.shape if hasattr(x, "shape") else np.shape(x)))
        dtype = x.dtype if hasattr(x, "dtype") else jnp.result_type(x)
        if not is_key_dtype(dtype):
            dtype = np.dtype(dtype)
        table.append((name, shape, dtype.name))
    return table


def _check_leaves(header: dict, table: list, where: str) -> None:
    D = sum(int(np.prod(shape, dtype=np.int64)) for _, shape, _ in table)  # noqa: N806
    if D != header["D"]:
        raise ValueError(
            f"{where}: D (number of parameters) does not match: file has {header['D']}, "
            f"model has {D}"
        )
    _check_table(header["leaves"], table, "", where)


def _check_table(leaves: list, table: list, what: str, where: str) -> None:
    """The file's leaf table against the caller's, name by name, shape, dtype."""
    if len(leaves) != len(table):
        raise ValueError(
            f"{where}: {what}{': ' if what else ''}number of leaves does not match: file has "
            f"{len(leaves)}, model has {len(table)}"
        )
    for (fname, fshape, fdtype), (name, shape, dtype) in zip(leaves, table, strict=True):
        for field, a, b in (
            ("name", fname, name),
            ("shape", tuple(fshape), shape),
            ("dtype", fdtype, dtype),
        ):
            if a != b:
                raise ValueError(
                    f"{where}: {what}{' ' if what else ''}leaf {field} does not match at "
                    f"{fname:.200}: file has {a!s:.200}, model has {b}"
                )


# ----------------------------------------------------------------------------- model state


def _state_leaves(tree: Any, where: str) -> tuple[list, list[np.ndarray]]:
    """The leaf table ([name, shape, dtype]) and numpy leaves of a model state to save."""
    table, leaves = [], []
    for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = jax.tree_util.keystr(path)
        if not (hasattr(x, "shape") and hasattr(x, "dtype")):
            raise TypeError(
                f"{where}: model_state: leaf {name} must be an array (numpy or JAX); got "
                f"{type(x).__name__} {x!r:.100}"
            )
        if is_typed_key(x):
            raise TypeError(
                f"{where}: model_state: leaf {name} has dtype {x.dtype}, a PRNG key; store "
                "jax.random.key_data(key) (uint32) instead, or leave the RNG state out"
            )
        dtype = np.dtype(x.dtype)
        if dtype.name not in fmt.STATE_DTYPES:
            raise TypeError(
                f"{where}: model_state: leaf {name} has dtype {dtype.name}; model state "
                f"leaves must be one of {list(fmt.STATE_DTYPES)}"
            )
        x = np.asarray(x)
        if not x.dtype.isnative:  # hashed as it is read back: in this machine's byte order
            x = x.astype(x.dtype.newbyteorder("="))
        table.append([name, list(x.shape), dtype.name])
        leaves.append(x)
    return table, leaves


def _check_state_template(header: dict, table: list | None, where: str) -> None:
    """Refuses a file with model state and no template, a template and no model state, or
    a template whose leaves are not the file's; before any of it is read."""
    stored = header["model_state"]
    if stored is None:
        if table is not None:
            raise ValueError(
                f"{where}: model_state_like was given but the file stores no model state "
                "(saved without save_compressed(..., model_state=...))"
            )
        return
    if table is None:
        leaves = stored["leaves"]
        names = ", ".join(f"{name:.100}" for name, _, _ in leaves[:3])
        names += ", ..." if len(leaves) > 3 else ""
        count = f"{len(leaves)} leaf" if len(leaves) == 1 else f"{len(leaves)} leaves"
        raise ValueError(
            f"{where}: the file stores model state ({count}: {names}); pass "
            "model_state_like= its structure (a pytree of arrays or jax.ShapeDtypeStruct, "
            "e.g. {'batch_stats': variables['batch_stats']}) to load it"
        )
    _check_table(stored["leaves"], table, "model_state", where)


def _to_jax(x: np.ndarray) -> Any:
    # A JAX array, unless JAX would change its dtype (64 bits with jax_enable_x64 off).
    return jnp.asarray(x) if jax.dtypes.canonicalize_dtype(x.dtype) == x.dtype else x


def _unflatten(flat: np.ndarray, header: dict, like: Any) -> Any:
    chunks, offset = [], 0
    for _, shape, dtype in header["leaves"]:
        size = int(np.prod(shape, dtype=np.int64))
        chunk = flat[offset : offset + size].reshape(shape).astype(np.dtype(jnp.dtype(dtype)))
        chunks.append(jnp.asarray(chunk))
        offset += size
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like), chunks)
