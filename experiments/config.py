"""What an experiment is: a task, its data, optimiser, grid of d and how d_int is read.

Each file in ``experiments/configs/`` defines ``get_config(smoke: bool = False) ->
Experiment``; its docstring gives the exact command, the hyperparameters and the expected
runtime. ``smoke=True`` shrinks it to a test-sized run.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable

import numpy as np
import optax

from subspace.es import ES, ESTask
from subspace.loop import Data
from subspace.sweep import Task

__all__ = ["Experiment", "available", "describe", "load", "specs"]


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One intrinsic-dimension experiment.

    Attributes:
      name: the config's name.
      task: model and loss (:class:`subspace.sweep.Task`), or a policy and its environment
        (:class:`subspace.ESTask`) trained by evolution strategies with ``es``.
      optimizer: ``optimizer(lr) -> optax.GradientTransformation``.
      lr: learning rate of the subspace runs (of z).
      baseline_lr: learning rate of the full-parameter baseline; None means ``lr``. The
        two are tuned apart: a step of z moves θ along unit-norm random directions, and
        short budgets need a larger rate in z than in θ.
      dims: the coarse grid of d.
      seeds: seeds per d.
      projections: projections to sweep.
      steps: optimisation steps (full-batch problems), or None to use ``epochs``.
      epochs: epochs over the training set (data problems).
      batch_size: minibatch size (data problems).
      data: ``data(data_dir, download=False) -> subspace.loop.Data`` (``download`` lets
        TFDS fetch the data set), or None for a full-batch problem.
      train_size: the number of training examples ``data`` gives (data problems): the
        steps per epoch follow from it before any data is read, and the loaded data are
        checked against it.
      metric: name of the metric d_int is read from (a key of a member's results).
      metric_fn: ``metric_fn(results) -> values``: the metric of every member from the
        arrays :func:`subspace.loop.train_group` returns.
      higher_is_better: True for accuracy, False for a loss.
      threshold: an absolute threshold (the toy's tolerance), or None for
        ``fraction`` × the baseline's mean metric.
      fraction: 0.9 for d_int90, 1.0 for d_int100.
      baseline: train the full-parameter baseline (needed when ``threshold`` is None).
      shuffle_seed: seed of the minibatch order.
      es: the ES hyperparameters of the subspace runs (an ESTask only); ``steps`` counts
        generations.
      baseline_es: the ES hyperparameters of the full-parameter baseline (σ per parameter
        of θ); None means ``es``.
    """

    name: str
    task: Task | ESTask
    optimizer: Callable[[float], optax.GradientTransformation]
    lr: float
    dims: tuple[int, ...]
    baseline_lr: float | None = None
    seeds: int = 3
    projections: tuple[str, ...] = ("fastfood",)
    steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    data: Callable[..., Data] | None = None
    train_size: int | None = None
    metric: str = "test_accuracy"
    metric_fn: Callable[[dict[str, np.ndarray]], np.ndarray] = lambda r: r["test_accuracy"]
    higher_is_better: bool = True
    threshold: float | None = None
    fraction: float = 0.9
    baseline: bool = True
    shuffle_seed: int = 0
    es: ES | None = None
    baseline_es: ES | None = None

    @property
    def label(self) -> str:
        """``d_int90``, ``d_int100``, ..."""
        return f"d_int{round(self.fraction * 100)}"


def available() -> list[str]:
    """Names of the configs in ``experiments/configs``."""
    import experiments.configs as configs

    return sorted(m.name for m in pkgutil.iter_modules(configs.__path__) if not m.ispkg)


def specs() -> list[str]:
    """Every runnable config name, variants included (``mnist_fc_family:w50d2``, ...)."""
    names = []
    for base in available():
        module = importlib.import_module(f"experiments.configs.{base}")
        variants = getattr(module, "VARIANTS", None)
        names += [base] if variants is None else [f"{base}:{v}" for v in variants]
    return names


def describe(name: str) -> str:
    """One line on a config (what ``--list`` prints): its docstring's first paragraph, or
    for a variant the module's ``describe(variant)``."""
    base, _, variant = name.partition(":")
    module = importlib.import_module(f"experiments.configs.{base}")
    if variant and hasattr(module, "describe"):
        return module.describe(variant)
    return " ".join((module.__doc__ or "").strip().split("\n\n")[0].split())


def load(name: str, *, smoke: bool = False) -> Experiment:
    """The :class:`Experiment` of config ``name`` (``smoke`` shrinks it for tests).

    ``name`` may carry a variant after a colon, ``mnist_fc_family:w100d2``, for configs
    that define ``VARIANTS`` and take ``get_config(smoke, variant)``.
    """
    base, _, variant = name.partition(":")
    names = available()
    if base not in names:
        raise ValueError(f"unknown config {base!r}; available: {', '.join(names)}")
    module = importlib.import_module(f"experiments.configs.{base}")
    variants = getattr(module, "VARIANTS", None)
    if variants is None:
        if variant:
            raise ValueError(f"config {base!r} has no variants; got {name!r}")
        return module.get_config(smoke=smoke)
    if variant not in variants:
        raise ValueError(
            f"config {base!r} needs a variant, one of {', '.join(variants)} "
            f"(e.g. {base}:{variants[0]}); got {variant or 'none'!r}"
        )
    return module.get_config(smoke=smoke, variant=variant)
