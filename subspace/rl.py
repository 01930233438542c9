"""Reinforcement-learning tasks: a :class:`subspace.Task` whose loss is minus a policy's
episode return in a JAX environment, trained by evolution strategies
(``estimator=subspace.estimators.es(...)``).

* :func:`gymnax_task` — a gymnax environment (``pip install "subspace-intrinsic[rl]"``),
  by name (``"CartPole-v1"``, ``"Pendulum-v1"``, ``"Breakout-MinAtar"``, ...) or as an
  ``(env, env_params)`` pair;
* :func:`brax_task` — a brax environment (``pip install "subspace-intrinsic[brax]"``);
* :func:`episode_return` — the rollout both use, for any environment given as pure
  ``reset(key) -> (obs, state)`` / ``step(key, state, action) -> (obs, state, reward,
  done)`` functions.

The policy is a flax linen module mapping one observation, with a leading batch axis of 1,
to outputs; the task maps outputs to an action by the environment's action space: the
argmax for a discrete space (a deterministic policy, as in Salimans et al. 2017), and
``low + (tanh(out) + 1) / 2 · (high - low)`` for a box. An episode is one ``lax.while_loop``
of at most ``max_steps`` steps that sums the rewards up to and including the first
``done``; vmapped over a population it runs until the last episode is done, the finished
ones masked. Episodes are pure functions of their keys: the same key gives the same return.

The task has no data and no model state: ``loss_fn(params, (), None, key)`` is minus the
mean return of ``episodes`` episodes drawn from ``key``, and ``eval_fn(params, (), None,
key)`` gives ``{"fitness": ...}``, the mean return of ``eval_episodes`` episodes from the
member's evaluation key (the same before and after training), which a measurement reports
as ``initial_fitness`` and ``final_fitness``.

Example:
  >>> task = gymnax_task("CartPole-v1", MLPPolicy(hidden=(20, 20), outputs=2))
  >>> sweep = subspace.make_sweep(task, optax.adam(0.1), projection="fastfood", width=8,
  ...                             estimator=subspace.estimators.es(64, 0.5))
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from subspace._checks import check_int
from subspace.task import Task

__all__ = ["brax_task", "episode_return", "gymnax_task", "q_task"]


def episode_return(
    reset: Callable[[jax.Array], tuple[Any, Any]],
    step: Callable[[jax.Array, Any, jax.Array], tuple[Any, Any, jax.Array, jax.Array]],
    act: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    max_steps: int,
) -> jax.Array:
    """The return of one episode: rewards summed up to and including the first ``done``.

    Args:
      reset: ``reset(key) -> (obs, state)``.
      step: ``step(key, state, action) -> (obs, state, reward, done)``.
      act: ``act(obs) -> action`` (the policy with its parameters bound).
      key: the episode's key (reset and every step's key derive from it).
      max_steps: the episode is cut there if not done before.

    Returns:
      The return, a float32 scalar.
    """
    max_steps = check_int(max_steps, "max_steps", 1, where="episode_return")
    reset_key, steps_key = jax.random.split(key)
    obs, state = reset(reset_key)
    keys = jax.random.split(steps_key, max_steps)

    def running(carry):
        t, _, _, _, alive = carry
        return (t < max_steps) & (alive > 0)

    def body(carry):
        t, obs, state, total, alive = carry
        obs, state, reward, done = step(keys[t], state, act(obs))
        total = total + alive * jnp.asarray(reward, jnp.float32)
        alive = alive * (1.0 - jnp.asarray(done, jnp.float32))
        return t + 1, obs, state, total, alive

    # A while loop, not a scan: it stops when the episode (under vmap, every episode of
    # the batch) is done, so short episodes cost only their own steps; the sum is the same.
    zero, one = jnp.zeros((), jnp.float32), jnp.ones((), jnp.float32)
    return jax.lax.while_loop(running, body, (jnp.zeros((), jnp.int32), obs, state, zero, one))[3]


def _policy_task(
    policy: Any, obs_shape: tuple, to_action, reset, step, max_steps, episodes, eval_episodes
) -> Task:
    """The task of ``policy`` on an environment given as pure reset/step functions."""

    def init(key):
        return policy.init(key, jnp.zeros((1, *obs_shape), jnp.float32))["params"], ()

    def fitness(params, key):
        def act(obs):
            out = policy.apply({"params": params}, obs.reshape(1, *obs_shape).astype(jnp.float32))
            return to_action(out[0]), jnp.all(jnp.isfinite(out))

        def checked_step(key, state, action):
            # A policy whose outputs are not finite has no action (argmax would pick 0):
            # its reward is NaN, so its return is, and the member is marked diverged.
            action, finite = action
            obs, state, reward, done = step(key, state, action)
            return obs, state, jnp.where(finite, reward, jnp.nan), done

        keys = jax.random.split(key, episodes)
        returns = jax.vmap(lambda k: episode_return(reset, checked_step, act, k, max_steps))(keys)
        return returns.mean()

    def loss_fn(params, model_state, batch, key):
        del batch  # the episodes are the data
        return -fitness(params, key), (model_state, {})

    def eval_fn(params, model_state, batch, key):
        del model_state, batch
        keys = jax.random.split(key, eval_episodes)
        returns = jax.vmap(lambda k: jnp.asarray(fitness(params, k), jnp.float32))(keys)
        return {"fitness": jnp.mean(returns)}

    return Task(init=init, loss_fn=loss_fn, eval_fn=eval_fn)


def _box_action(low, high, shape):
    low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
    size = math.prod(shape)

    def to_action(out):
        squashed = (jnp.tanh(out[:size].reshape(shape)) + 1.0) / 2.0
        return low + squashed * (high - low)

    return to_action, size


def gymnax_task(
    env: str | tuple[Any, Any],
    policy: Any,
    *,
    max_steps: int | None = None,
    episodes: int = 1,
    eval_episodes: int = 8,
    **env_kwargs: Any,
) -> Task:
    """A :class:`subspace.Task` whose loss is minus ``policy``'s mean return in a gymnax
    environment over ``episodes`` episodes.

    Args:
      env: a gymnax environment's name (``gymnax.registered_envs``), or an ``(env,
        env_params)`` pair from ``gymnax.make``.
      policy: a flax linen module: ``policy.apply({"params": p}, obs[None])`` gives (1, k)
        outputs, k >= the number of discrete actions or the size of the box action.
      max_steps: episode length cap; default (and at most) the environment's
        ``max_steps_in_episode``.
      episodes: episodes per loss evaluation (each from its own key).
      eval_episodes: episodes whose mean return ``eval_fn`` reports as ``fitness``.
      **env_kwargs: passed to ``gymnax.make`` with a name.

    Raises:
      ImportError: gymnax is not installed (the message gives the install line).
      ValueError / TypeError: an unknown environment or a bad argument, named, before any
        tracing.
    """
    where = "gymnax_task"
    episodes = check_int(episodes, "episodes", 1, where=where)
    eval_episodes = check_int(eval_episodes, "eval_episodes", 1, where=where)
    gymnax = _import("gymnax", "rl")
    if isinstance(env, str):
        if env not in gymnax.registered_envs:
            raise ValueError(
                f"{where}: env must be one of gymnax.registered_envs "
                f"({', '.join(gymnax.registered_envs)}); got {env!r}"
            )
        env, env_params = gymnax.make(env, **env_kwargs)
    elif isinstance(env, tuple) and len(env) == 2:
        env, env_params = env
    else:
        raise TypeError(
            f"{where}: env must be a gymnax environment name or an (env, env_params) "
            f"pair; got {type(env).__name__}"
        )
    limit = int(env_params.max_steps_in_episode)
    max_steps = limit if max_steps is None else check_int(max_steps, "max_steps", 1, where=where)
    if max_steps > limit:
        raise ValueError(
            f"{where}: max_steps must be <= the environment's max_steps_in_episode = "
            f"{limit}; got {max_steps}"
        )
    space = env.action_space(env_params)
    if hasattr(space, "n"):
        n = int(space.n)

        def to_action(out):
            return jnp.argmax(out[:n])

        needed = n
    else:
        to_action, needed = _box_action(space.low, space.high, tuple(space.shape))
    obs_shape = tuple(env.observation_space(env_params).shape)
    _check_outputs(policy, obs_shape, needed, where)

    def reset(key):
        return env.reset(key, env_params)

    def step(key, state, action):
        # step_env: no automatic reset after done (the rollout masks later rewards).
        obs, state, reward, done, _ = env.step_env(key, state, action, env_params)
        return obs, state, reward, done

    return _policy_task(
        policy, obs_shape, to_action, reset, step, max_steps, episodes, eval_episodes
    )


def q_task(
    env: str,
    network: Any,
    *,
    max_steps: int | None = None,
    eval_episodes: int = 8,
) -> Task:
    """A :class:`subspace.Task` of a Q-network on a gymnax environment with discrete
    actions, for DQN (``estimator=subspace.estimators.dqn(env, ...)``, :mod:`subspace.dqn`).

    ``network`` maps (B, *obs) observations to (B, A) Q-values, A the number of actions.
    ``loss_fn(params, (), batch, key)`` answers the two batches DQN asks: ``{"obs"}``
    gives ``metrics["q"]``, the Q-values (loss 0); ``{"obs", "action", "target"}`` the
    mean Huber loss (δ = 1) of the actions' Q-values against the targets, with
    ``metrics["q"]`` their mean. ``eval_fn`` is :func:`gymnax_task`'s: the mean return of
    ``eval_episodes`` greedy episodes (argmax of Q), reported as ``fitness``.
    """
    where = "q_task"
    if not isinstance(env, str):
        raise TypeError(f"{where}: env must be a gymnax environment name; got {env!r}")
    base = gymnax_task(env, network, max_steps=max_steps, eval_episodes=eval_episodes)
    gymnax = _import("gymnax", "rl")
    environment, env_params = gymnax.make(env)
    space = environment.action_space(env_params)
    if not hasattr(space, "n"):
        raise ValueError(f"{where}: env must have discrete actions; {env!r} has a box")
    n = int(space.n)
    shape = jax.eval_shape(base.init, jax.random.key(0))[0]
    obs_shape = tuple(environment.observation_space(env_params).shape)
    out = jax.eval_shape(
        lambda p: network.apply({"params": p}, jnp.zeros((1, *obs_shape), jnp.float32)), shape
    )
    if out.shape != (1, n):
        raise ValueError(
            f"{where}: network must give one Q-value per action, (B, {n}); got {out.shape[1:]} "
            "for one observation"
        )

    def loss_fn(params, model_state, batch, key):
        del key
        q = network.apply({"params": params}, batch["obs"])
        if "action" not in batch:  # a query: the Q-values
            return jnp.zeros((), q.dtype), (model_state, {"q": q})
        chosen = jnp.take_along_axis(q, batch["action"][:, None], axis=-1)[:, 0]
        loss = jnp.mean(_huber(chosen - batch["target"]))
        return loss, (model_state, {"q": jnp.mean(chosen)})

    return Task(init=base.init, loss_fn=loss_fn, eval_fn=base.eval_fn)


def _huber(x: jax.Array, delta: float = 1.0) -> jax.Array:
    a = jnp.abs(x)
    return jnp.where(a <= delta, 0.5 * x * x, delta * (a - 0.5 * delta))


def brax_task(
    env: str | Any,
    policy: Any,
    *,
    max_steps: int = 1000,
    episodes: int = 1,
    eval_episodes: int = 8,
    backend: str | None = None,
) -> Task:
    """A :class:`subspace.Task` on a brax environment (``brax.envs``), as
    :func:`gymnax_task`, actions squashed by tanh into [-1, 1] (brax's action range).

    Args:
      env: a name of ``brax.envs`` (``"humanoid"``, ``"inverted_pendulum"``, ...) or a
        brax ``Env``.
      policy: a flax linen module with at least ``env.action_size`` outputs.
      max_steps: episode length cap (brax's default episode length is 1000).
      episodes: episodes per loss evaluation.
      eval_episodes: episodes whose mean return ``eval_fn`` reports as ``fitness``.
      backend: brax physics backend for a name (``"mjx"``, ``"generalized"``, ...).

    Raises:
      ImportError: brax is not installed (the message gives the install line).
      ValueError: an unknown environment or a bad argument, named, before any tracing.
    """
    where = "brax_task"
    max_steps = check_int(max_steps, "max_steps", 1, where=where)
    episodes = check_int(episodes, "episodes", 1, where=where)
    eval_episodes = check_int(eval_episodes, "eval_episodes", 1, where=where)
    envs = _import("brax.envs", "brax")
    if isinstance(env, str):
        known = sorted(envs._envs)  # brax's registry (envs.get_environment reads it)
        if env not in known:
            raise ValueError(f"{where}: env must be one of {', '.join(known)}; got {env!r}")
        env = envs.get_environment(env, **({} if backend is None else {"backend": backend}))
    to_action, needed = _box_action(-1.0, 1.0, (env.action_size,))
    obs_shape = (env.observation_size,)
    _check_outputs(policy, obs_shape, needed, where)

    def reset(key):
        state = env.reset(key)
        return state.obs, state

    def step(key, state, action):
        del key  # brax's dynamics are deterministic
        state = env.step(state, action)
        return state.obs, state, state.reward, state.done

    return _policy_task(
        policy, obs_shape, to_action, reset, step, max_steps, episodes, eval_episodes
    )


def _check_outputs(policy: Any, obs_shape: tuple, needed: int, where: str) -> None:
    """The policy has ``init``/``apply`` and at least ``needed`` outputs (shapes only)."""
    if not (hasattr(policy, "init") and hasattr(policy, "apply")):
        raise TypeError(
            f"{where}: policy must be a flax linen module (init/apply); got {type(policy).__name__}"
        )

    def outputs(key):
        params = policy.init(key, jnp.zeros((1, *obs_shape), jnp.float32))["params"]
        return policy.apply({"params": params}, jnp.zeros((1, *obs_shape), jnp.float32))

    shape = jax.eval_shape(outputs, jax.random.key(0)).shape
    if len(shape) != 2 or shape[0] != 1 or shape[1] < needed:
        raise ValueError(
            f"{where}: policy must map a (1, {', '.join(map(str, obs_shape))}) observation to "
            f"(1, k) outputs with k >= {needed} (the action space's size); got {shape}"
        )


def _import(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f'{module} is needed for this task: pip install "subspace-intrinsic[{extra}]" ({e})'
        ) from None
