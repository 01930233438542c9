"""DQN members batched against one member after another, in environment steps per second.

    python -m experiments.benchmark.dqn [--steps N] [--seeds K] [--out DIR]

Trains the cartpole_dqn config's members (its values of d × ``--seeds`` seeds, ``--steps``
environment steps each, its DQN hyperparameters) twice, in one process, side by side:
grouped as ``subspace.measure`` groups them (``group_size="auto"``: the group size and
loop form that measured fastest on this machine, from the step-time cache or timed here)
and one member per ``train_group`` call, both compiled first (a short run of each group
shape; its time is ``compile_s``), so the rates are the steady state. Checks that both
give each member the same final return (DQN's argmax actions can turn a last-bit
difference of a batched matmul into another trajectory: the record says how many agree,
and both mean returns),
and writes ``dqn_batched.json`` to ``--out`` (default
``experiments/results/benchmark``): the environment steps (members × steps × envs), both
wall times, both rates, the group size used and the load average.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments import config as configs
from experiments.benchmark.timing import load_average, machine_info
from experiments.io import atomic_write_json

ROOT = Path(__file__).resolve().parents[2]


def compare(steps: int, seeds: int) -> dict:
    import subspace
    from subspace._grouping import choose
    from subspace.memory import default_budget
    from subspace.sharding import member_mesh

    exp = configs.load("cartpole_dqn")
    task, schedule = exp.task.build(), exp.schedule
    width = max(exp.grid.dims)
    sweep = subspace.make_sweep(
        task,
        schedule.optimizer.build(),
        projection="fastfood",
        width=width,
        estimator=schedule.estimator,
    )
    ds = np.repeat(np.array(exp.grid.dims), seeds)
    ss = np.tile(np.arange(seeds), len(exp.grid.dims))
    mesh = member_mesh()
    grouping = choose(
        sweep,
        ds,
        ss,
        steps=steps,
        data=None,
        batch_size=None,
        budget=default_budget(mesh.devices.flat[0]),
        mesh=mesh,
        rule="auto",
        recorded=None,
    )
    size = grouping.size
    print(f"grouping: {grouping.why}")
    record = {
        "config": "cartpole_dqn",
        "members": len(ds),
        "steps": steps,
        "envs": schedule.estimator.envs,
        "env_steps": int(len(ds) * steps * schedule.estimator.envs),
        "group_size": size,  # (grouping.why is printed, not kept: it names local paths)
        "load_average_at_start": load_average(),
    }
    start = time.perf_counter()
    # Both compiled first, so that the rates below are the steady state.
    for g, loop in {(size, grouping.loop), (1, "scan")}:
        subspace.train_group(sweep, (ds[:g], ss[:g]), steps=min(steps, 100), loop=loop)
    record["compile_s"] = time.perf_counter() - start
    start = time.perf_counter()
    grouped = []
    for i in range(0, len(ds), size):
        members = (ds[i : i + size], ss[i : i + size])
        out = subspace.train_group(sweep, members, steps=steps, loop=grouping.loop)
        grouped += list(out["final_fitness"])
    record["grouped_s"] = time.perf_counter() - start
    start = time.perf_counter()
    alone = []
    for d, s in zip(ds, ss, strict=True):
        out = subspace.train_group(sweep, (np.array([d]), np.array([s])), steps=steps)
        alone += list(out["final_fitness"])
    record["one_at_a_time_s"] = time.perf_counter() - start
    for name in ("grouped", "one_at_a_time"):
        record[f"{name}_env_steps_per_s"] = record["env_steps"] / record[f"{name}_s"]
    record["speedup"] = record["one_at_a_time_s"] / record["grouped_s"]
    record["same_returns"] = bool(np.allclose(grouped, alone, rtol=0, atol=1e-3))
    # DQN's argmax actions turn a last-bit difference of a batched matmul into another
    # trajectory, so long runs need not agree member by member: say by how much.
    record["mean_return_grouped"] = float(np.mean(grouped))
    record["mean_return_one_at_a_time"] = float(np.mean(alone))
    record["members_with_the_same_return"] = int(np.sum(np.isclose(grouped, alone, atol=1e-3)))
    record["load_average_at_end"] = load_average()
    record["machine"] = machine_info()
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.benchmark.dqn")
    parser.add_argument("--steps", type=int, default=5_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/benchmark")
    args = parser.parse_args(argv)
    record = compare(args.steps, args.seeds)
    atomic_write_json(args.out / "dqn_batched.json", record)
    print(
        f"cartpole_dqn: {record['members']} members x {record['steps']} steps: grouped "
        f"({record['group_size']} per group) {record['grouped_s']:.1f} s "
        f"({record['grouped_env_steps_per_s']:,.0f} env steps/s), one at a time "
        f"{record['one_at_a_time_s']:.1f} s ({record['one_at_a_time_env_steps_per_s']:,.0f}"
        f"/s): {record['speedup']:.2f}x; same returns: {record['same_returns']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
