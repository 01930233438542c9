"""Models by name: `get_model("lenet", num_classes=10)`, the way experiment configs name them."""

from __future__ import annotations

from typing import Any

import flax.linen as nn

from models.fc import FC
from models.lenet import LeNet, UntiedLeNet
from models.policies import ConvPolicy, MLPPolicy
from models.resnet import ResNet20

#: Model classes by name.
MODELS: dict[str, type[nn.Module]] = {
    "fc": FC,
    "lenet": LeNet,
    "untied_lenet": UntiedLeNet,
    "resnet20": ResNet20,
    "mlp_policy": MLPPolicy,
    "conv_policy": ConvPolicy,
}


def _tuples(value: Any) -> Any:
    # JSON has lists only; module attributes must be hashable (tuples).
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def get_model(name: str, **kwargs) -> nn.Module:
    """Builds the model registered as `name`.

    Args:
      name: one of `MODELS`: "fc", "lenet", "untied_lenet", "resnet20", "mlp_policy",
        "conv_policy".
      **kwargs: the model's attributes, e.g. `width=400, depth=5` for "fc"; lists (from a
        JSON config) become tuples.

    Returns:
      An unbound flax linen module.

    Raises:
      ValueError: unknown name.
      TypeError: an attribute the model does not have.
    """
    if name not in MODELS:
        raise ValueError(f"name must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name](**{k: _tuples(v) for k, v in kwargs.items()})
