"""Where the gradient of z comes from: a value with two pure functions, ``init`` and
``estimate``, in the shape of an optax ``GradientTransformation``.

The trainer (:func:`subspace.make_trainer`), the sweeps (:func:`subspace.make_sweep`,
:func:`subspace.make_baseline`) and :func:`subspace.measure` take ``estimator=``; all
that differs between backpropagation and evolution strategies is this one value:

* :func:`backprop` — the value and gradient of the loss by reverse-mode autodiff (the
  default);
* :func:`es` — the antithetic, centred-rank evolution-strategies estimate of the gradient
  of the Gaussian-smoothed loss (Salimans et al., 2017), which needs only the loss's values
  (an episode's return, a non-differentiable objective);
* :func:`dqn` — deep Q-learning (:mod:`subspace.dqn`): ε-greedy steps of its own
  environments, a replay buffer and a target copy of z, all in the estimator's state;
* :func:`quantised` — quantisation-aware training: the loss at z quantised to a codebook of
  L levels, its gradient passed to z straight through, the codebook (the estimator's own
  state) trained beside z with its own Adam (Lotfi et al., 2022; :mod:`subspace.bounds`).

An estimator is a frozen dataclass (so it is data: it compares, hashes and is written to a
results file by :func:`to_json`) with

* ``init(z, key) -> state``: its own state, carried in ``TrainState.estimator_state`` (``()``
  for backprop and ES; the codebook and its optimiser state for ``quantised``; an
  off-policy learner keeps a replay buffer or a target copy of z there);
* ``estimate(loss_fn, z, model_state, batch, key, state, *, mask, D) -> Estimate``: the loss,
  an estimate of its gradient at z (the structure of z), the model's new state, metrics and
  the estimator's new state. ``loss_fn(z, model_state, batch, key) -> (loss, (model_state,
  metrics))``; ``mask`` marks the coordinates of z in use (1.0; padding 0.0) or is None
  when all are, and ``D`` is the number of parameters z moves (θ's size).

Reference: T. Salimans, J. Ho, X. Chen, S. Sidor, I. Sutskever, "Evolution Strategies as a
Scalable Alternative to Reinforcement Learning", arXiv:1703.03864, 2017.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from subspace import config
from subspace._checks import check_bool, check_float, check_int
from subspace.quantise import straight_through, uniform_codebook

__all__ = [
    "DQN",
    "ESTIMATORS",
    "Backprop",
    "ES",
    "Estimate",
    "Estimator",
    "Quantised",
    "QuantisedState",
    "backprop",
    "check_estimator",
    "dqn",
    "es",
    "from_json",
    "quantised",
    "to_json",
]


class Estimate(NamedTuple):
    """What one call of an estimator gives."""

    loss: jax.Array  # scalar: the loss at z (ES: the population's mean loss)
    grad: Any  # the estimated gradient of the loss, structured like z
    model_state: Any  # the model's new state (BatchNorm statistics; () if none)
    metrics: dict  # the loss function's metrics and the estimator's own
    state: Any  # the estimator's new state


class Estimator(Protocol):
    """The two pure functions every estimator has (see the module docstring)."""

    name: str

    def init(self, z: Any, key: jax.Array) -> Any: ...

    def estimate(
        self,
        loss_fn: Callable,
        z: Any,
        model_state: Any,
        batch: Any,
        key: jax.Array,
        state: Any,
        *,
        mask: jax.Array | None = None,
        D: int | None = None,  # noqa: N803 -- the paper's symbol
    ) -> Estimate: ...


class _Stateless:
    """What the estimators here share: no state of their own, JSON with their name."""

    def to_json(self) -> dict:
        return to_json(self)

    def init(self, z: Any, key: jax.Array) -> tuple:
        del z, key
        return ()


@dataclasses.dataclass(frozen=True)
class Backprop(_Stateless):
    """The value and gradient of the loss by reverse-mode autodiff (``jax.value_and_grad``)."""

    name = "backprop"

    def estimate(self, loss_fn, z, model_state, batch, key, state, *, mask=None, D=None):  # noqa: N803
        del mask, D  # a masked loss already gives masked coordinates zero gradient
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, (model_state, metrics)), grad = grad_fn(z, model_state, batch, key)
        return Estimate(loss, grad, model_state, metrics, state)


@dataclasses.dataclass(frozen=True)
class ES(_Stateless):
    """Evolution strategies: the gradient of the Gaussian-smoothed loss from its values.

    A call draws ε_1..ε_n ~ N(0, I) over the coordinates in use (mirrored pairs ±ε with
    ``antithetic``, each pair sharing its key), evaluates F_i = -loss(z + σ ε_i), shapes
    the F_i to centred ranks u_i in [-0.5, 0.5] and returns -ĝ with
    ĝ = 1/(n σ) Σ_i u_i ε_i ≈ ∇_z E_ε[F(z + σ ε)]: the optimiser, which minimises,
    ascends F. The loss reported is the population's mean, its metric ``loss_min`` the
    best member's. z may be a pytree (the full-parameter baseline): ε is drawn over its
    flattened leaves.

    Attributes:
      population: n, loss evaluations per call; even with ``antithetic``.
      sigma: σ > 0, the standard deviation of the perturbations of z.
      antithetic: mirrored sampling (n/2 perturbations and their negatives).
      sigma_in_theta: σ is the perturbation's size per parameter of θ for every d: with
        d coordinates in use out of D parameters, z is perturbed with σ √(D/d), so that
        ||P σ_z ε|| ≈ σ √D as in the full-parameter baseline (P's columns have unit norm).
    """

    population: int
    sigma: float
    antithetic: bool = True
    sigma_in_theta: bool = False
    name = "es"

    def __post_init__(self) -> None:
        where = "es"
        antithetic = check_bool(self.antithetic, "antithetic", where=where)
        if antithetic:
            what = (
                "an even integer >= 2 (antithetic=True pairs every perturbation with its negative)"
            )
            population = check_int(self.population, "population", 2, where=where, what=what)
            if population % 2:
                raise ValueError(f"{where}: population must be {what}; got {population}")
        else:
            population = check_int(self.population, "population", 2, where=where)
        object.__setattr__(self, "population", population)
        object.__setattr__(self, "sigma", check_float(self.sigma, "sigma", where, positive=True))
        check_bool(self.sigma_in_theta, "sigma_in_theta", where=where)

    def estimate(self, loss_fn, z, model_state, batch, key, state, *, mask=None, D=None):  # noqa: N803
        flat, unravel = ravel_pytree(z)
        sigma = self.sigma
        if self.sigma_in_theta:
            d = flat.shape[0] if mask is None else jnp.sum(mask)
            sigma = sigma * jnp.sqrt((flat.shape[0] if D is None else D) / d)

        def fitness(x, k):
            loss, _ = loss_fn(unravel(x), model_state, batch, k)
            return -loss

        g, fit = _es_gradient(
            fitness,
            flat,
            mask,
            key,
            population=self.population,
            sigma=sigma,
            antithetic=self.antithetic,
        )
        metrics = {"loss_min": -fit.max()}
        return Estimate(-fit.mean(), unravel(-g), model_state, metrics, state)


class QuantisedState(NamedTuple):
    """The state of :class:`Quantised`: the codebook and its optimiser's state."""

    codebook: jax.Array  # (levels,)
    opt_state: Any


@dataclasses.dataclass(frozen=True)
class Quantised:
    """Quantisation-aware training of z and a codebook of ``levels`` values together.

    The loss is evaluated at ``codebook[nearest level of each coordinate]``
    (:func:`subspace.quantise.straight_through`): its gradient goes to z unchanged (the
    straight-through estimator; the trainer's optimiser updates z) and to every level as
    the sum over its coordinates (Adam with ``learning_rate`` updates the codebook here).
    ``init`` spaces the levels evenly over z's range; :mod:`subspace.bounds` starts them
    from k-means of each member's own d coordinates instead. z must be an array (a
    subspace member, not the full-parameter baseline).
    """

    levels: int
    learning_rate: float = 1e-4
    name = "quantised"

    def __post_init__(self) -> None:
        where = "quantised"
        object.__setattr__(self, "levels", check_int(self.levels, "levels", 2, where=where))
        lr = check_float(self.learning_rate, "learning_rate", where, positive=True)
        object.__setattr__(self, "learning_rate", lr)

    def to_json(self) -> dict:
        return to_json(self)

    def _tx(self) -> optax.GradientTransformation:
        return optax.adam(self.learning_rate)

    def init(self, z: Any, key: jax.Array) -> QuantisedState:
        del key
        if not isinstance(z, jax.Array | np.ndarray) or jnp.ndim(z) != 1:
            raise TypeError(f"quantised: z must be a 1-D array (a subspace member); got {z!r}")
        return self.start(uniform_codebook(jnp.asarray(z), self.levels))

    def start(self, codebook: jax.Array) -> QuantisedState:
        """The state that starts training from ``codebook`` (its optimiser state fresh)."""
        return QuantisedState(codebook, self._tx().init(codebook))

    def estimate(self, loss_fn, z, model_state, batch, key, state, *, mask=None, D=None):  # noqa: N803
        del mask, D  # the masked loss gives padded coordinates zero gradient, levels too

        def loss_at(z, codebook):
            return loss_fn(straight_through(z, codebook), model_state, batch, key)

        grad_fn = jax.value_and_grad(loss_at, argnums=(0, 1), has_aux=True)
        (loss, (model_state, metrics)), (gz, gc) = grad_fn(z, state.codebook)
        updates, opt_state = self._tx().update(gc, state.opt_state, state.codebook)
        codebook = optax.apply_updates(state.codebook, updates)
        return Estimate(loss, gz, model_state, metrics, QuantisedState(codebook, opt_state))


from subspace.dqn import DQN, dqn  # noqa: E402 -- it builds on Estimate, defined above

#: The estimators by name (what :func:`from_json` reads).
ESTIMATORS: dict[str, type] = {"backprop": Backprop, "es": ES, "quantised": Quantised, "dqn": DQN}


def backprop() -> Backprop:
    """The gradient of the loss by backpropagation (the default estimator)."""
    return Backprop()


def es(
    population: int, sigma: float, *, antithetic: bool = True, sigma_in_theta: bool = False
) -> ES:
    """The evolution-strategies estimator (see :class:`ES`), checked when built.

    Example:
      >>> subspace.measure(subspace.rl.gymnax_task("CartPole-v1", policy), dims=[1, 2, 4],
      ...     steps=50, optimizer=subspace.Optimizer("adam", 0.1),
      ...     estimator=subspace.estimators.es(64, 0.5), ...)
    """
    return ES(population, sigma, antithetic=antithetic, sigma_in_theta=sigma_in_theta)


def quantised(levels: int, *, learning_rate: float = 1e-4) -> Quantised:
    """Quantisation-aware training on ``levels`` levels (see :class:`Quantised`)."""
    return Quantised(levels, learning_rate)


def to_json(estimator: Any) -> dict:
    """``{"name": ..., **hyperparameters}`` of an estimator dataclass."""
    if not dataclasses.is_dataclass(estimator) or not isinstance(
        getattr(estimator, "name", None), str
    ):
        raise TypeError(
            "estimator must be a dataclass with a name, init and estimate (subspace.estimators"
            f".backprop() or .es(...)); got {estimator!r}"
        )
    return {"name": estimator.name, **dataclasses.asdict(estimator)}


def from_json(doc: Any) -> Any:
    """The estimator :func:`to_json` wrote; a clear error for an unknown or malformed one."""
    if not isinstance(doc, dict) or doc.get("name") not in ESTIMATORS:
        raise ValueError(
            f"estimator must be one of {sorted(ESTIMATORS)} as {{'name': ..., ...}}; got {doc!r}"
        )
    fields = {k: v for k, v in doc.items() if k != "name"}
    return config.from_json(ESTIMATORS[doc["name"]], fields, f"estimator {doc['name']!r}")


def check_estimator(estimator: Any, where: str) -> Any:
    """``estimator`` if it has ``init`` and ``estimate``; else a TypeError naming ``where``."""
    if not (
        callable(getattr(estimator, "init", None))
        and callable(getattr(estimator, "estimate", None))
    ):
        raise TypeError(
            f"{where}: estimator must be a subspace.estimators estimator (backprop() or "
            f"es(population, sigma)); got {estimator!r}"
        )
    return estimator


# --- the ES estimate (private; tested directly) ---


def _centered_ranks(x: jax.Array) -> jax.Array:
    """Ranks of ``x`` (0 for the smallest) scaled to [-0.5, 0.5] (Salimans et al.)."""
    n = x.shape[0]
    ranks = jnp.argsort(jnp.argsort(x)).astype(x.dtype)
    return ranks / (n - 1) - 0.5


def _es_gradient(
    fitness: Callable[[jax.Array, jax.Array], jax.Array],
    z: jax.Array,
    mask: jax.Array | None,
    key: jax.Array,
    *,
    population: int,
    sigma: float | jax.Array,
    antithetic: bool,
) -> tuple[jax.Array, jax.Array]:
    """ĝ = 1/(n σ) Σ_i u_i ε_i ≈ ∇ E[fitness(z + σ ε)] for a flat z, and the n fitnesses.

    ``fitness(z, key) -> scalar`` (higher is better); ε is drawn from ``split(key)[0]``
    (times ``mask`` unless None), the episode keys from ``split(key)[1]``; with
    ``antithetic``, ε_{n/2+i} = -ε_i and the pair shares its key.
    """
    eps_key, episode_key = jax.random.split(key)
    half = population // 2 if antithetic else population
    eps = jax.random.normal(eps_key, (half, z.shape[0]), z.dtype)
    if mask is not None:
        eps = eps * mask
    keys = jax.random.split(episode_key, half)
    if antithetic:
        eps = jnp.concatenate([eps, -eps])
        keys = jnp.concatenate([keys, keys])
    fit = jax.vmap(lambda e, k: fitness(z + sigma * e, k))(eps, keys)
    fit = jnp.asarray(fit, z.dtype).reshape(population)
    # A non-finite fitness (a policy with NaN outputs) ranks last, not first (argsort puts
    # NaN at the end); the population's mean loss stays NaN, so the member is diverged.
    shaped = _centered_ranks(jnp.where(jnp.isnan(fit), -jnp.inf, fit))
    return shaped @ eps / (population * sigma), fit
