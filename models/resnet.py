"""ResNet-20 for CIFAR-10 (He et al. 2016, Sec. 4.2), with batch normalisation."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models._checks import check_images, check_int


def _conv3x3(features: int, strides: int = 1) -> nn.Conv:
    # Explicit symmetric padding as in the original; flax "SAME" pads 0 before and 1
    # after at stride 2, which shifts the sampling grid.
    return nn.Conv(
        features,
        (3, 3),
        strides=strides,
        padding=((1, 1), (1, 1)),
        use_bias=False,
        kernel_init=nn.initializers.kaiming_normal(),
    )


def _batch_norm(train: bool) -> nn.BatchNorm:
    # PyTorch/Keras defaults (running average decay 0.9, eps 1e-5), as in the literature.
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)


class BasicBlock(nn.Module):
    """Two 3x3 conv + BatchNorm layers with an identity shortcut.

    When the block halves the resolution and doubles the channels, the shortcut
    subsamples by 2 and zero-pads the new channels (He et al.'s option A): it has no
    parameters.

    Attributes:
      features: output channels.
      strides: 1, or 2 to halve height and width.
    """

    features: int
    strides: int = 1

    def __post_init__(self) -> None:
        check_int("features", self.features, minimum=1)
        if self.strides not in (1, 2):
            raise ValueError(f"strides must be 1 or 2, got {self.strides!r}")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        """Applies the block to (N, H, W, C_in) features; returns (N, H/s, W/s, features)."""
        extra = self.features - x.shape[-1]
        if extra < 0:
            raise ValueError(
                f"features ({self.features}) must be >= the input channels ({x.shape[-1]})"
            )
        y = nn.relu(_batch_norm(train)(_conv3x3(self.features, self.strides)(x)))
        y = _batch_norm(train)(_conv3x3(self.features)(y))
        shortcut = x[:, :: self.strides, :: self.strides, :]
        if extra:
            shortcut = jnp.pad(shortcut, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
        return nn.relu(y + shortcut)


class ResNet20(nn.Module):
    """ResNet-20: conv3x3(16), 3 stages of 3 basic blocks (16, 32, 64 channels), pool, Dense.

    6n + 2 = 20 layers with n = 3 blocks per stage; stages 2 and 3 start with stride 2;
    parameter-free (zero-padding) shortcuts; global average pooling. D = 269,722
    trainable parameters for 32x32x3 inputs and 10 classes (measured: leaves of
    `init(...)["params"]`, BatchNorm scales and biases included); the running batch
    statistics live in the separate "batch_stats" collection and are not trained.

    Attributes:
      num_classes: number of logits, >= 1.

    Example:
      >>> model = ResNet20()
      >>> variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
      >>> logits, updates = model.apply(variables, x, train=True, mutable=["batch_stats"])
    """

    num_classes: int = 10

    def __post_init__(self) -> None:
        check_int("num_classes", self.num_classes, minimum=1)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits for a batch.

        Args:
          x: (N, H, W, C) images (32x32x3 for CIFAR-10).
          train: True normalises with batch statistics and updates the running averages
            (call `apply` with `mutable=["batch_stats"]`); False uses the running averages.

        Returns:
          (N, num_classes) logits.
        """
        check_images(x, "ResNet20")
        x = nn.relu(_batch_norm(train)(_conv3x3(16)(x)))
        for stage, features in enumerate((16, 32, 64)):
            for block in range(3):
                strides = 2 if stage > 0 and block == 0 else 1
                x = BasicBlock(features, strides)(x, train)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes)(x)
