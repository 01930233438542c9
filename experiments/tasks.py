"""The tasks of the experiments, described as data: what a config names, and how it is built.

Four kinds, each a frozen dataclass that checks itself, writes itself as JSON (with its
``kind``) and builds the library's :class:`subspace.Task`:

* :class:`ImageTask` — a model of ``models/`` (by name and keyword arguments) classifying
  MNIST or CIFAR-10 (offline files or TFDS), with the paper's variants (shuffled pixels,
  shuffled labels, a subset);
* :class:`PolicyTask` — a policy of ``models/`` in a gymnax or brax environment, its loss
  minus the episode return (trained by evolution strategies);
* :class:`QTask` — a Q-network of ``models/`` in a gymnax environment, trained by DQN;
* :class:`ToyTask` — the toy problem with a known answer (``experiments/toy.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import subspace
from subspace.config import from_json, to_json

__all__ = ["TASKS", "ImageTask", "Model", "PolicyTask", "QTask", "ToyTask", "task_from_json"]

INPUT_SHAPES = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
TRAIN_SIZES = {"mnist": 60_000, "cifar10": 50_000}  # the standard training sets


@dataclasses.dataclass(frozen=True)
class Model:
    """A model of ``models/`` by name (``models.MODELS``) and its attributes."""

    name: str
    kwargs: Any = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        from models import MODELS

        if self.name not in MODELS:
            raise ValueError(f"Model: name must be one of {sorted(MODELS)}; got {self.name!r}")
        if not isinstance(self.kwargs, dict) or not all(isinstance(k, str) for k in self.kwargs):
            raise TypeError(f"Model: kwargs must be a dict of attributes; got {self.kwargs!r}")
        self.build()  # an attribute the model does not have, or refuses, fails here

    def build(self) -> Any:
        """The flax linen module."""
        from models import get_model

        return get_model(self.name, **self.kwargs)


def _model(doc: Any) -> Model:
    return from_json(Model, doc, "task.model")


@dataclasses.dataclass(frozen=True)
class ImageTask:
    """A classifier of ``models/`` on MNIST or CIFAR-10, softmax cross-entropy, accuracy.

    Attributes:
      dataset: "mnist" or "cifar10".
      model: the network.
      train_limit: keep the first N training images (None: all).
      test_limit: keep the first N test images (None: all).
      shuffled_pixels: one fixed pixel permutation of every image (seed ``variant_seed``).
      label_fraction: shuffle this fraction of the training labels (None: none).
      variant_seed: seed of the permutation and of the label shuffle.
    """

    dataset: str
    model: Model
    train_limit: int | None = None
    test_limit: int | None = None
    shuffled_pixels: bool = False
    label_fraction: float | None = None
    variant_seed: int = 0

    kind = "image"
    JSON_FIELDS = {"model": _model}

    def __post_init__(self) -> None:
        if self.dataset not in INPUT_SHAPES:
            raise ValueError(
                f"ImageTask: dataset must be one of {sorted(INPUT_SHAPES)}; got {self.dataset!r}"
            )
        if not isinstance(self.model, Model):
            raise TypeError(f"ImageTask: model must be a Model(name, kwargs); got {self.model!r}")
        for name in ("train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(
                    f"ImageTask: {name} must be an integer >= 1 or None; got {value!r}"
                )

    @property
    def train_size(self) -> int:
        """The number of training examples the data will have (known before loading)."""
        return self.train_limit or TRAIN_SIZES[self.dataset]

    def build(self) -> subspace.Task:
        return subspace.linen_task(self.model.build(), INPUT_SHAPES[self.dataset])

    def load(self, data_dir: str | None, download: bool = False) -> subspace.Data:
        """The data (offline files or TFDS), with the variants applied."""
        from experiments.data import load as load_dataset
        from experiments.data import shuffle_labels, shuffle_pixels

        ds = load_dataset(  # a folder that was given is where the files are: no TFDS then
            self.dataset,
            source="files" if data_dir else "auto",
            data_dir=data_dir,
            limit=self.train_limit,
            download=download,
        )
        if self.shuffled_pixels:
            ds = shuffle_pixels(ds, seed=self.variant_seed)
        if self.label_fraction is not None:
            ds = shuffle_labels(ds, fraction=self.label_fraction, seed=self.variant_seed)
        test = len(ds.test_x) if self.test_limit is None else self.test_limit
        return subspace.Data(ds.train_x, ds.train_y, ds.test_x[:test], ds.test_y[:test])

    def to_json(self) -> dict:
        return {"kind": self.kind, **_fields(self)}


@dataclasses.dataclass(frozen=True)
class PolicyTask:
    """A policy of ``models/`` in a gymnax (``pip install -e ".[rl]"``) or brax
    (``".[brax]"``) environment: :func:`subspace.rl.gymnax_task` / ``brax_task``.

    Attributes:
      env: the environment's name.
      policy: the network (outputs: actions' scores, or the box action before tanh).
      suite: "gymnax" or "brax".
      max_steps: episode length cap (None: the environment's; brax: 1,000).
      episodes: episodes per loss evaluation.
      eval_episodes: episodes of the evaluation (``final_fitness``).
    """

    env: str
    policy: Model
    suite: str = "gymnax"
    max_steps: int | None = None
    episodes: int = 1
    eval_episodes: int = 8

    kind = "policy"
    JSON_FIELDS = {"policy": _model}

    def __post_init__(self) -> None:
        if self.suite not in ("gymnax", "brax"):
            raise ValueError(f"PolicyTask: suite must be 'gymnax' or 'brax'; got {self.suite!r}")
        if not isinstance(self.policy, Model):
            raise TypeError(f"PolicyTask: policy must be a Model; got {self.policy!r}")

    def build(self) -> subspace.Task:
        common = {"episodes": self.episodes, "eval_episodes": self.eval_episodes}
        if self.suite == "brax":
            max_steps = 1000 if self.max_steps is None else self.max_steps
            return subspace.rl.brax_task(
                self.env, self.policy.build(), max_steps=max_steps, **common
            )
        return subspace.rl.gymnax_task(
            self.env, self.policy.build(), max_steps=self.max_steps, **common
        )

    def to_json(self) -> dict:
        return {"kind": self.kind, **_fields(self)}


@dataclasses.dataclass(frozen=True)
class QTask:
    """A Q-network of ``models/`` on a gymnax environment with discrete actions, trained by
    DQN (:func:`subspace.rl.q_task`; ``pip install -e ".[rl]"``).

    Attributes:
      env: the environment's name.
      network: the Q-network (one output per action).
      max_steps: the evaluation episodes' length cap (None: the environment's).
      eval_episodes: greedy episodes of the evaluation (``final_fitness``).
    """

    env: str
    network: Model
    max_steps: int | None = None
    eval_episodes: int = 8

    kind = "q"
    JSON_FIELDS = {"network": _model}

    def __post_init__(self) -> None:
        if not isinstance(self.network, Model):
            raise TypeError(f"QTask: network must be a Model; got {self.network!r}")

    def build(self) -> subspace.Task:
        return subspace.rl.q_task(
            self.env,
            self.network.build(),
            max_steps=self.max_steps,
            eval_episodes=self.eval_episodes,
        )

    def to_json(self) -> dict:
        return {"kind": self.kind, **_fields(self)}


@dataclasses.dataclass(frozen=True)
class ToyTask:
    """The toy problem (D = 1000, d_int100 = 10): :data:`experiments.toy.TASK`."""

    kind = "toy"

    def build(self) -> subspace.Task:
        from experiments import toy

        return toy.TASK

    def to_json(self) -> dict:
        return {"kind": self.kind}


#: The task kinds by their JSON ``kind``.
TASKS: dict[str, type] = {cls.kind: cls for cls in (ImageTask, PolicyTask, QTask, ToyTask)}


def _fields(task: Any) -> dict:
    return {f.name: to_json(getattr(task, f.name)) for f in dataclasses.fields(task)}


def task_from_json(doc: Any) -> Any:
    """The task :meth:`to_json` wrote (``{"kind": ..., ...}``)."""
    if not isinstance(doc, dict) or doc.get("kind") not in TASKS:
        raise ValueError(f"task must be an object with kind in {sorted(TASKS)}; got {doc!r:.200}")
    fields = {k: v for k, v in doc.items() if k != "kind"}
    return from_json(TASKS[doc["kind"]], fields, "task")
