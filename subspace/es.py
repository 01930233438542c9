"""Evolution strategies (ES) in a random subspace, as members of a :class:`~subspace.sweep.Sweep`.

θ = θ0 + P z with only z ∈ R^d trained, by the ES gradient estimate of Salimans et al.
(2017) instead of backpropagation: a generation draws ε_1..ε_n ~ N(0, I_d) (mirrored
pairs ±ε with ``antithetic``), evaluates the fitness F_i = f(θ0 + P(z + σ ε_i)), shapes
the fitnesses to centred ranks u_i in [-0.5, 0.5], and estimates

    ĝ = 1/(n σ) Σ_i u_i ε_i  ≈  ∇_z E_ε[f(θ0 + P(z + σ ε))],

the gradient of the Gaussian-smoothed fitness, which an optax optimiser then ascends
(it is given -ĝ, as optax minimises).

The implementation is plain jax + optax: evosax is not a dependency, and the sweep
engine needs one exact batched shape (members vmapped, each with its z padded to the
sweep's width W and masked past its d, every generation a pure function of the
member's key and step), so the whole population of every member is one vmapped program
that :func:`subspace.train_group` runs for G generations with the members sharded over
devices, exactly like gradient-trained sweeps.

Member (d, seed) is defined alone, as in :func:`~subspace.make_sweep`:
``init_key, proj_key, train_key = member_keys(seed)``; θ0 = ``task.init(init_key)``;
P = the width-W projection drawn from ``proj_key`` (with ``padded_options``), its first d
columns in use; generation s draws ε and the episode keys from
``fold_in(train_key, s)``; the evaluation's episode keys come from
``split(train_key)[1]`` (the same before and after training).

Reference: T. Salimans, J. Ho, X. Chen, S. Sidor, I. Sutskever, "Evolution Strategies as
a Scalable Alternative to Reinforcement Learning", arXiv:1703.03864, 2017.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from subspace._checks import check_bool, check_int
from subspace.flatten import Unravel, ravel
from subspace.sweep import (
    Sweep,
    SweepState,
    _check_optimizer,
    _check_width,
    masked_z,
    member_keys,
    no_z,
    padded_options,
    vmapped_sweep,
)
from subspace.train import TrainState
from subspace.wrap import check_options, wrap

__all__ = ["ES", "ESTask", "make_es_baseline", "make_es_sweep"]


@dataclasses.dataclass(frozen=True)
class ESTask:
    """What ES trains: an initialiser and a fitness to maximise, on full parameters.

    Attributes:
      init: ``init(key) -> params``, θ0 (a pytree of float arrays).
      fitness: ``fitness(params, key) -> scalar``, higher is better (e.g. an episode's
        return); a pure function of ``params`` and ``key`` (the key draws the episode).
      eval_fitness: optional ``eval_fitness(params, key) -> scalar`` used by ``evaluate``
        (e.g. without exploration noise); default ``fitness``.
    """

    init: Callable[[jax.Array], Any]
    fitness: Callable[[Any, jax.Array], jax.Array]
    eval_fitness: Callable[[Any, jax.Array], jax.Array] | None = None


@dataclasses.dataclass(frozen=True)
class ES:
    """The ES hyperparameters of a measurement (:func:`subspace.measure` with an
    :class:`ESTask`); the keyword arguments of :func:`make_es_sweep` and
    :func:`make_es_baseline`, checked when built.

    Attributes:
      population: n, fitness evaluations per generation; even with ``antithetic``.
      sigma: σ > 0, the standard deviation of the perturbations (of z, or of θ for the
        full-parameter baseline).
      antithetic: mirrored sampling.
      eval_episodes: episodes (keys) the evaluation averages.
      weight_decay: L2 coefficient λ >= 0.
      sigma_in_theta: σ is the perturbation's size per parameter of θ, for every d: member
        d perturbs z with σ √(D/d), so that ||P σ_z ε|| ≈ σ √D as in the full-parameter
        baseline (P's columns have unit length); False: σ is on z for every d.
    """

    population: int
    sigma: float
    antithetic: bool = True
    eval_episodes: int = 8
    weight_decay: float = 0.0
    sigma_in_theta: bool = False

    def __post_init__(self) -> None:
        checked = _check_es_args(
            "ES",
            self.population,
            self.sigma,
            self.antithetic,
            self.eval_episodes,
            self.weight_decay,
            self.sigma_in_theta,
        )
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`make_es_sweep` / :func:`make_es_baseline`."""
        return dataclasses.asdict(self)


def make_es_sweep(
    task: ESTask,
    optimizer: optax.GradientTransformation,
    *,
    projection: str,
    width: int,
    population: int,
    sigma: float,
    antithetic: bool = True,
    eval_episodes: int = 8,
    weight_decay: float = 0.0,
    sigma_in_theta: bool = False,
    **options: Any,
) -> Sweep:
    """ES in random subspaces: a :class:`~subspace.sweep.Sweep` whose members have d <= ``width``.

    Each member (d, seed) trains z ∈ R^d (padded to ``width`` with a mask) in θ = θ0 + P z.
    A generation estimates ĝ = 1/(n σ) Σ_i u_i ε_i from n = ``population`` perturbations
    ε_i (masked past d, mirrored ± with ``antithetic``, each pair sharing its episode key)
    and the centred ranks u_i ∈ [-0.5, 0.5] of the fitnesses f(θ0 + P(z + σ ε_i)), then
    steps ``optimizer`` on -ĝ + ``weight_decay`` · z; masked coordinates stay exactly 0.

    Args:
      task: the initialiser and fitness (:class:`ESTask`).
      optimizer: any optax ``GradientTransformation`` that needs only the gradient (not
        ``optax.lbfgs``), applied to each member's z.
      projection: "dense", "sparse" or "fastfood".
      width: W, the padded width of z (the largest d of the sweep).
      population: n, fitness evaluations per generation; even with ``antithetic``.
      sigma: σ > 0, the standard deviation of the perturbations of z.
      antithetic: mirrored sampling (n/2 perturbations and their negatives).
      eval_episodes: episodes (keys) whose fitness ``evaluate`` averages.
      weight_decay: L2 coefficient λ >= 0 on z (the gradient of λ/2 ||z||²).
      sigma_in_theta: member d perturbs z with σ √(D/d) (σ per parameter of θ, as in the
        baseline) instead of σ.
      **options: projection options (``density``, ``max_bytes``).

    Returns:
      A ``Sweep``: ``init(ds, seeds)``; ``update(state, None) -> (state, metrics)``, one
      generation per member, metrics ``loss`` (-mean population fitness),
      ``fitness_mean``, ``fitness_max``; ``evaluate(state, None) -> {"fitness": ...}``,
      the mean ``eval_fitness`` of θ0 + P z over ``eval_episodes`` keys; ``trained``
      gives every member's z. None is jitted; run it with :func:`subspace.train_group`.

    Raises:
      TypeError / ValueError: a bad argument, named, before anything is traced.

    Example:
      >>> task = ESTask(init=lambda k: {"w": jax.random.normal(k, (10,))},
      ...               fitness=lambda p, k: -jnp.sum((p["w"] - 1.0) ** 2))
      >>> sweep = make_es_sweep(task, optax.adam(0.1), projection="dense", width=8,
      ...                       population=32, sigma=0.1)
      >>> out = subspace.train_group(sweep, (np.array([3, 8]), np.array([0, 0])), steps=50)
      >>> out["final_fitness"], out["z"]

    Reference: Salimans et al., "Evolution Strategies as a Scalable Alternative to
    Reinforcement Learning", 2017.
    """
    where = "make_es_sweep"
    _check_es_task(task, where)
    _check_optimizer(optimizer, where)
    check_options(projection, options, where)
    width = _check_width(width, where)
    es = _check_es_args(
        where, population, sigma, antithetic, eval_episodes, weight_decay, sigma_in_theta
    )
    opts = {**padded_options(projection, width), **options}

    def init_one(d: jax.Array, seed: jax.Array) -> SweepState:
        init_key, proj_key, train_key = member_keys(seed)
        sub = wrap(task.init(init_key), width, projection=projection, key=proj_key, **opts)
        mask = (jnp.arange(width) < d).astype(sub.dtype)
        z = sub.zeros()
        train = TrainState(z, optimizer.init(z), (), jnp.zeros((), jnp.int32), train_key)
        return SweepState(sub, mask, train)

    def update_one(state: SweepState, batch: Any) -> tuple[SweepState, dict]:
        del batch
        sub, mask = state.subspace, state.mask
        sigma = es["sigma"]
        if es["sigma_in_theta"]:
            sigma = sigma * jnp.sqrt(sub.D / jnp.sum(mask))
        train, metrics = _generation(
            lambda z, key: task.fitness(sub.params(z * mask), key),
            optimizer,
            es,
            train=state.train,
            mask=mask,
            sigma=sigma,
        )
        return state._replace(train=train), metrics

    def evaluate_one(state: SweepState, batch: Any) -> dict:
        del batch
        params = state.subspace.params(state.train.z * state.mask)
        return {"fitness": _eval_fitness(task, params, state.train.key, es["eval_episodes"])}

    return vmapped_sweep(init_one, update_one, evaluate_one, width=width, trained=masked_z)


def make_es_baseline(
    task: ESTask,
    optimizer: optax.GradientTransformation,
    *,
    population: int,
    sigma: float,
    antithetic: bool = True,
    eval_episodes: int = 8,
    weight_decay: float = 0.0,
    sigma_in_theta: bool = False,
) -> Sweep:
    """The full-parameter ES baseline of ``task``, one member per seed, as a :class:`Sweep`.

    The same ES as :func:`make_es_sweep` on all D parameters θ (flat, via
    :func:`subspace.ravel`; θ0 from the seed's ``init_key``, ε from ``fold_in(train_key,
    s)``), so baseline and subspace members are comparable. Same contract:
    ``init(ds, seeds)`` where every d is ``width`` = D; ``state.train.z`` is the flat θ;
    ``trained(state)`` is None. Arguments as in :func:`make_es_sweep` (``sigma_in_theta``
    changes nothing here: d = D).

    Reference: Salimans et al., "Evolution Strategies as a Scalable Alternative to
    Reinforcement Learning", 2017.
    """
    where = "make_es_baseline"
    _check_es_task(task, where)
    _check_optimizer(optimizer, where)
    es = _check_es_args(
        where, population, sigma, antithetic, eval_episodes, weight_decay, sigma_in_theta
    )
    unravel = _unravel_of(task)
    D = unravel.D  # noqa: N806 -- the paper's symbol

    def init_one(d: jax.Array, seed: jax.Array) -> SweepState:
        del d  # every member trains all D parameters
        init_key, _, train_key = member_keys(seed)
        theta, _ = ravel(task.init(init_key))
        theta = theta.astype(jnp.promote_types(theta.dtype, jnp.float32))
        train = TrainState(theta, optimizer.init(theta), (), jnp.zeros((), jnp.int32), train_key)
        return SweepState(None, None, train)

    def params(theta: jax.Array) -> Any:
        return unravel(theta.astype(unravel.dtype))

    def update_one(state: SweepState, batch: Any) -> tuple[SweepState, dict]:
        del batch
        train, metrics = _generation(
            lambda theta, key: task.fitness(params(theta), key),
            optimizer,
            es,
            train=state.train,
            mask=None,
            sigma=es["sigma"],
        )
        return state._replace(train=train), metrics

    def evaluate_one(state: SweepState, batch: Any) -> dict:
        del batch
        theta = params(state.train.z)
        return {"fitness": _eval_fitness(task, theta, state.train.key, es["eval_episodes"])}

    return vmapped_sweep(init_one, update_one, evaluate_one, width=D, trained=no_z)


# --- the estimator (private; tested directly) ---


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
    sigma: float,
    antithetic: bool,
) -> tuple[jax.Array, jax.Array]:
    """The ES estimate ĝ = 1/(n σ) Σ_i u_i ε_i of ∇ E[fitness(z + σ ε)] and the n fitnesses.

    ``fitness(z, key) -> scalar``; ε is drawn from ``key`` (times ``mask`` unless None);
    with ``antithetic``, ε_{n/2+i} = -ε_i and the pair shares its episode key.
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
    shaped = _centered_ranks(fit)
    return shaped @ eps / (population * sigma), fit


def _generation(
    fitness, optimizer, es, *, train: TrainState, mask, sigma
) -> tuple[TrainState, dict]:
    """One ES generation on ``train.z``: estimate with ``sigma`` (a float or the member's
    traced σ), optimiser step on -ĝ (+ weight decay)."""
    key = jax.random.fold_in(train.key, train.step)
    g, fit = _es_gradient(
        fitness,
        train.z,
        mask,
        key,
        population=es["population"],
        sigma=sigma,
        antithetic=es["antithetic"],
    )
    grad = -g + es["weight_decay"] * train.z
    updates, opt_state = optimizer.update(grad, train.opt_state, train.z)
    z = optax.apply_updates(train.z, updates)
    if mask is not None:
        z = z * mask
    metrics = {"loss": -fit.mean(), "fitness_mean": fit.mean(), "fitness_max": fit.max()}
    return train._replace(z=z, opt_state=opt_state, step=train.step + 1), metrics


def _eval_fitness(task: ESTask, params: Any, train_key: jax.Array, episodes: int) -> jax.Array:
    """Mean evaluation fitness over ``episodes`` keys from ``split(train_key)[1]``."""
    f = task.fitness if task.eval_fitness is None else task.eval_fitness
    keys = jax.random.split(jax.random.split(train_key)[1], episodes)
    return jnp.mean(jax.vmap(lambda k: jnp.asarray(f(params, k), jnp.float32))(keys))


def _unravel_of(task: ESTask) -> Unravel:
    """The :class:`Unravel` of ``task.init``'s params, found by tracing it once (no work)."""
    found = []

    def flat(key):
        theta, unravel = ravel(task.init(key))
        found.append(unravel)
        return theta

    jax.eval_shape(flat, jax.random.key(0))
    return found[0]


# --- argument checks (host-side, before any tracing) ---


def _check_es_task(task: Any, where: str) -> None:
    if not isinstance(task, ESTask):
        raise TypeError(
            f"{where}: task must be a subspace.es.ESTask(init, fitness, eval_fitness); "
            f"got {type(task).__name__}"
        )
    for name in ("init", "fitness"):
        if not callable(getattr(task, name)):
            raise TypeError(f"{where}: task.{name} must be callable; got {getattr(task, name)!r}")
    if task.eval_fitness is not None and not callable(task.eval_fitness):
        raise TypeError(
            f"{where}: task.eval_fitness must be callable or None; got {task.eval_fitness!r}"
        )


def _check_es_args(
    where: str,
    population: Any,
    sigma: Any,
    antithetic: Any,
    eval_episodes: Any,
    weight_decay: Any,
    sigma_in_theta: Any = False,
) -> dict[str, Any]:
    antithetic = check_bool(antithetic, "antithetic", where=where)
    if antithetic:
        population = check_int(
            population, "population", 2, where=where, what="an even integer >= 2 (antithetic=True)"
        )
        if population % 2:
            raise ValueError(
                f"{where}: population must be an even integer >= 2 (antithetic=True pairs "
                f"every perturbation with its negative); got {population}"
            )
    else:
        population = check_int(population, "population", 2, where=where)
    sigma = _check_float(sigma, "sigma", where, positive=True)
    weight_decay = _check_float(weight_decay, "weight_decay", where, positive=False)
    eval_episodes = check_int(eval_episodes, "eval_episodes", 1, where=where)
    return {
        "population": population,
        "sigma": sigma,
        "antithetic": antithetic,
        "eval_episodes": eval_episodes,
        "weight_decay": weight_decay,
        "sigma_in_theta": check_bool(sigma_in_theta, "sigma_in_theta", where=where),
    }


def _check_float(value: Any, name: str, where: str, *, positive: bool) -> float:
    what = "a finite number > 0" if positive else "a finite number >= 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be {what}; got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{where}: {name} must be {what}; got {value!r}")
    return value
