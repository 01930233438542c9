"""LeNet-5-style convolutional network, and its untied (locally connected) control."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax

from models._checks import check_images, check_int


def _lenet(x: jax.Array, conv: Callable[..., nn.Module], num_classes: int) -> jax.Array:
    # conv5x5(6) relu pool2, conv5x5(16) relu pool2, FC120 relu, FC84 relu, FC(num_classes).
    for features in (6, 16):
        x = nn.relu(conv(features, (5, 5), padding="VALID")(x))
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = x.reshape((x.shape[0], -1))
    x = nn.relu(nn.Dense(120)(x))
    x = nn.relu(nn.Dense(84)(x))
    return nn.Dense(num_classes)(x)


class LeNet(nn.Module):
    """LeNet: conv5x5(6) pool conv5x5(16) pool FC120 FC84 FC(num_classes), VALID padding.

    ReLU activations and 2x2 max pooling. D = 44,426 on MNIST (28x28x1) and 62,006 on
    CIFAR-10 (32x32x3) (Li et al. 2018, Table 1).

    Attributes:
      num_classes: number of logits, >= 1.
    """

    num_classes: int = 10

    def __post_init__(self) -> None:
        check_int("num_classes", self.num_classes, minimum=1)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits for a batch.

        Args:
          x: (N, H, W, C) images, H and W >= 16 (28x28 or 32x32 in the paper).
          train: unused; accepted for a uniform interface.

        Returns:
          (N, num_classes) logits.
        """
        del train
        check_images(x, "LeNet")
        return _lenet(x, nn.Conv, self.num_classes)


class UntiedLeNet(nn.Module):
    """LeNet with untied weights: each conv replaced by a locally connected layer.

    Same layers and receptive fields as `LeNet`, but every output position has its own
    filter and bias (`flax.linen.ConvLocal`): locality is kept, weight sharing is gone.
    A control that separates the two when asking why convolutions lower the intrinsic
    dimension. D = 286,334 on MNIST (28x28x1).

    Attributes:
      num_classes: number of logits, >= 1.
    """

    num_classes: int = 10

    def __post_init__(self) -> None:
        check_int("num_classes", self.num_classes, minimum=1)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits for a batch.

        Args:
          x: (N, H, W, C) images, H and W >= 16.
          train: unused; accepted for a uniform interface.

        Returns:
          (N, num_classes) logits.
        """
        del train
        check_images(x, "UntiedLeNet")
        return _lenet(x, nn.ConvLocal, self.num_classes)
