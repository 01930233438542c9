"""The trained networks of a measurement: kept for every member, given back whole.

:func:`subspace.measure` keeps what each member trained: z (its first d coordinates) and
the model's own state (BatchNorm statistics), and for the full-parameter baseline the
trained parameters. With an output folder they are written after every group, beside
``results.json``, one ``.npz`` per member (numpy's format, read back without pickle):

* ``networks/<projection>/d<d>-s<seed>.npz``: ``z`` (d,) and ``model_state_<i>``, the
  model state's leaves in ``jax.tree_util`` order;
* ``networks/baseline/s<seed>.npz``: ``params_<i>`` and ``model_state_<i>``.

:meth:`subspace.SweepResult.member` gives a member back as a
:class:`subspace.results.TrainedMember`: its
:class:`subspace.Subspace` (θ0 and P redrawn from the member's seed, as the sweep drew
them), z and model state exactly as trained, and the keys ``save_compressed`` needs.
"""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subspace._io import atomic_write_bytes
from subspace.sweep import Member, member_keys, member_subspace, split_label
from subspace.task import Task, check_task, init_shapes
from subspace.wrap import Subspace

__all__: list[str] = []  # private: SweepResult.member gives a TrainedMember (results.py)

NETWORKS = "networks"  # the subfolder of a measurement's folder


def clear_networks(folder: Path | None) -> None:
    """Removes the networks a measurement wrote in ``folder`` (an overwrite discards its
    results, and a network of a member the new grid lacks must not stay behind); files of
    other names, and folders left non-empty by them, are the user's and stay."""
    if folder is None or jax.process_index() != 0 or not (folder / NETWORKS).is_dir():
        return
    root = folder / NETWORKS
    for sub in [p for p in root.iterdir() if p.is_dir()]:
        for path in sub.iterdir():
            if path.is_file() and _NAMED.fullmatch(path.name):
                path.unlink()
        if not any(sub.iterdir()):
            sub.rmdir()
    if not any(root.iterdir()):
        root.rmdir()


_NAMED = re.compile(r"(s\d+|d\d+-s\d+|basis-s\d+)\.npz")  # member_file's, basis_file's


def member_file(folder: Path, record: dict) -> Path:
    """Where the network of a member (or baseline seed) ``record`` is kept."""
    if "d" not in record:
        return folder / NETWORKS / "baseline" / f"s{record['seed']}.npz"
    return folder / NETWORKS / record["projection"] / f"d{record['d']}-s{record['seed']}.npz"


def write_networks(folder: Path, records: list[dict], outputs: dict) -> None:
    """Writes the networks of one group's members (``records``, in the group's order) from
    :func:`subspace.train_group`'s ``outputs``, each file atomically."""
    for i, record in enumerate(records):
        arrays = _member_arrays(outputs, i, record)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(member_file(folder, record), buf.getvalue())


def networks_of(records: list[dict], outputs: dict) -> dict:
    """The same arrays as :func:`write_networks`, kept in memory: ``{file key: arrays}``."""
    return {_key(r): _member_arrays(outputs, i, r) for i, r in enumerate(records)}


def _key(record: dict) -> tuple:
    return (record.get("projection", "baseline"), record.get("d"), record["seed"])


def _member_arrays(outputs: dict, i: int, record: dict) -> dict[str, np.ndarray]:
    arrays = {}
    if "d" in record:
        arrays["z"] = np.asarray(outputs["z"][i][: record["d"]])
    else:
        for j, leaf in enumerate(jax.tree_util.tree_leaves(outputs["params"])):
            arrays[f"params_{j}"] = np.asarray(leaf[i])
    for j, leaf in enumerate(jax.tree_util.tree_leaves(outputs["model_state"])):
        arrays[f"model_state_{j}"] = np.asarray(leaf[i])
    return arrays


def read_network(folder: Path | None, memory: dict, record: dict) -> dict[str, np.ndarray]:
    """The arrays of one member, from memory or from its file (no pickle)."""
    key = _key(record)
    if key in memory:
        return memory[key]
    if folder is None:
        raise ValueError(
            "this result keeps no trained networks: it was measured without an out folder "
            "by another process, or read from results written before subspace 0.5"
        )
    path = member_file(folder, record)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: this result keeps no trained network of that member "
            "(measured before subspace 0.5, or the file was removed)"
        )
    with np.load(path, allow_pickle=False) as f:
        return {name: f[name] for name in f.files}


def _tree(like: Any, arrays: dict, prefix: str, where: str) -> Any:
    """The pytree of ``like``'s structure whose leaves are ``arrays[prefix_i]``, checked."""
    leaves, treedef = jax.tree_util.tree_flatten(like)
    found = sorted(k for k in arrays if k.startswith(prefix + "_"))
    if len(found) != len(leaves):
        raise ValueError(
            f"{where}: the stored {prefix} has {len(found)} arrays; the task's has "
            f"{len(leaves)} (another model?)"
        )
    out = []
    for j, leaf in enumerate(leaves):
        a = arrays[f"{prefix}_{j}"]
        if a.shape != tuple(leaf.shape) or a.dtype != np.dtype(leaf.dtype):
            raise ValueError(
                f"{where}: stored {prefix} leaf {j} is {a.dtype}{a.shape}; the task's is "
                f"{np.dtype(leaf.dtype)}{tuple(leaf.shape)} (another model?)"
            )
        out.append(jnp.asarray(a))
    return jax.tree_util.tree_unflatten(treedef, out)


@dataclasses.dataclass(frozen=True)
class TrainedMember:
    """One trained member of a measurement, rebuilt: θ = θ0 + P z exactly as measured.

    Attributes:
      subspace: θ0 and P of the member (its own d, P drawn from ``projection_key``).
      z: the trained coordinates, shape (d,), as trained.
      model_state: the model's own state after training (``()`` if none).
      projection_key: the key that drew P; ``init_key``: the key θ0 was drawn with.
      record: the member's record in ``results.json`` (d, seed, metrics, status).
    """

    subspace: Subspace
    z: jax.Array
    model_state: Any
    projection_key: jax.Array
    init_key: jax.Array
    record: dict

    @property
    def params(self) -> Any:
        """θ0 + P z as the model's parameter pytree."""
        return self.subspace.params(self.z)

    def save_compressed(self, path: Any, **kwargs: Any) -> Path:
        """:func:`subspace.save_compressed` of this member: (seed, z) and its model state;
        ``load_compressed(path, init=task.init-like)`` rebuilds it. ``kwargs`` go there
        (``model=``, ``extra=``; the record's values are stored as ``extra`` by default)."""
        from subspace.compress import save_compressed

        kwargs.setdefault("extra", {"record": self.record})
        state = None if not jax.tree_util.tree_leaves(self.model_state) else self.model_state
        return save_compressed(
            path,
            self.subspace,
            self.z,
            key=self.projection_key,
            theta0_key=self.init_key,
            model_state=state,
            **kwargs,
        )


def trained_member(task: Task, record: dict, arrays: dict, where: str) -> TrainedMember:
    """The member of ``record`` rebuilt from ``task`` and its stored ``arrays``."""
    check_task(task, where)
    d, seed = record["d"], record["seed"]
    kind, said = split_label(record["projection"])
    bases = {seed: arrays["basis"]} if "basis" in arrays else None  # a lottery member's U
    sub, model_state, _ = member_subspace(
        task, Member(d, seed), projection=kind, width=record["width"], said=said, bases=bases
    )
    z = arrays.get("z")
    if z is None or z.shape != (d,) or z.dtype != np.dtype(sub.dtype):
        raise ValueError(
            f"{where}: the stored z of member (d={d}, seed={seed}) is not {sub.dtype}({d},)"
        )
    init_key, proj_key, _ = member_keys(seed)
    state = _tree(model_state, arrays, "model_state", where)
    return TrainedMember(sub, jnp.asarray(z), state, proj_key, init_key, record)


def baseline_network(task: Task, record: dict, arrays: dict, where: str) -> tuple[Any, Any]:
    """``(params, model_state)`` of a baseline seed, rebuilt from its stored ``arrays``."""
    check_task(task, where)
    params, model_state = init_shapes(task, where)
    return _tree(params, arrays, "params", where), _tree(model_state, arrays, "model_state", where)
