"""The paper's networks in flax linen: FC, LeNet, untied LeNet, ResNet-20 and the RL policies.

Every model maps (N, H, W, C) images to (N, num_classes) logits and takes a
`train: bool` argument (only ResNet20 uses it, for batch normalisation).
"""

from models.fc import FC
from models.lenet import (
    LeNet,
    UntiedLeNet,
)
from models.policies import (
    ConvPolicy,
    MLPPolicy,
)
from models.registry import (
    MODELS,
    get_model,
)
from models.resnet import (
    BasicBlock,
    ResNet20,
)

__all__ = [
    "FC",
    "MODELS",
    "BasicBlock",
    "ConvPolicy",
    "LeNet",
    "MLPPolicy",
    "ResNet20",
    "UntiedLeNet",
    "get_model",
]
