"""The experiments' names for the library's Flax tasks (:mod:`subspace.flax_tasks`).

``classification_task`` is :func:`subspace.flax_tasks.linen_task` and
``nnx_classification_task`` is :func:`subspace.flax_tasks.nnx_task`, with their default
loss (softmax cross-entropy on integer labels) and metric (accuracy): the code that
produced the committed results, moved to the library unchanged. New code should use the
library's names.
"""

from __future__ import annotations

from subspace.flax_tasks import linen_task as classification_task
from subspace.flax_tasks import nnx_task as nnx_classification_task

__all__ = ["classification_task", "nnx_classification_task"]
