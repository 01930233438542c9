"""A group killed mid-training continues from its orbax checkpoint to the same result."""

import json
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from subspace.checkpoint import GroupCheckpoint

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys, time
import numpy as np, optax
from subspace.flax_tasks import linen_task as classification_task
from models import FC
from subspace.checkpoint import GroupCheckpoint
from subspace import Data, train_group
from subspace.sweep import make_sweep

rng = np.random.default_rng(0)
x = rng.normal(size=(600, 4, 4, 1)).astype(np.float32)
y = (x.reshape(600, -1) @ rng.normal(size=16) > 0).astype(np.int32)
data = Data(x[:500], y[:500], x[500:], y[500:])
sweep = make_sweep(classification_task(FC(width=16, depth=1, num_classes=2), (4, 4, 1)),
                   optax.adam(1e-2), projection="fastfood", width=32)
slow = sys.argv[2] == "slow"
progress = []


def on_steps(k):
    progress.append(k)
    if slow:
        time.sleep(0.2)


out = train_group(sweep, (np.array([4, 16, 32]), np.array([0, 1, 2])), steps=400, data=data,
                  batch_size=50, chunk=20, checkpoint=GroupCheckpoint(sys.argv[1]),
                  checkpoint_every=40, on_steps=on_steps)
arrays = {k: v.tolist() for k, v in out.items() if hasattr(v, "tolist")}
print(json.dumps({"first_progress": progress[0], **arrays}))
"""


def _run(ckpt, mode):
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(ckpt), mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_killed_group_resumes_from_its_checkpoint_with_the_same_result(tmp_path):
    reference = json.loads(_run(tmp_path / "ref", "fast").communicate(timeout=300)[0])
    proc = _run(tmp_path / "ck", "slow")
    deadline = time.time() + 240
    while time.time() < deadline and not list((tmp_path / "ck").glob("step_*")):
        time.sleep(0.1)
    time.sleep(0.5)
    proc.kill()
    proc.wait()
    saved = GroupCheckpoint(tmp_path / "ck")._steps()
    assert saved and saved[-1] < 400  # killed mid-group, after a checkpoint
    resumed = json.loads(_run(tmp_path / "ck", "fast").communicate(timeout=300)[0])
    # It continued from the checkpoint (its first progress report is the restored steps)...
    assert reference.pop("first_progress") == 20 * 3
    assert resumed.pop("first_progress") == saved[-1] * 3
    # ... and ended bitwise where the uninterrupted run did.
    assert resumed == reference


def test_typed_keys_round_trip(tmp_path):
    ck = GroupCheckpoint(tmp_path / "g")
    assert ck.restore({"a": jnp.zeros(2)}) is None
    state = {"z": jnp.arange(4.0), "key": jax.random.split(jax.random.key(3), 4)}
    ck.save(10, state)
    ck.save(20, state)
    assert ck._steps() == [20]  # only the newest is kept
    step, back = ck.restore(state)
    assert step == 20
    np.testing.assert_array_equal(
        jax.random.key_data(back["key"]), jax.random.key_data(state["key"])
    )
    ck.clear()
    assert not (tmp_path / "g").exists()


def test_a_checkpoint_keeps_the_training_seconds_that_reached_it(tmp_path):
    state = {"z": jnp.arange(4.0)}
    first = GroupCheckpoint(tmp_path / "g")
    assert first.seconds_before() == 0.0  # nothing saved yet
    time.sleep(0.2)
    first.save(10, state)
    kept = json.loads((tmp_path / "g" / "seconds.json").read_text())
    assert kept["step"] == 10 and kept["seconds"] >= 0.2
    # A resumed group starts from the recorded seconds and adds its own.
    second = GroupCheckpoint(tmp_path / "g")
    assert second.seconds_before() == kept["seconds"]
    time.sleep(0.2)
    assert second.elapsed() >= kept["seconds"] + 0.2
    second.save(20, state)
    again = json.loads((tmp_path / "g" / "seconds.json").read_text())
    assert again["step"] == 20 and again["seconds"] >= kept["seconds"] + 0.2
    assert GroupCheckpoint(tmp_path / "g").seconds_before() == again["seconds"]


def test_a_missing_or_bad_seconds_record_counts_nothing(tmp_path):
    ck = GroupCheckpoint(tmp_path / "g")
    ck.save(10, {"z": jnp.zeros(2)})
    path = tmp_path / "g" / "seconds.json"
    bad = [
        b"{not json",
        b'{"step": 9, "seconds": 5.0}',  # for another (older) step
        b'{"step": 10, "seconds": -1}',
        b'{"step": 10, "seconds": NaN}',
        b'{"step": 10, "seconds": true}',
        b'{"step": 10, "seconds": "5"}',
        b"[10, 5.0]",
        b'{"step": 10, "seconds": 5.0, "pad": "' + b"x" * 5000 + b'"}',  # over the size limit
    ]
    for content in bad:
        path.write_bytes(content)
        assert GroupCheckpoint(tmp_path / "g").seconds_before() == 0.0, content
    path.unlink()  # as a checkpoint written before the record existed
    assert GroupCheckpoint(tmp_path / "g").seconds_before() == 0.0
    path.write_bytes(b'{"step": 10, "seconds": 5.0}')
    assert GroupCheckpoint(tmp_path / "g").seconds_before() == 5.0
