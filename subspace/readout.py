"""How d_int is read from a measurement's members: the metric, its direction, the threshold.

A :class:`Readout` names the value d_int is read from: one output of
:func:`subspace.train_group` (``test_accuracy``, ``final_fitness``, ...) or the ratio or
difference of two (``final_loss/initial_loss``, ``final_fitness-initial_fitness``), so a
derived metric is data, not a closure; members record it under that name.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Mapping

import numpy as np

from subspace._checks import check_bool

__all__ = ["Readout"]


def _fail(where: str, name: str, allowed: str, value, exc: type = ValueError):
    raise exc(f"{where}: {name} must be {allowed}; got {value!r:.200}")


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_METRIC = re.compile(rf"^\s*({_NAME})\s*(?:([/-])\s*({_NAME})\s*)?$")


@dataclasses.dataclass(frozen=True)
class Readout:
    """How d_int is read from the members' results.

    Attributes:
      metric: the value d_int is read from: an output of :func:`subspace.train_group`
        (``test_<name>`` / ``train_<name>`` of the task's metrics with data,
        ``final_<name>`` / ``initial_<name>`` without, ``last_step_loss``), or the ratio or
        difference of two (``"final_loss/initial_loss"``: the loss relative to θ0's;
        ``"final_fitness-initial_fitness"``: the gain over θ0). Members record it under
        this name.
      higher_is_better: True for an accuracy or a return, False for a loss.
      fraction: how close to the baseline's mean metric b a member must come: 0.9 for
        d_int90, 1.0 for d_int100. The threshold is ``fraction × b`` when higher is better
        and ``b / fraction`` when lower is better (a loss within 1/0.9 of the baseline's),
        so a smaller fraction is always the looser bar; b must be > 0 (a fraction of a
        zero or negative metric is no bar: give ``threshold``).
      threshold: an absolute threshold instead (then no baseline is needed).
    """

    metric: str = "test_accuracy"
    higher_is_better: bool = True
    fraction: float = 0.9
    threshold: float | None = None

    def __post_init__(self) -> None:
        where = "Readout"
        found = _METRIC.match(self.metric) if isinstance(self.metric, str) else None
        if found is None:
            _fail(
                where,
                "metric",
                "a metric name (e.g. 'test_accuracy'), or 'a/b' or 'a-b' of two",
                self.metric,
                TypeError if not isinstance(self.metric, str) else ValueError,
            )
        a, op, b = found.groups()
        object.__setattr__(self, "metric", a if op is None else f"{a}{op}{b}")
        check_bool(self.higher_is_better, "higher_is_better", where=where)
        fraction = self.fraction
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
            _fail(where, "fraction", "a number in (0, 1]", fraction, TypeError)
        if not 0 < fraction <= 1:
            _fail(where, "fraction", "a number in (0, 1]", fraction)
        object.__setattr__(self, "fraction", float(fraction))
        t = self.threshold
        if t is not None and (
            isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(t)
        ):
            _fail(where, "threshold", "a finite number or None", t, TypeError)

    def threshold_for(self, baseline: float | None) -> float:
        """The threshold d_int is read at, given the baseline's mean metric (or None).

        Raises:
          ValueError: no absolute threshold and a baseline that is missing, non-finite or
            <= 0.
        """
        if self.threshold is not None:
            return float(self.threshold)
        if baseline is None or not math.isfinite(baseline) or baseline <= 0:
            raise ValueError(
                f"the baseline's mean {self.metric} is {baseline}: a fraction of a metric that "
                "is not > 0 is no threshold; give an absolute readout.threshold instead"
            )
        return self.fraction * baseline if self.higher_is_better else baseline / self.fraction

    @property
    def inputs(self) -> tuple[str, ...]:
        """The outputs of :func:`subspace.train_group` the metric is computed from."""
        return tuple(re.split(r"[/-]", self.metric))

    def values(self, outputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The metric of every member from :func:`subspace.train_group`'s outputs."""
        a, *b = self.inputs
        x = np.asarray(outputs[a])
        if b:  # in the outputs' own dtype (float32), then widened as a single name is
            y = np.asarray(outputs[b[0]])
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                x = x / y if "/" in self.metric else x - y
        return np.asarray(x, np.float64)
