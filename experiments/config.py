"""What an experiment is, as data: a task, a measurement of it, and where it runs.

Each file in ``experiments/configs/`` defines ``get_config(smoke: bool = False) ->
Experiment`` returning plain data: the task by name (:mod:`experiments.tasks`: model and
data set, or policy and environment), the grid, the schedule (optimisers by name and
rate, estimators) and the read-out. Its docstring gives the exact command and the expected
runtime; ``smoke=True`` shrinks it to a test-sized run (big_vision's ``runlocal``).

``python -m experiments.run CONFIG --print-config`` prints one resolved; ``--set
schedule.epochs=10`` (:func:`subspace.config.override`) changes any field, with every
check run again.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any

import subspace
from experiments.tasks import TASKS, task_from_json
from subspace.config import from_json, to_json

__all__ = ["Experiment", "available", "describe", "load", "specs"]


def _part(cls: type):
    return lambda doc: from_json(cls, doc)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One intrinsic-dimension experiment.

    Attributes:
      name: the config's name (variants: ``mnist_fc_family_w50d2``).
      task: one of :data:`experiments.tasks.TASKS` (``ImageTask``, ``PolicyTask``,
        ``QTask``, ``ToyTask``).
      grid: :class:`subspace.Grid`.
      schedule: :class:`subspace.Schedule`.
      readout: :class:`subspace.Readout`.
      run: :class:`subspace.Run` (the command line's ``--out`` etc. land here; ``out``
        None: ``runs/NAME``).
      smoke: the config's test-sized variant.
    """

    name: str
    task: Any
    grid: subspace.Grid
    schedule: subspace.Schedule
    readout: subspace.Readout = subspace.Readout()
    run: subspace.Run = subspace.Run()
    smoke: bool = False

    JSON_FIELDS = {
        "task": task_from_json,
        "grid": _part(subspace.Grid),
        "schedule": _part(subspace.Schedule),
        "readout": _part(subspace.Readout),
        "run": _part(subspace.Run),
    }

    def __post_init__(self) -> None:
        if not isinstance(self.task, tuple(TASKS.values())):
            raise TypeError(
                f"Experiment: task must be an experiments.tasks task; got {self.task!r}"
            )
        self.measurement()  # the grid, schedule and read-out are checked together

    @property
    def label(self) -> str:
        """``d_int90``, ``d_int100``, ..."""
        return f"d_int{round(self.readout.fraction * 100)}"

    def measurement(self) -> subspace.Measurement:
        """The library's measurement: the results record the task in ``meta``."""
        return subspace.Measurement(
            grid=self.grid,
            schedule=self.schedule,
            readout=self.readout,
            name=self.name,
            meta={"task": to_json(self.task), "smoke": self.smoke},
        )

    def to_json(self) -> dict:
        return {f.name: to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_results(cls, config: dict) -> Experiment:
        """The experiment a results file's ``config`` records (its run settings are not)."""
        m = subspace.Measurement.from_json(config)
        return cls(
            name=m.name,
            task=task_from_json(m.meta["task"]),
            grid=m.grid,
            schedule=m.schedule,
            readout=m.readout,
            smoke=m.meta["smoke"],
        )


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
