"""A trained subspace model as a few kilobytes: (projection, key, d, D, model, z).

θ = θ0 + P z, and both θ0 and P are drawn from keys, so "the trained network is fully
described by (seed, architecture, z)" (Li et al., 2018, §2): d numbers instead of D.
:func:`save_compressed` writes that description; :func:`load_compressed` redraws P from the
stored key, takes θ0 from the caller (``theta0=`` the initial parameters, or ``init=`` a
function of the stored θ0 key) or from the file, and checks that the rebuilt model is
bitwise the one that was saved.

File format (one ``.npz``, format version 1, written with ``np.savez_compressed`` and read
with ``allow_pickle=False``; nothing in it is ever unpickled):

* ``header``: uint8 array, the UTF-8 bytes of a JSON object: ``format``,
  ``format_version``, ``library_version``, ``jax_version``, ``projection`` (the kind),
  ``options`` (the projection's keyword options, e.g. ``{"block_size": 512}``), ``D``,
  ``d``, ``z_dtype``, ``key`` (``{"impl", "data", "typed"}``: the PRNG implementation, the
  key's raw uint32 words from ``jax.random.key_data`` and whether it was a typed key),
  ``theta0`` (``{"source": "init" | "stored" | "caller", "key", "seed", "dtype"}``),
  ``leaves`` (``[name, shape, dtype]`` per leaf, from ``Subspace.unravel.leaves``),
  ``sha256`` (of θ0, of P's state and of θ = θ0 + P z), ``model`` and ``extra`` (the
  caller's JSON).
* ``z``: shape (d,), dtype ``z_dtype`` (float32 or float64).
* ``theta0``: only with ``store_theta0=True``: the flat θ0, shape (D,); a dtype numpy has no
  native code for (bfloat16) is stored as its bits (uint16) and viewed back.

For d = 300 the file is about 2 KB whatever D is; with ``store_theta0`` it grows by D
numbers. Collections outside the subspace (BatchNorm ``batch_stats``) are not part of θ
and are not stored here.

Writes are atomic (a temporary file in the same folder, then ``os.replace``). What this adds
to ``np.savez``/orbax: the description instead of the D numbers, and the refusals (wrong D,
leaves, version, projection, θ0 or key; corrupt, truncated or pickled files) as
``ValueError`` naming the field and both values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import operator
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from subspace.projections import PROJECTIONS
from subspace.projections.base import check_key, check_z
from subspace.wrap import Subspace, wrap

__all__ = [
    "CompressedModel",
    "SizeReport",
    "compressed_header",
    "load_compressed",
    "save_compressed",
    "size_report",
]

FORMAT = "subspace.compress"
FORMAT_VERSION = 1

_ARRAYS = ("header", "z", "theta0")
# Dtypes numpy writes and reads natively; others (bfloat16) go to disk as their bits.
_NATIVE = ("float16", "float32", "float64")


# Why a rebuilt θ0, P or θ can differ from the saved one, for the refusal's message.
_MISMATCH = {
    "theta0": "θ0 is not the one z was trained around (wrong init, seed or weights)",
    "P": "P was drawn differently (another library version, or another backend's random numbers)",
    "theta": "θ0 + P z rounds differently here (saved on another backend?)",
}


class _FileError(ValueError):
    """A refusal whose message already says what is wrong with the file."""


@dataclasses.dataclass(frozen=True)
class CompressedModel:
    """A model rebuilt from its compressed description.

    Attributes:
      subspace: the :class:`Subspace` (θ0 and P), as ``wrap`` built it when saving.
      z: the trained coordinates, shape (d,), dtype ``subspace.dtype``.
      params: θ0 + P z as the parameter pytree (``subspace.params(z)``).
      key: the key that drew P, typed or raw as it was saved.
      header: the file's JSON header (``header["model"]``, ``header["extra"]``, ...).
    """

    subspace: Subspace
    z: jax.Array
    params: Any
    key: jax.Array
    header: dict


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
) -> Path:
    """Writes a trained subspace model as its description (projection, key, d, D, model, z).

    θ = θ0 + P z: P is redrawn at load time from ``key``; θ0 is given back by the caller
    (its initial parameters, or ``init(theta0_key)``), or stored in the file if
    ``store_theta0`` (then the file holds D more numbers).

    Args:
      path: the file to write (``.npz`` recommended; written exactly there, atomically).
      subspace: a single :class:`Subspace` (θ0 of shape (D,), not a vmapped batch).
      z: the trained coordinates, shape (d,), dtype ``subspace.dtype``. A sweep member's
        padded z must be cut to its first d coordinates.
      key: the PRNG key that drew P (``jax.random.key(seed)`` or ``jax.random.PRNGKey``).
      theta0_key: the key θ0 was drawn with: ``load_compressed(init=...)`` calls
        ``init(theta0_key)``.
      theta0_seed: an integer recorded for an ``init`` that takes a seed; called with it
        when no ``theta0_key`` is stored.
      store_theta0: also store θ0 itself (D numbers), so the file loads without ``init``.
      model: JSON description of the architecture, e.g. ``{"config": "mnist_fc"}``.
      extra: any other JSON metadata (accuracy, steps, ...).
      verify: check that ``key`` draws ``subspace``'s P before writing (one more draw).

    Returns:
      The path written.

    Raises:
      TypeError: wrong key, z dtype, or ``model``/``extra``/options that are not JSON.
      ValueError: a batched subspace, z of the wrong shape, or a key that does not draw P.

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
    if verify and _sha256(subspace.projection.init(key)) != _sha256(subspace.state):
        raise ValueError(
            f"{where}: key does not draw this subspace's P (its {subspace.kind} state differs "
            "from the one key gives); pass the key given to wrap"
        )
    if theta0_key is not None:
        check_key(theta0_key, f"{where} (theta0_key)")
    if theta0_seed is not None:
        theta0_seed = _json_int("theta0_seed", theta0_seed, where)
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
        "options": {name: _json_option(name, v, where) for name, v in subspace.options},
        "D": subspace.D,
        "d": subspace.d,
        "z_dtype": z.dtype.name,
        "key": _key_to_json(key),
        "theta0": {
            "source": source,
            "key": None if theta0_key is None else _key_to_json(theta0_key),
            "seed": theta0_seed,
            "dtype": theta0.dtype.name,
        },
        "leaves": [
            [leaf.name, list(leaf.shape), np.dtype(leaf.dtype).name]
            for leaf in subspace.unravel.leaves
        ],
        "sha256": {
            "theta0": _sha256(theta0),
            "P": _sha256(subspace.state),
            "theta": _sha256(subspace.flat(jnp.asarray(z))),
        },
        "model": model,
        "extra": extra,
    }
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), np.uint8), "z": z}
    if store_theta0:
        arrays["theta0"] = _to_disk(theta0)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return _atomic_write(path, buf.getvalue())


def load_compressed(
    path: str | os.PathLike,
    *,
    theta0: Any = None,
    init: Callable[[Any], Any] | None = None,
    params_like: Any = None,
    projection: str | None = None,
    verify: bool = True,
) -> CompressedModel:
    """Rebuilds θ = θ0 + P z from a file written by :func:`save_compressed`.

    P is redrawn with ``wrap(theta0, d, projection=kind, key=key, **options)`` from the
    stored kind, options and key. θ0 comes from, in this order: ``theta0`` (the initial
    parameter pytree), ``init`` (called with the stored θ0 key, or with the stored seed if
    only a seed was saved), or the file itself if it was saved with ``store_theta0``
    (``params_like`` then gives the pytree structure; its leaves may be arrays or
    ``jax.ShapeDtypeStruct``, e.g. from ``jax.eval_shape``).

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

    Returns:
      A :class:`CompressedModel` with ``.subspace``, ``.z``, ``.params`` (θ0 + P z),
      ``.key`` and ``.header``.

    Raises:
      FileNotFoundError: no file at ``path``.
      ValueError: a corrupt, truncated or foreign file, unexpected or pickled arrays, another
        format version or projection, a model whose D or leaves (names, shapes, dtypes)
        differ from the file's, or (``verify``) a θ0, P or θ that is not the saved one.
      TypeError: both ``theta0`` and ``init``.

    Example:
      >>> m = subspace.load_compressed("mnist_fc.npz", init=lambda k: model.init(k, x)["params"])
      >>> logits = model.apply({"params": m.params}, x)
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
    header, arrays = _read(path, where)
    kind = header["projection"]
    if projection is not None and projection != kind:
        raise ValueError(
            f"{where}: projection does not match: file has {kind!r}, expected {projection!r}"
        )
    draw_key, key = _key_from_json(header["key"], "key", where)
    source = header["theta0"]["source"]
    if params_like is not None and (theta0 is not None or init is not None or source != "stored"):
        raise TypeError(
            f"{where}: params_like is only used for a file that stores θ0, without theta0/init"
        )
    if theta0 is not None:
        params = theta0
    elif init is not None:
        t0 = header["theta0"]
        if t0["key"] is not None:
            params = init(_key_from_json(t0["key"], "theta0.key", where)[1])
        elif t0["seed"] is not None:
            params = init(t0["seed"])
        else:
            raise ValueError(
                f"{where}: the file records no θ0 key or seed to call init with "
                f"(theta0.source = {source!r}); pass theta0= the initial parameters"
            )
    elif source == "stored":
        if params_like is None:
            raise ValueError(
                f"{where}: the file stores θ0; pass params_like= the parameter pytree (or "
                "its jax.eval_shape) to give it its structure"
            )
        _check_leaves(header, _leaf_table(params_like), where)
        params = _unflatten(arrays["theta0"], header, params_like)
    else:
        raise ValueError(
            f"{where}: θ0 is needed: pass theta0= the initial parameters or init= the "
            f"initialiser (the file's theta0.source is {source!r}, its model is "
            f"{header['model']!r})"
        )
    _check_leaves(header, _leaf_table(params), where)

    legacy = _is_legacy_fastfood(header)
    options = dict(header["options"])
    if legacy:
        options.setdefault("fwht_method", "butterfly")  # 0.1's only transform
    sub = wrap(params, header["d"], projection=kind, key=draw_key, **options)
    z = jnp.asarray(arrays["z"])
    check_z(z, sub.d, sub.dtype, where)
    flat = sub.flat(z)
    if verify:
        state = _legacy_fastfood_layout(sub.state) if legacy else sub.state
        for field, value in (("theta0", sub.theta0), ("P", state), ("theta", flat)):
            want, got = header["sha256"][field], _sha256(value)
            if got != want:
                raise ValueError(
                    f"{where}: sha256 of {field} does not match: file has {want[:16]}..., "
                    f"rebuilt has {got[:16]}...: {_MISMATCH[field]}. verify=False loads it anyway"
                )
    return CompressedModel(sub, z, sub.unravel(flat), key, header)


def _is_legacy_fastfood(header: dict) -> bool:
    # Files from version 0.1.x: fastfood always used the butterfly transform and stored B
    # in the float dtype and the permutations as int32 (same values as now).
    return header["projection"] == "fastfood" and str(header["library_version"]).startswith("0.1.")


def _legacy_fastfood_layout(state: Any) -> Any:
    return state._replace(
        B=state.B.astype(state.G.dtype),
        perm=state.perm.astype(jnp.int32),
        inv_perm=state.inv_perm.astype(jnp.int32),
    )


def compressed_header(path: str | os.PathLike) -> dict:
    """The JSON header of a file written by :func:`save_compressed`, checked, without θ.

    Use it to find out which model to build before loading (``header["model"]``).
    """
    return _read(_check_path(path, "compressed_header"), "compressed_header")[0]


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


def _atomic_write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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


def _key_to_json(key: jax.Array) -> dict:
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    impl = str(jax.random.key_impl(key)) if typed else str(jax.config.jax_default_prng_impl)
    data = np.asarray(jax.random.key_data(key) if typed else key, np.uint32)
    return {"impl": impl, "data": data.tolist(), "typed": bool(typed)}


def _to_disk(theta0: np.ndarray) -> np.ndarray:
    if theta0.dtype.name in _NATIVE:
        return theta0
    return theta0.view(np.dtype(f"uint{8 * theta0.dtype.itemsize}"))


def _json_int(name: str, value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be an integer; got bool {value}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{where}: {name} must be an integer; got {type(value).__name__} {value!r}"
        ) from None


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


# ----------------------------------------------------------------------------- reading


def _read(path: Path, where: str) -> tuple[dict, dict[str, np.ndarray]]:
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no such file: {path}")
    try:
        with open(path, "rb") as fh:
            npz = np.load(fh, allow_pickle=False)
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise _FileError(f"{where}: {path} is a single .npy array, not an .npz archive")
            with npz:
                names = set(npz.files)
                missing = sorted({"header", "z"} - names)
                unexpected = sorted(names - set(_ARRAYS))
                if missing or unexpected:
                    raise _FileError(
                        f"{where}: {path} is not a subspace file: arrays missing {missing}, "
                        f"unexpected {unexpected}; expected 'header', 'z' and optionally "
                        "'theta0'"
                    )
                for name in sorted(names):
                    if _member_dtype(npz, name, where).hasobject:
                        raise _FileError(
                            f"{where}: {path}: array {name!r} holds Python objects (pickled "
                            "data); refused, nothing was unpickled"
                        )
                arrays = {name: npz[name] for name in names}
    except _FileError:
        raise
    except Exception as e:  # zipfile, zlib, numpy format errors: one clear refusal
        raise ValueError(
            f"{where}: {path} is corrupt, truncated or not a subspace file "
            f"({type(e).__name__}: {e})"
        ) from e
    header = _parse_header(arrays["header"], path, where)
    _check_arrays(header, arrays, path, where)
    return header, arrays


def _member_dtype(npz: Any, name: str, where: str) -> np.dtype:
    # Reads only the .npy header, so an object array is refused before numpy touches it.
    with npz.zip.open(f"{name}.npy") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)[2]
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(f)[2]
        raise _FileError(f"{where}: array {name!r} has .npy format version {version}")


def _parse_header(raw: np.ndarray, path: Path, where: str) -> dict:
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(
            f"{where}: {path}: header must be a 1-d uint8 array; got {raw.dtype} {raw.shape}"
        )
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{where}: {path}: header is not UTF-8 JSON ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        got = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise ValueError(f"{where}: {path}: format: file has {got!r}, expected {FORMAT!r}")
    if header.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{where}: {path}: format_version does not match: file has "
            f"{header.get('format_version')!r}, this library reads {FORMAT_VERSION}"
        )
    spec = {
        "projection": str,
        "options": dict,
        "D": int,
        "d": int,
        "z_dtype": str,
        "key": dict,
        "theta0": dict,
        "leaves": list,
        "sha256": dict,
    }
    for name, kind in spec.items():
        value = header.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(
                f"{where}: {path}: header field {name!r} must be a {kind.__name__}; got {value!r}"
            )
    if header["projection"] not in PROJECTIONS:
        raise ValueError(
            f"{where}: {path}: projection {header['projection']!r} is not one of "
            f"{sorted(PROJECTIONS)}"
        )
    t0 = header["theta0"]
    if t0.get("source") not in ("init", "stored", "caller") or not {"key", "seed"} <= set(t0):
        raise ValueError(f"{where}: {path}: header field 'theta0' is malformed: {t0!r}")
    if not all(isinstance(header["sha256"].get(k), str) for k in ("theta0", "P", "theta")):
        raise ValueError(f"{where}: {path}: header field 'sha256' is malformed")
    for leaf in header["leaves"]:
        if not (
            isinstance(leaf, list)
            and len(leaf) == 3
            and isinstance(leaf[0], str)
            and isinstance(leaf[1], list)
            and all(isinstance(s, int) and s >= 0 for s in leaf[1])
            and isinstance(leaf[2], str)
        ):
            raise ValueError(f"{where}: {path}: header field 'leaves' has a bad entry {leaf!r}")
    header.setdefault("model", None)
    header.setdefault("extra", None)
    return header


def _check_arrays(header: dict, arrays: dict, path: Path, where: str) -> None:
    z = arrays["z"]
    if z.shape != (header["d"],) or z.dtype.name != header["z_dtype"]:
        raise ValueError(
            f"{where}: {path}: z does not match the header: file has {z.dtype.name} "
            f"{z.shape}, header says {header['z_dtype']} ({header['d']},)"
        )
    stored = header["theta0"]["source"] == "stored"
    if stored != ("theta0" in arrays):
        raise ValueError(
            f"{where}: {path}: theta0.source is {header['theta0']['source']!r} but the "
            f"file {'has' if 'theta0' in arrays else 'lacks'} a 'theta0' array"
        )
    if stored:
        t = arrays["theta0"]
        dtype = _dtype(header["theta0"].get("dtype"), "theta0.dtype", where)
        if t.shape != (header["D"],) or t.dtype.itemsize != dtype.itemsize:
            raise ValueError(
                f"{where}: {path}: theta0 does not match the header: file has {t.dtype.name} "
                f"{t.shape}, header says {dtype.name} ({header['D']},)"
            )
        arrays["theta0"] = t.view(dtype)


def _dtype(name: Any, field: str, where: str) -> np.dtype:
    try:
        return np.dtype(jnp.dtype(name))
    except TypeError:
        raise ValueError(f"{where}: header field {field!r} is not a dtype: {name!r}") from None


def _key_from_json(spec: Any, field: str, where: str) -> tuple[jax.Array, jax.Array]:
    """Returns (the typed key of the recorded implementation, the key as it was saved).

    A raw key is drawn with as the typed key of its recorded implementation, so the draw
    does not depend on the loading process's default PRNG implementation.
    """
    try:
        data = np.asarray(spec["data"], np.uint32)
        typed = spec["typed"]
        key = jax.random.wrap_key_data(data, impl=spec["impl"])
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"{where}: header field {field!r} is not a key: {spec!r} ({e})") from e
    return key, key if typed is True else jax.random.key_data(key)


def _leaf_table(tree: Any) -> list[tuple[str, tuple[int, ...], str]]:
    # Like flatten.ravel's table, but also for jax.ShapeDtypeStruct leaves (params_like).
    table = []
    for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
        shape = tuple(int(s) for s in (x.shape if hasattr(x, "shape") else np.shape(x)))
        dtype = np.dtype(x.dtype if hasattr(x, "dtype") else jnp.result_type(x))
        table.append((jax.tree_util.keystr(path), shape, dtype.name))
    return table


def _check_leaves(header: dict, table: list, where: str) -> None:
    D = sum(int(np.prod(shape, dtype=np.int64)) for _, shape, _ in table)  # noqa: N806
    if D != header["D"]:
        raise ValueError(
            f"{where}: D (number of parameters) does not match: file has {header['D']}, "
            f"model has {D}"
        )
    leaves = header["leaves"]
    if len(leaves) != len(table):
        raise ValueError(
            f"{where}: number of leaves does not match: file has {len(leaves)}, "
            f"model has {len(table)}"
        )
    for (fname, fshape, fdtype), (name, shape, dtype) in zip(leaves, table, strict=True):
        for field, a, b in (
            ("name", fname, name),
            ("shape", tuple(fshape), shape),
            ("dtype", fdtype, dtype),
        ):
            if a != b:
                raise ValueError(
                    f"{where}: leaf {field} does not match at {fname}: file has {a}, model has {b}"
                )


def _unflatten(flat: np.ndarray, header: dict, like: Any) -> Any:
    chunks, offset = [], 0
    for _, shape, dtype in header["leaves"]:
        size = int(np.prod(shape, dtype=np.int64))
        chunk = flat[offset : offset + size].reshape(shape).astype(np.dtype(jnp.dtype(dtype)))
        chunks.append(jnp.asarray(chunk))
        offset += size
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like), chunks)
