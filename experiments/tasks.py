"""The tasks of the experiments, described as data: what a config names, and how it is built.

Six kinds, each a frozen dataclass that checks itself, writes itself as JSON (with its
``kind``) and builds the library's :class:`subspace.Task`:

* :class:`ImageTask` — a model of ``models/`` (by name and keyword arguments) classifying
  MNIST or CIFAR-10 (offline files or TFDS), with the paper's variants (shuffled pixels,
  shuffled labels, a subset);
* :class:`BurnInTask` — the same, θ0 each seed's network after a few steps of training;
* :class:`PolicyTask` — a policy of ``models/`` in a gymnax or brax environment, its loss
  minus the episode return (trained by evolution strategies);
* :class:`TransferTask` — a classifier pretrained on some classes, fine-tuned on others;
* :class:`QTask` — a Q-network of ``models/`` in a gymnax environment, trained by DQN;
* :class:`ToyTask` — the toy problem with a known answer (``experiments/toy.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

import subspace
from subspace.config import from_json, to_json

__all__ = [
    "TASKS",
    "BurnInTask",
    "ImageTask",
    "Model",
    "PolicyTask",
    "QTask",
    "ToyTask",
    "TransferTask",
    "task_from_json",
]

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
class BurnInTask(ImageTask):
    """An :class:`ImageTask` whose θ0 for seed s is seed s's initialisation after
    ``burn_in_steps`` steps of full-parameter training (Larsen et al., 2022's burn-in
    subspaces; :func:`subspace.theta0.burn_in`): Adam ``burn_in_lr``, batches of
    ``burn_in_batch``, the measurement's training data in its first minibatch order, the
    seeds trained together once. 0 steps is the seed's own initialisation. The members
    and the full-parameter baseline both start from it (the baseline's budget is the
    config's epochs, after the burn-in). :meth:`pretrained` does the burn-in once the data
    are there (the command line calls it before measuring).
    """

    burn_in_steps: int = 0
    burn_in_lr: float = 1e-3
    burn_in_batch: int = 128

    kind = "burn_in"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.burn_in_steps, int) or self.burn_in_steps < 0:
            raise ValueError(
                f"BurnInTask: burn_in_steps must be an integer >= 0; got {self.burn_in_steps!r}"
            )

    def pretrained(
        self, task: subspace.Task, data_dir: str | None, download: bool = False, *, seeds: Any
    ) -> subspace.Task:
        """``task`` with each seed's burnt-in θ0 (``task`` itself for 0 steps)."""
        import optax

        if self.burn_in_steps == 0:
            return task
        print(f"burn-in: {self.burn_in_steps} steps of full-parameter training, seeds {seeds}")
        return subspace.theta0.burn_in(
            task,
            optax.adam(self.burn_in_lr),
            steps=self.burn_in_steps,
            data=self.load(data_dir, download),
            batch_size=self.burn_in_batch,
            seeds=list(seeds),
        )


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


#: Training examples per class of the standard training sets (a class subset's size is
#: known before loading, and the loaded data are checked against it).
CLASS_COUNTS = {
    "mnist": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "cifar10": (5000,) * 10,
}


@dataclasses.dataclass(frozen=True)
class TransferTask:
    """Fine-tuning a classifier pretrained on some classes of a data set on the others
    (SAID's setting, Aghajanyan et al. 2021, at small scale).

    The measurement trains and evaluates on the ``target`` classes only (training and test
    images of those labels; the network keeps its 10 outputs). θ0 of every member is the
    network of seed ``pretrain_seed`` trained for ``pretrain_epochs`` epochs on the
    ``source`` classes (Adam, ``pretrain_lr``, batches of ``pretrain_batch``), and the
    full-parameter baseline is full fine-tuning from it; 0 epochs is a random θ0 (each
    member's own seed, as everywhere else). With ``new_head`` (default) the last layer,
    the classifier, is not the pretrained one but each member's own initialisation (its
    seed's), as fine-tuning on a new task starts a new task head (SAID's setting): a
    head trained to answer the source classes would first have to be un-learned. The
    rest of θ0 is the pretrained body, the same for every member. :meth:`pretrained`
    does the pretraining once the data are there (the command line calls it before
    measuring).

    Attributes:
      dataset: "mnist" or "cifar10".
      model: the network.
      source, target: disjoint class labels (0-9).
      pretrain_epochs: epochs on the source classes, >= 0.
      pretrain_lr, pretrain_batch, pretrain_seed: the pretraining's Adam rate, batch size
        and seed.
      new_head: re-initialise the last layer from each member's seed (True) or keep the
        pretrained one (False).
      train_limit, test_limit: keep the first N target training (test) images, and the
        first N source images for pretraining (None: all; for smoke runs).
    """

    dataset: str
    model: Model
    source: tuple[int, ...]
    target: tuple[int, ...]
    pretrain_epochs: int
    pretrain_lr: float = 1e-3
    pretrain_batch: int = 128
    pretrain_seed: int = 0
    train_limit: int | None = None
    test_limit: int | None = None
    new_head: bool = True

    kind = "transfer"
    JSON_FIELDS = {"model": _model, "source": tuple, "target": tuple}

    def __post_init__(self) -> None:
        ImageTask(self.dataset, self.model, self.train_limit, self.test_limit)  # its checks
        for name in ("source", "target"):
            labels = tuple(getattr(self, name))
            if not labels or not all(isinstance(c, int) and 0 <= c <= 9 for c in labels):
                raise ValueError(f"TransferTask: {name} must be class labels in 0..9; got {labels}")
            object.__setattr__(self, name, labels)
        if set(self.source) & set(self.target):
            raise ValueError(
                f"TransferTask: source and target must be disjoint; both hold "
                f"{sorted(set(self.source) & set(self.target))}"
            )
        if not isinstance(self.new_head, bool):
            raise TypeError(f"TransferTask: new_head must be True or False; got {self.new_head!r}")
        if not isinstance(self.pretrain_epochs, int) or self.pretrain_epochs < 0:
            raise ValueError(
                "TransferTask: pretrain_epochs must be an integer >= 0; got "
                f"{self.pretrain_epochs!r}"
            )

    @property
    def train_size(self) -> int:
        """The number of target training examples (known before loading)."""
        n = sum(CLASS_COUNTS[self.dataset][c] for c in self.target)
        return n if self.train_limit is None else min(n, self.train_limit)

    def build(self) -> subspace.Task:
        return subspace.linen_task(self.model.build(), INPUT_SHAPES[self.dataset])

    def _full(self, data_dir: str | None, download: bool) -> Any:
        from experiments.data import load as load_dataset

        return load_dataset(
            self.dataset,
            source="files" if data_dir else "auto",
            data_dir=data_dir,
            download=download,
        )

    def load(self, data_dir: str | None, download: bool = False) -> subspace.Data:
        """The target classes' training and test images."""
        ds = self._full(data_dir, download)
        train, test = _of(ds.train_y, self.target), _of(ds.test_y, self.target)
        train, test = train[: self.train_limit], test[: self.test_limit]
        return subspace.Data(ds.train_x[train], ds.train_y[train], ds.test_x[test], ds.test_y[test])

    def pretrained(
        self, task: subspace.Task, data_dir: str | None, download: bool = False, *, seeds: Any
    ) -> subspace.Task:
        """``task`` with θ0 pretrained on the source classes (``task`` itself for 0
        epochs); prints the pretrained network's test accuracy on the source classes.
        ``seeds`` (the measurement's) are not used: one pretrained θ0 serves every seed."""
        del seeds
        import numpy as np
        import optax

        if self.pretrain_epochs == 0:
            return task
        ds = self._full(data_dir, download)
        train, test = _of(ds.train_y, self.source), _of(ds.test_y, self.source)
        train = train[: self.train_limit]
        source = subspace.Data(
            ds.train_x[train], ds.train_y[train], ds.test_x[test], ds.test_y[test]
        )
        baseline = subspace.make_baseline(task, optax.adam(self.pretrain_lr))
        steps = self.pretrain_epochs * (len(train) // self.pretrain_batch)
        out = subspace.train_group(
            baseline,
            (np.array([baseline.width]), np.array([self.pretrain_seed])),
            steps=steps,
            data=source,
            batch_size=self.pretrain_batch,
        )
        if not out["finite"][0]:
            raise ValueError("TransferTask: the pretraining diverged")
        print(
            f"pretrained on classes {list(self.source)}: {steps} steps, test accuracy "
            f"{float(out['test_accuracy'][0]):.4f}"
        )
        params = jax.tree_util.tree_map(lambda a: a[0], out["params"])
        state = jax.tree_util.tree_map(lambda a: a[0], out["model_state"])
        pretrained = subspace.theta0.with_theta0(task, params, state)
        if not self.new_head:
            return pretrained
        head = list(params)[-1]  # the last layer the model calls: its classifier
        print(f"the head ({head}) starts from each member's own initialisation")

        def init(key: jax.Array) -> tuple[Any, Any]:
            theta0, model_state = pretrained.init(key)
            return {**theta0, head: task.init(key)[0][head]}, model_state

        return subspace.Task(init=init, loss_fn=task.loss_fn, eval_fn=task.eval_fn)

    def to_json(self) -> dict:
        return {"kind": self.kind, **_fields(self)}


def _of(labels: Any, classes: tuple[int, ...]) -> Any:
    """The indices of the examples whose label is in ``classes``, in order."""
    import numpy as np

    return np.flatnonzero(np.isin(labels, classes))


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
TASKS: dict[str, type] = {
    cls.kind: cls for cls in (BurnInTask, ImageTask, PolicyTask, QTask, ToyTask, TransferTask)
}


def _fields(task: Any) -> dict:
    return {f.name: to_json(getattr(task, f.name)) for f in dataclasses.fields(task)}


def task_from_json(doc: Any) -> Any:
    """The task :meth:`to_json` wrote (``{"kind": ..., ...}``)."""
    if not isinstance(doc, dict) or doc.get("kind") not in TASKS:
        raise ValueError(f"task must be an object with kind in {sorted(TASKS)}; got {doc!r:.200}")
    fields = {k: v for k, v in doc.items() if k != "kind"}
    return from_json(TASKS[doc["kind"]], fields, "task")
