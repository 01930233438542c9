"""DQN as a gradient source: deep Q-learning of z, with its environments, replay buffer and
target copy of z in the estimator's own state.

:func:`dqn` returns an estimator (see :mod:`subspace.estimators`) for a task made by
:func:`subspace.rl.q_task`, whose loss function answers two kinds of batch: ``{"obs"}``
gives the Q-values of the observations (``metrics["q"]``, no loss), and ``{"obs",
"action", "target"}`` the Huber TD loss of those actions' Q-values against the targets.
Each call of ``estimate`` is one environment step of every one of ``envs`` environments
(ε-greedy on the Q-values at z), the transitions written to a ring buffer, one minibatch
drawn from it (uniformly; a pure function of the step's key), its targets
r + γ·(1 − done)·Q_target(s′, a′) computed with the target z (double DQN: a′ = argmax of
Q at z, van Hasselt et al. 2016; plain DQN: the max of Q_target), and the gradient of the
TD loss at z, which is zero until ``learning_starts`` steps have passed and the buffer
holds a batch. The target z is z as it was every ``target_interval`` steps.

Because everything DQN carries is the estimator's state (``TrainState.estimator_state``),
:func:`subspace.measure` trains members × environments in one program, groups, shards,
checkpoints and resumes it like any other measurement, and the full-parameter baseline
(``make_baseline`` with the same estimator) runs the same code on θ.

An episode cut by the environment's time limit (gymnax's ``truncated``) is not terminal:
its last transition keeps the bootstrap term, with the observation before the automatic
reset (``info["final_observation"]``) as s′; only ``terminated`` stops the target.

Reference: V. Mnih et al., "Human-level control through deep reinforcement learning",
Nature 518, 2015.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from subspace._checks import check_bool, check_int, check_real

__all__ = ["DQN", "DQNState", "Transitions", "dqn"]


class Transitions(NamedTuple):
    """The replay buffer: ``capacity`` transitions (a ring, ``DQNState.position`` next)."""

    obs: jax.Array  # (capacity, *obs_shape) float32
    action: jax.Array  # (capacity,) int32
    reward: jax.Array  # (capacity,) float32
    next_obs: jax.Array  # (capacity, *obs_shape) float32
    done: jax.Array  # (capacity,) float32


class DQNState(NamedTuple):
    """What DQN carries from one step to the next (one member's)."""

    env_state: Any  # (envs, ...) the environments' states
    obs: jax.Array  # (envs, *obs_shape) their current observations
    buffer: Transitions
    position: jax.Array  # int32: the next slot written
    size: jax.Array  # int32: transitions held (<= capacity)
    target: Any  # the target z (the structure of z)
    step: jax.Array  # int32: estimate calls so far
    running: jax.Array  # (envs,) float32: the current episodes' returns so far
    last_return: jax.Array  # () float32: the mean return of the last episodes finished


@functools.lru_cache(maxsize=16)
def _environment(name: str) -> tuple[Any, Any]:
    from subspace.rl import _import

    gymnax = _import("gymnax", "rl")
    if name not in gymnax.registered_envs:
        raise ValueError(
            f"dqn: env must be one of gymnax.registered_envs ({', '.join(gymnax.registered_envs)})"
            f"; got {name!r}"
        )
    env, params = gymnax.make(name)
    if not hasattr(env.action_space(params), "n"):
        raise ValueError(f"dqn: env must have discrete actions; {name!r} has a box")
    return env, params


@dataclasses.dataclass(frozen=True)
class DQN:
    """Deep Q-learning of z (see the module docstring); hyperparameters:

    Attributes:
      env: a gymnax environment with discrete actions, by name.
      envs: environments stepped in parallel per member (transitions per step).
      buffer_size: replay capacity, >= ``batch_size``.
      batch_size: transitions per gradient step.
      learning_starts: steps before the first gradient (the buffer fills with ε ≈ 1).
      target_interval: steps between refreshes of the target z, >= 1.
      epsilon_start, epsilon_end, epsilon_steps: ε decays linearly from start to end over
        that many steps, then stays; each in [0, 1].
      gamma: the discount, in [0, 1].
      double: double DQN's targets (default) or plain DQN's.
    """

    env: str = "CartPole-v1"
    envs: int = 1
    buffer_size: int = 10_000
    batch_size: int = 64
    learning_starts: int = 1_000
    target_interval: int = 500
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_steps: int = 10_000
    gamma: float = 0.99
    double: bool = True
    name = "dqn"

    def __post_init__(self) -> None:
        where = "dqn"
        set_ = object.__setattr__
        if not isinstance(self.env, str):
            raise TypeError(f"{where}: env must be a gymnax environment name; got {self.env!r}")
        for field, low in (
            ("envs", 1),
            ("batch_size", 1),
            ("learning_starts", 0),
            ("target_interval", 1),
            ("epsilon_steps", 1),
        ):
            set_(self, field, check_int(getattr(self, field), field, low, where=where))
        set_(self, "buffer_size", check_int(self.buffer_size, "buffer_size", 1, where=where))
        if self.buffer_size < self.batch_size:
            raise ValueError(
                f"{where}: buffer_size must be >= batch_size = {self.batch_size} (a batch is "
                f"drawn from the buffer); got {self.buffer_size}"
            )
        for field in ("epsilon_start", "epsilon_end", "gamma"):
            set_(self, field, check_real(getattr(self, field), field, where, low=0.0, high=1.0))
        check_bool(self.double, "double", where=where)
        _environment(self.env)  # a known name with discrete actions, before any work

    def to_json(self) -> dict:
        from subspace.estimators import to_json

        return to_json(self)

    def epsilon(self, step: jax.Array) -> jax.Array:
        """ε after ``step`` steps: linear from ``epsilon_start`` to ``epsilon_end``."""
        frac = jnp.minimum(step / self.epsilon_steps, 1.0)
        return self.epsilon_start + frac * (self.epsilon_end - self.epsilon_start)

    def init(self, z: Any, key: jax.Array) -> DQNState:
        env, params = _environment(self.env)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(key, self.envs), params
        )
        obs = obs.astype(jnp.float32)
        n = self.buffer_size
        buffer = Transitions(
            obs=jnp.zeros((n, *obs.shape[1:]), jnp.float32),
            action=jnp.zeros(n, jnp.int32),
            reward=jnp.zeros(n, jnp.float32),
            next_obs=jnp.zeros((n, *obs.shape[1:]), jnp.float32),
            done=jnp.zeros(n, jnp.float32),
        )
        zero = jnp.zeros((), jnp.int32)
        running = jnp.zeros(self.envs, jnp.float32)
        target = jax.tree_util.tree_map(jnp.asarray, z)
        return DQNState(env_state, obs, buffer, zero, zero, target, zero, running, jnp.zeros(()))

    def estimate(self, loss_fn, z, model_state, batch, key, state, *, mask=None, D=None):  # noqa: N803
        del batch, mask, D  # the environments are the data; the masked loss masks z
        env, params = _environment(self.env)
        k_q, k_explore, k_random, k_env, k_sample, k_loss = jax.random.split(key, 6)

        def q_values(z, obs, key):
            return loss_fn(z, model_state, {"obs": obs}, key)[1][1]["q"]

        # Act: ε-greedy on the Q-values at z, one step of every environment.
        q = q_values(z, state.obs, k_q)
        eps = self.epsilon(state.step)
        explore = jax.random.uniform(k_explore, (self.envs,)) < eps
        random = jax.random.randint(k_random, (self.envs,), 0, q.shape[-1])
        action = jnp.where(explore, random, jnp.argmax(q, axis=-1)).astype(jnp.int32)
        obs, env_state, reward, terminated, truncated, info = jax.vmap(
            env.step, in_axes=(0, 0, 0, None)
        )(jax.random.split(k_env, self.envs), state.env_state, action, params)
        reward = reward.astype(jnp.float32)
        done = terminated.astype(jnp.float32)  # what the target stops at
        ended = (terminated | truncated).astype(jnp.float32)  # what ends the episode
        next_obs = info["final_observation"].astype(jnp.float32)  # before the auto-reset

        # Store: the ring buffer's next envs slots.
        slots = (state.position + jnp.arange(self.envs)) % self.buffer_size
        buffer = Transitions(
            *(
                b.at[slots].set(v)
                for b, v in zip(
                    state.buffer, (state.obs, action, reward, next_obs, done), strict=True
                )
            )
        )
        size = jnp.minimum(state.size + self.envs, self.buffer_size)
        position = (state.position + self.envs) % self.buffer_size

        # Learn: one minibatch, its targets from the target z, the TD loss's gradient at z.
        rows = sample(k_sample, size, self.batch_size)
        b = Transitions(*(x[rows] for x in buffer))
        q_next = q_values(state.target, b.next_obs, k_q)
        if self.double:
            best = jnp.argmax(q_values(z, b.next_obs, k_q), axis=-1)
        else:
            best = jnp.argmax(q_next, axis=-1)
        bootstrap = jnp.take_along_axis(q_next, best[:, None], axis=-1)[:, 0]
        target = jax.lax.stop_gradient(b.reward + self.gamma * (1.0 - b.done) * bootstrap)
        td = {"obs": b.obs, "action": b.action, "target": target}
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, (model_state, metrics)), grad = grad_fn(z, model_state, td, k_loss)
        learn = (state.step >= self.learning_starts) & (size >= self.batch_size)
        grad = jax.tree_util.tree_map(lambda g: jnp.where(learn, g, jnp.zeros_like(g)), grad)

        # The target z: z as it is every target_interval steps.
        step = state.step + 1
        refresh = step % self.target_interval == 0
        target_z = jax.tree_util.tree_map(
            lambda t, now: jnp.where(refresh, now, t), state.target, z
        )
        running = state.running + reward
        finished = jnp.sum(ended)
        last = jnp.where(
            finished > 0, jnp.sum(running * ended) / jnp.maximum(finished, 1), state.last_return
        )
        obs = obs.astype(jnp.float32)  # the next episode's first where one ended
        new = DQNState(
            env_state, obs, buffer, position, size, target_z, step, running * (1 - ended), last
        )
        metrics = {**metrics, "epsilon": eps, "episode_return": last}
        return _estimate(loss, grad, model_state, metrics, new)


def sample(key: jax.Array, size: jax.Array, batch_size: int) -> jax.Array:
    """``batch_size`` buffer rows drawn uniformly from the ``size`` filled ones (with
    replacement); a pure function of ``key`` and ``size``."""
    return jax.random.randint(key, (batch_size,), 0, jnp.maximum(size, 1))


def _estimate(*fields: Any) -> Any:
    from subspace.estimators import Estimate

    return Estimate(*fields)


def dqn(env: str = "CartPole-v1", **hyperparameters: Any) -> DQN:
    """The DQN estimator on gymnax environment ``env`` (see :class:`DQN` for the rest)."""
    return DQN(env, **hyperparameters)
