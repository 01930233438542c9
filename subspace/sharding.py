"""Sharding a sweep's member axis over devices with ``jax.sharding``.

Members are independent, so the leading (member) axis of every array of a sweep is split
over a 1-D mesh of all devices (``Mesh(devices, ("members",))``) and XLA partitions the
vmapped step without any communication but the shared batch, which is replicated. The
member count is padded to a multiple of the device count by repeating the last member;
the copies are dropped from the results. Arrays are built with
``jax.make_array_from_callback`` from the same host-side values on every process, so the
same code runs multi-host after ``jax.distributed.initialize()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from subspace._checks import check_int

__all__ = [
    "MEMBER_AXIS",
    "constrain_members",
    "member_array",
    "member_mesh",
    "pad_members",
    "replicated_array",
    "to_host",
]

MEMBER_AXIS = "members"


def member_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named ``"members"`` over ``devices`` (default: all devices, all hosts)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("member_mesh: devices must not be empty")
    if not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"member_mesh: devices must be jax.Device objects; got {devices!r}")
    return Mesh(np.array(devices), (MEMBER_AXIS,))


def pad_members(values: np.ndarray, multiple: int) -> np.ndarray:
    """Pads the leading axis to a multiple of ``multiple`` by repeating the last entry."""
    values = _members(values, "pad_members")
    multiple = check_int(
        multiple,
        "multiple",
        1,
        where="pad_members",
        what="an integer >= 1 (the device count)",
        type_error=ValueError,
        range_repr=True,
    )
    if values.shape[0] == 0:
        raise ValueError("pad_members: at least one member is needed")
    extra = -values.shape[0] % multiple
    return np.concatenate([values, np.repeat(values[-1:], extra, axis=0)])


def member_array(values: np.ndarray, mesh: Mesh) -> jax.Array:
    """A global array, split over ``mesh`` along its leading (member) axis.

    ``values`` is the full host-side array (the same on every process); its leading axis
    must be a multiple of the mesh size (see :func:`pad_members`).
    """
    values = _members(values, "member_array")
    _check_mesh(mesh, "member_array")
    size = mesh.devices.size
    if values.shape[0] % size:
        raise ValueError(
            f"member_array: the member count {values.shape[0]} must be a multiple of the "
            f"number of devices {size}; pad with pad_members first"
        )
    sharding = NamedSharding(mesh, PartitionSpec(MEMBER_AXIS))
    return jax.make_array_from_callback(values.shape, sharding, lambda index: values[index])


def replicated_array(values: np.ndarray, mesh: Mesh) -> jax.Array:
    """A global array with a full copy of ``values`` on every device of ``mesh`` (the data
    every member reads); each process supplies its own devices' copies."""
    values = np.asarray(values)
    _check_mesh(mesh, "replicated_array")
    sharding = NamedSharding(mesh, PartitionSpec())
    return jax.make_array_from_callback(values.shape, sharding, lambda index: values[index])


def to_host(x: jax.Array) -> np.ndarray:
    """The whole of a (possibly multi-process) global array as a numpy array, on every
    process: ``np.asarray`` when this process holds all of it, else an all-gather."""
    if not isinstance(x, (jax.Array, np.ndarray)):
        raise TypeError(f"to_host: x must be a jax.Array or numpy array; got {type(x).__name__}")
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
        return np.asarray(x)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def constrain_members(tree: Any, mesh: Mesh) -> Any:
    """Inside jit: every leaf's leading axis is the member axis, split over ``mesh``."""
    _check_mesh(mesh, "constrain_members")
    sharding = NamedSharding(mesh, PartitionSpec(MEMBER_AXIS))
    return jax.lax.with_sharding_constraint(tree, jax.tree_util.tree_map(lambda _: sharding, tree))


def _members(values: Any, where: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim == 0:
        raise ValueError(
            f"{where}: values must have a leading member axis (at least 1-D); got a scalar"
        )
    return values


def _check_mesh(mesh: Any, where: str) -> None:
    if not isinstance(mesh, Mesh):
        raise TypeError(
            f"{where}: mesh must be a jax.sharding.Mesh (see member_mesh); got {mesh!r}"
        )
