"""Shared builder of the reinforcement-learning configs: evolution strategies (ES) on a
policy in a gymnax (or brax) environment, in random subspaces and on all D parameters."""

from __future__ import annotations

from collections.abc import Sequence

import subspace
from experiments.config import Experiment
from experiments.tasks import Model, PolicyTask, QTask

#: What d_int is read from, by the configs' short names. "final_fitness": the policy's
#: mean evaluation return after training; "fitness_gain": that return minus the return at
#: θ0 (same episodes), for environments whose returns are negative (a fraction of a
#: negative return is not a lower bar), so the threshold is a fraction of the baseline's
#: improvement.
METRICS = {
    "final_fitness": "final_fitness",
    "fitness_gain": "final_fitness-initial_fitness",
}


def dqn_experiment(
    name: str,
    *,
    env: str,
    network: Model,
    dims: Sequence[int],
    smoke: bool,
    steps: int,
    lr: float,
    baseline_lr: float,
    dqn: dict,
    seeds: int = 3,
    eval_episodes: int = 16,
) -> Experiment:
    """An Experiment that trains ``network``'s Q-values on ``env`` by DQN
    (:func:`subspace.estimators.dqn` with the hyperparameters ``dqn``) with Adam for
    ``steps`` environment steps, in subspaces and on all D parameters (the same estimator),
    reading d_int90 at 0.9 × the baseline's final greedy return. ``smoke`` keeps the first
    two values of d, 2 seeds, 60 steps, a 32-transition buffer, batches of 8 and 2
    evaluation episodes of at most 20 steps, at an absolute threshold of 0."""
    max_steps = None
    if smoke:
        dims, steps, eval_episodes, max_steps = dims[:2], 60, 2, 20
        dqn = {
            **dqn,
            "buffer_size": 32,
            "batch_size": 8,
            "learning_starts": 10,
            "target_interval": 10,
            "epsilon_steps": 30,
        }
    estimator = subspace.estimators.dqn(env, **dqn)
    return Experiment(
        name=name,
        task=QTask(env=env, network=network, max_steps=max_steps, eval_episodes=eval_episodes),
        grid=subspace.Grid(dims=dims, seeds=2 if smoke else seeds),
        schedule=subspace.Schedule(
            optimizer=subspace.Optimizer("adam", lr),
            steps=steps,
            estimator=estimator,
            baseline=subspace.Optimizer("adam", baseline_lr),
        ),
        readout=subspace.Readout(metric="final_fitness", threshold=0.0 if smoke else None),
        smoke=smoke,
    )


def es_experiment(
    name: str,
    *,
    env: str,
    policy: Model,
    dims: Sequence[int],
    smoke: bool,
    generations: int,
    population: int,
    sigma: float,
    lr: float,
    baseline_sigma: float,
    baseline_lr: float,
    seeds: int = 3,
    max_steps: int | None = None,
    episodes: int = 1,
    eval_episodes: int = 8,
    weight_decay: float = 0.0,
    metric: str = "final_fitness",
    suite: str = "gymnax",
    sigma_in_theta: bool = False,
    smoke_dims: Sequence[int] | None = None,
) -> Experiment:
    """An Experiment that trains ``policy`` on ``env`` by ES with Adam (antithetic
    sampling, centred ranks) for ``generations`` generations, reading d_int90 at 0.9 ×
    the full-parameter ES baseline's ``metric``. ``weight_decay`` is L2 on z and on θ
    (``subspace.Optimizer(weight_decay=...)``). ``smoke`` keeps the first two values of d,
    2 seeds, 2 generations of 4, 20-step episodes and 2 evaluation episodes (or
    ``smoke_dims``), and reads d_int at an absolute threshold of 0 (two generations need not
    leave the baseline's return above 0, and a fraction of a return that is not is no
    bar). ``suite`` is "gymnax" or "brax" (the ``[brax]`` extra)."""
    if smoke:
        population, max_steps, eval_episodes, generations = 4, 20, 2, 2
        dims = smoke_dims or dims[:2]
    return Experiment(
        name=name,
        task=PolicyTask(
            env=env,
            policy=policy,
            suite=suite,
            max_steps=max_steps,
            episodes=episodes,
            eval_episodes=eval_episodes,
        ),
        grid=subspace.Grid(dims=dims, seeds=2 if smoke else seeds),
        schedule=subspace.Schedule(
            optimizer=subspace.Optimizer("adam", lr, weight_decay=weight_decay),
            steps=generations,
            estimator=subspace.estimators.es(population, sigma, sigma_in_theta=sigma_in_theta),
            baseline=subspace.Optimizer("adam", baseline_lr, weight_decay=weight_decay),
            baseline_estimator=subspace.estimators.es(population, baseline_sigma),
        ),
        readout=subspace.Readout(metric=METRICS[metric], threshold=0.0 if smoke else None),
        smoke=smoke,
    )
