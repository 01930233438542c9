"""Models by name: `get_model("lenet", num_classes=10)`."""

from __future__ import annotations

import flax.linen as nn

from models.fc import FC
from models.lenet import LeNet, UntiedLeNet
from models.resnet import ResNet20

#: Model classes by name.
MODELS: dict[str, type[nn.Module]] = {
    "fc": FC,
    "lenet": LeNet,
    "untied_lenet": UntiedLeNet,
    "resnet20": ResNet20,
}


def get_model(name: str, **kwargs) -> nn.Module:
    """Builds the model registered as `name`.

    Args:
      name: one of `MODELS`: "fc", "lenet", "untied_lenet", "resnet20".
      **kwargs: the model's attributes, e.g. `width=400, depth=5` for "fc".

    Returns:
      An unbound flax linen module.

    Raises:
      ValueError: unknown name.
    """
    if name not in MODELS:
        raise ValueError(f"name must be one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name](**kwargs)
