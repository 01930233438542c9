"""A measurement over several processes (jax.distributed, as on a TPU pod slice or a
multi-GPU host) gives the results of one process: two processes on localhost with two
CPU devices each (gloo collectives) against one process with four devices."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = """
import sys
import jax

n, rank, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
if n > 1:
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=n, process_id=rank)
import numpy as np, subspace
from models import FC

assert jax.device_count() == 4, jax.devices()
rng = np.random.default_rng(0)
x = rng.normal(size=(300, 4, 4, 1)).astype(np.float32)
y = (x.reshape(300, -1) @ rng.normal(size=16) > 0).astype(np.int32)
result = subspace.measure(
    subspace.linen_task(FC(width=8, depth=1, num_classes=2), (4, 4, 1)),
    data=subspace.Data(x[:200], y[:200], x[200:], y[200:]),
    dims=[2, 8], seeds=2, steps=250, batch_size=50, budget_bytes=1,
    optimizer=subspace.Optimizer("adam", 3e-2), baseline=subspace.Optimizer("adam", 1e-2), out=out,
    checkpoint_every=100, progress=False,  # saves after steps 100 and 200 of each group
)
print("d_int", rank, result.d_int["fastfood"]["d"], flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(n: int, devices: int, out: Path) -> list[str]:
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
    }
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(n), str(rank), port, str(out)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(n)
    ]
    outputs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-3000:]
        outputs.append(stdout)
    return outputs


def test_two_processes_give_the_results_of_one(tmp_path):
    one = _run(1, 4, tmp_path / "one")
    two = _run(2, 2, tmp_path / "two")
    assert "d_int 0" in one[0] and "d_int 0" in two[0] and "d_int 1" in two[1]
    a = json.loads((tmp_path / "one" / "results.json").read_text())
    b = json.loads((tmp_path / "two" / "results.json").read_text())
    assert a["complete"] and b["complete"]
    assert len(b["members"]) == 4 and len(b["baseline"]) == 2
    assert a == b  # every member and the baseline, bit for bit
    assert not (tmp_path / "two" / "checkpoints").exists()
