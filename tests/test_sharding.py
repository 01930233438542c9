"""The member axis split over 4 CPU devices gives the same results as one device."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from subspace.sharding import member_array, member_mesh, pad_members

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import jax, numpy as np
    from experiments import toy
    from subspace.loop import train_group
    from subspace.sharding import member_mesh
    from subspace.sweep import make_sweep
    assert len(jax.devices()) == 4, jax.devices()
    # 3 dims x 2 seeds = 6 members: not a multiple of 4 devices.
    ds, seeds = np.repeat([3, 9, 12], 2), np.tile([0, 1], 3)
    for projection in ["dense", "sparse", "fastfood"]:
        sweep = make_sweep(toy.TASK, toy.optimizer(), projection=projection, width=12)
        four = train_group(sweep, (ds, seeds), steps=40, mesh=member_mesh())
        one = train_group(sweep, (ds, seeds), steps=40, mesh=member_mesh(jax.devices()[:1]))
        assert len(four["final_loss"]) == 6
        np.testing.assert_allclose(four["initial_loss"], one["initial_loss"], rtol=1e-6)
        np.testing.assert_allclose(four["final_loss"], one["final_loss"], rtol=1e-4, atol=1e-9)
        print(projection, "ok", four["final_loss"].round(6).tolist())
    # One step per dispatch, with data and each member its own minibatches, split the same.
    import optax
    from models import FC
    from subspace.data import Data
    from subspace.flax_tasks import linen_task
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4, 4, 1)).astype(np.float32)
    y = (x.reshape(300, -1).sum(1) > 0).astype(np.int32)
    data = Data(x[:250], y[:250], x[250:], y[250:])
    task = linen_task(FC(width=8, depth=1, num_classes=2), (4, 4, 1))
    sweep = make_sweep(task, optax.adam(1e-2), projection="fastfood", width=12)
    kw = dict(steps=20, data=data, batch_size=25, per_member_shuffle=True, loop="steps")
    four = train_group(sweep, (ds, seeds), mesh=member_mesh(), **kw)
    one = train_group(sweep, (ds, seeds), mesh=member_mesh(jax.devices()[:1]), **kw)
    np.testing.assert_allclose(four["test_loss"], one["test_loss"], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(four["z"], one["z"], rtol=1e-3, atol=1e-6)
    print("steps", "ok", four["test_loss"].round(6).tolist())
""")


def test_sharded_sweep_equals_unsharded_on_4_cpu_devices():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count(" ok ") == 4


def test_pad_members_and_member_array():
    np.testing.assert_array_equal(pad_members(np.arange(6), 4), [0, 1, 2, 3, 4, 5, 5, 5])
    np.testing.assert_array_equal(pad_members(np.arange(4), 4), np.arange(4))
    mesh = member_mesh()
    arr = member_array(pad_members(np.arange(5), len(jax.devices())), mesh)
    assert arr.sharding.spec == jax.sharding.PartitionSpec("members")
    with pytest.raises(ValueError, match="at least one member"):
        pad_members(np.arange(0), 4)
