"""Evolution strategies on CartPole, end to end: the batched sweep against a sequential loop.

Batched: :func:`subspace.make_sweep` with the ES estimator + one :func:`subspace.train_group`
call, every member (d, seed) in one compiled program. Sequential: the same members, one
``train_group`` call per member (group of one) on its own sweep of the same width, so
the loop compiles one program of one member and reuses it (d and the seed are data,
not constants). Both are timed from building the sweep to the evaluated results,
compilation included ("cold", the first call of each in the process); then, with the
compiled programs cached, the same calls are timed again ``steady_repeats`` times (the
median is the steady state, compilation excluded). Batched runs first: the
process-wide caches it warms can only help the sequential loop.

Environment steps, exactly. CartPole-v1 (gymnax) gives a reward of 1 for every step up
to and including the one that ends the episode (``1 - prev_terminal``, and the rollout
of :func:`subspace.rl.episode_return` stops at the first ``done``), so an episode's
return is its number of steps. ``train_group`` does not return the training episodes'
returns, so they are counted by a replay: the batched sweep's ``init``, ``update`` (one
generation, whose ``loss`` is minus the mean return of the population) and
``evaluate`` run again under one ``jax.jit`` (untimed), and its trained z are checked
bitwise equal to the timed runs' (so it counted the same episodes). Steps of a member =
Σ_generations (-loss) · population · episodes + (initial + final evaluation
fitness) · eval_episodes · episodes; every such product must be an integer (checked).
These are the steps of the episodes (the environment transitions a sequential CPU
rollout would take); under ``vmap`` an episode's ``while_loop`` runs until the longest
episode of the batch ends, finished ones masked, so the steps executed are more:
``lockstep_training_steps`` counts them for the training generations (per generation,
the longest episode times the episodes run side by side: the population of one member
alone, every member's population batched; ``episodes = 1`` only, else null).
"""

from __future__ import annotations

import time

import jax
import numpy as np
import optax

import subspace
from experiments.benchmark.timing import load_average
from models import MLPPolicy
from subspace.flatten import ravel
from subspace.rl import gymnax_task
from subspace.sweep import Sweep

__all__ = ["ENV", "compare_es", "count_steps"]

ENV = "CartPole-v1"  # its reward is 1 per step: returns are step counts


def compare_es(
    dims: tuple[int, ...],
    seeds: tuple[int, ...],
    *,
    generations: int,
    population: int,
    hidden: tuple[int, ...] = (20, 20),
    sigma: float = 0.5,
    lr: float = 0.1,
    projection: str = "fastfood",
    max_steps: int | None = None,
    episodes: int = 1,
    eval_episodes: int = 8,
    steady_repeats: int = 3,
) -> dict:
    """Batched against sequential ES training of the members ``dims`` × ``seeds``.

    Returns a record of wall times, exact environment steps and steps per second of both,
    and whether both trained the same members (equal final fitness and z).
    """
    ds = np.repeat(np.asarray(dims), len(seeds))
    member_seeds = np.tile(np.asarray(seeds), len(dims))
    n = len(ds)
    width = int(ds.max())
    policy = MLPPolicy(hidden=hidden, outputs=2)
    task = gymnax_task(
        ENV, policy, max_steps=max_steps, episodes=episodes, eval_episodes=eval_episodes
    )

    def make():
        return subspace.make_sweep(
            task,
            optax.adam(lr),
            projection=projection,
            width=width,
            estimator=subspace.estimators.es(population, sigma),
        )

    load_at_start = load_average()

    def batched_run(sweep):
        return subspace.train_group(sweep, (ds, member_seeds), steps=generations)

    def sequential_run(sweep):
        outs, times = [], []
        for i in range(n):
            start = time.perf_counter()
            args = (ds[i : i + 1], member_seeds[i : i + 1])
            outs.append(subspace.train_group(sweep, args, steps=generations))
            times.append(time.perf_counter() - start)
        return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}, times

    start = time.perf_counter()
    batched_sweep = make()
    batched = batched_run(batched_sweep)
    batched_s = time.perf_counter() - start
    print(f"  es, batched: {n} members, {generations} generations, {batched_s:.1f} s", flush=True)

    start = time.perf_counter()
    sequential_sweep = make()
    sequential, member_s = sequential_run(sequential_sweep)
    sequential_s = time.perf_counter() - start
    print(f"  es, sequential: {sequential_s:.1f} s", flush=True)

    # Steady state: the same calls again, their programs compiled and cached.
    steady_b, steady_s, same_again = [], [], True
    for _ in range(steady_repeats):
        start = time.perf_counter()
        again = batched_run(batched_sweep)
        steady_b.append(time.perf_counter() - start)
        start = time.perf_counter()
        again_seq, _ = sequential_run(sequential_sweep)
        steady_s.append(time.perf_counter() - start)
        same_again &= _equal(again, batched) and _equal(again_seq, sequential)

    counts = count_steps(make(), ds, member_seeds, generations, population, episodes, eval_episodes)
    steps = int(counts["steps"].sum())
    final_equal = bool(np.array_equal(batched["final_fitness"], sequential["final_fitness"]))
    record = {
        "env": ENV,
        "policy": f"MLP 4-{'-'.join(map(str, hidden))}-2, tanh, argmax action",
        "D": int(ravel(task.init(jax.random.key(0))[0])[0].size),
        "projection": projection,
        "width": width,
        "ds": ds.tolist(),
        "seeds": member_seeds.tolist(),
        "members": n,
        "generations": generations,
        "population": population,
        "sigma": sigma,
        "optimizer": "adam",
        "lr": lr,
        "max_steps": max_steps,
        "episodes": episodes,
        "eval_episodes": eval_episodes,
        "env_steps": steps,
        "env_steps_per_member": counts["steps"].tolist(),
        "training_env_steps": int(counts["training"].sum()),
        "evaluation_env_steps": int(counts["evaluation"].sum()),
        "lockstep_training_steps": _lockstep(counts, population, episodes),
        "batched_s": batched_s,
        "sequential_s": sequential_s,
        "sequential_member_s": member_s,
        "batched_steps_per_s": steps / batched_s,
        "sequential_steps_per_s": steps / sequential_s,
        "speedup": sequential_s / batched_s,
        "steady_repeats": steady_repeats,
        "steady_batched_s": _median(steady_b),
        "steady_sequential_s": _median(steady_s),
        "steady_batched_steps_per_s": _per_s(steps, steady_b),
        "steady_sequential_steps_per_s": _per_s(steps, steady_s),
        "steady_speedup": _ratio(steady_s, steady_b),
        "compile_batched_s": _less(batched_s, steady_b),
        "compile_sequential_s": _less(sequential_s, steady_s),
        "final_fitness_batched": batched["final_fitness"].tolist(),
        "final_fitness_sequential": sequential["final_fitness"].tolist(),
        "final_fitness_equal": final_equal,
        "max_z_difference": float(np.max(np.abs(batched["z"] - sequential["z"]))),
        "replay_z_equal": bool(np.array_equal(counts["z"], batched["z"])),
        "steady_runs_equal": bool(same_again),
        "load_average_at_start": load_at_start,
        "load_average_at_end": load_average(),
    }
    print(
        f"  es: {steps:,} environment steps; batched {record['batched_steps_per_s']:,.0f}/s, "
        f"sequential {record['sequential_steps_per_s']:,.0f}/s, final fitness equal: "
        f"{final_equal}",
        flush=True,
    )
    return record


def count_steps(
    sweep: Sweep,
    ds: np.ndarray,
    seeds: np.ndarray,
    generations: int,
    population: int,
    episodes: int,
    eval_episodes: int,
) -> dict[str, np.ndarray]:
    """Replays the members' training (one jitted program) and counts their CartPole steps.

    Returns per member ``steps``, ``training`` and ``evaluation`` (integers), per
    (member, generation) ``fitness_max``, and the trained ``z`` (to check the replay
    against the timed runs).
    """

    @jax.jit
    def replay(ds, seeds):
        state = sweep.init(ds, seeds)
        initial = sweep.evaluate(state, None)["fitness"]

        def body(state, _):
            state, metrics = sweep.update(state, None)
            return state, (-metrics["loss"], -metrics["loss_min"])

        state, (mean, best) = jax.lax.scan(body, state, None, length=generations)
        final = sweep.evaluate(state, None)["fitness"]
        return initial, final, mean.T, best.T, sweep.trained(state)

    initial, final, mean, best, z = map(np.asarray, replay(ds, seeds))
    training = _whole(mean.astype(np.float64) * population * episodes).sum(axis=1)
    evaluation = _whole((initial + final).astype(np.float64) * eval_episodes * episodes)
    return {
        "steps": training + evaluation,
        "training": training,
        "evaluation": evaluation,
        "fitness_max": best,
        "z": z,
    }


def _whole(x: np.ndarray) -> np.ndarray:
    """``x`` as integers; raises if it is not (then returns are not step counts)."""
    rounded = np.rint(x)
    if not np.all(np.abs(x - rounded) < 1e-2):
        raise ValueError("returns are not whole numbers of steps: not CartPole's reward of 1")
    return rounded.astype(np.int64)


def _lockstep(counts: dict, population: int, episodes: int) -> dict | None:
    """Steps executed in the training episodes' while loops (finished episodes masked)."""
    if episodes != 1:
        return None
    longest = _whole(counts["fitness_max"].astype(np.float64))  # (members, generations)
    return {
        "batched": int(longest.max(axis=0).sum() * population * len(longest)),
        "sequential": int(longest.sum() * population),
    }


def _equal(a: dict, b: dict) -> bool:
    return all(np.array_equal(a[k], b[k]) for k in ("final_fitness", "initial_fitness", "z"))


def _median(times: list[float]) -> float | None:
    return float(np.median(times)) if times else None


def _per_s(steps: int, times: list[float]) -> float | None:
    return steps / _median(times) if times else None


def _ratio(numerator: list[float], denominator: list[float]) -> float | None:
    return _median(numerator) / _median(denominator) if numerator else None


def _less(total: float, times: list[float]) -> float | None:
    return total - _median(times) if times else None
