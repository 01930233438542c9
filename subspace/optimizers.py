"""An optax optimiser described as data, so that a measurement can be written down whole.

``Optimizer("adam", 1e-2)`` is ``optax.adam(1e-2)``; ``Optimizer("sgd", 0.1, weight_decay=
5e-4, options={"momentum": 0.9})`` is ``optax.chain(optax.add_decayed_weights(5e-4),
optax.sgd(0.1, momentum=0.9))``; ``Optimizer("lbfgs", None)`` is ``optax.lbfgs()``. Any
optax optimiser factory can be named; its keyword options must be JSON numbers, strings,
booleans or null. What this adds to optax: a frozen, comparable value that is checked
when built (the factory exists and accepts the options) and round-trips through JSON, so
results files record the optimiser and a resumed run can compare it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any

import optax

from subspace._checks import check_float
from subspace.config import from_json

__all__ = ["Optimizer"]

_SCALARS = (bool, int, float, str, type(None))


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """An optax optimiser by name, learning rate and options.

    Attributes:
      name: an optax optimiser factory, ``optax.<name>`` (``"adam"``, ``"sgd"``,
        ``"adamw"``, ``"lbfgs"``, ...).
      learning_rate: its learning rate, a finite number > 0, or None for a factory that
        needs none (``"lbfgs"``, whose line search sets the step).
      weight_decay: L2 coefficient λ >= 0: the gradient of λ/2 ||x||² is added before the
        optimiser (``optax.add_decayed_weights``); 0 adds nothing. (A factory's own,
        decoupled weight decay, as ``adamw``'s, goes in ``options``.)
      options: the factory's other keyword arguments (JSON scalars), e.g.
        ``{"momentum": 0.9}``; stored as sorted (name, value) pairs.

    Example:
      >>> Optimizer("adam", 1e-3).build()  # optax.adam(1e-3)
    """

    name: str = "adam"
    learning_rate: float | None = 1e-3
    weight_decay: float = 0.0
    options: Any = ()

    def __post_init__(self) -> None:
        where = "Optimizer"
        factory = getattr(optax, self.name, None) if isinstance(self.name, str) else None
        if not callable(factory) or self.name.startswith("_"):
            raise ValueError(
                f"{where}: name must be an optax optimiser factory (optax.<name>, e.g. 'adam', "
                f"'sgd', 'adamw', 'lbfgs'); got {self.name!r}"
            )
        if self.learning_rate is not None:
            lr = check_float(self.learning_rate, "learning_rate", where, positive=True)
            object.__setattr__(self, "learning_rate", lr)
        wd = check_float(self.weight_decay, "weight_decay", where, positive=False)
        object.__setattr__(self, "weight_decay", wd)
        object.__setattr__(self, "options", _options(self.options, where))
        try:
            built = self.build()
        except TypeError as e:  # an option (or a missing learning rate) the factory refuses
            raise ValueError(f"{where}: optax.{self.name} refuses these arguments: {e}") from None
        if not isinstance(built, optax.GradientTransformation):
            raise ValueError(
                f"{where}: optax.{self.name} is not an optimiser factory (it built a "
                f"{type(built).__name__}, not an optax.GradientTransformation)"
            )

    def build(self) -> optax.GradientTransformation:
        """The optax transformation this describes."""
        kwargs = dict(self.options)
        if self.learning_rate is not None:
            kwargs["learning_rate"] = self.learning_rate
        tx = getattr(optax, self.name)(**kwargs)
        if self.weight_decay:
            tx = optax.chain(optax.add_decayed_weights(self.weight_decay), tx)
        return tx

    def to_json(self) -> dict:
        """``{"name", "learning_rate", "weight_decay", "options"}``."""
        return {
            "name": self.name,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "options": dict(self.options),
        }

    @classmethod
    def from_json(cls, doc: Any) -> Optimizer:
        """The optimiser :meth:`to_json` wrote (a clear error for anything else)."""
        return from_json(cls, doc)

    def __str__(self) -> str:
        parts = [] if self.learning_rate is None else [f"{self.learning_rate:g}"]
        parts += [f"{k}={v}" for k, v in self.options]
        if self.weight_decay:
            parts.append(f"weight decay {self.weight_decay:g}")
        return f"{self.name}({', '.join(parts)})"


def _options(options: Any, where: str) -> tuple[tuple[str, Any], ...]:
    if isinstance(options, Mapping):
        items = list(options.items())
    elif isinstance(options, (tuple, list)) and all(
        isinstance(p, (tuple, list)) and len(p) == 2 for p in options
    ):
        items = [tuple(p) for p in options]
    else:
        raise TypeError(f"{where}: options must be a dict of keyword arguments; got {options!r}")
    for name, value in items:
        if not isinstance(name, str) or name == "learning_rate":
            raise ValueError(
                f"{where}: options must be keyword arguments other than learning_rate (a "
                f"field of its own); got {name!r}"
            )
        finite = not isinstance(value, numbers.Real) or isinstance(value, bool)
        if not isinstance(value, _SCALARS) or not (finite or math.isfinite(value)):
            raise TypeError(
                f"{where}: option {name} must be a finite number, a string, a bool or None; "
                f"got {value!r}"
            )
    return tuple(sorted(items))
