"""Fully connected ReLU network, the paper's FC baseline."""

from __future__ import annotations

import flax.linen as nn
import jax

from models._checks import check_batched, check_int


class FC(nn.Module):
    """Flatten, `depth` hidden Dense(width) + ReLU layers, then Dense(num_classes).

    For depth >= 1, D = (in * w + w) + (depth - 1) * (w * w + w) + (w * num_classes + num_classes):
    199,210 for MNIST 784-200-200-10, 656,810 for CIFAR-10 3072-200-200-10 and
    959,610 for MNIST with 5 hidden layers of 400 (Li et al. 2018, Table 1).

    Attributes:
      width: hidden units per layer, >= 1.
      depth: number of hidden layers, >= 0 (0 is multinomial logistic regression).
      num_classes: number of logits, >= 1.

    Example:
      >>> model = FC(width=200, depth=2)
      >>> params = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
    """

    width: int = 200
    depth: int = 2
    num_classes: int = 10

    def __post_init__(self) -> None:
        check_int("width", self.width, minimum=1)
        check_int("depth", self.depth, minimum=0)
        check_int("num_classes", self.num_classes, minimum=1)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits for a batch.

        Args:
          x: (N, ...) inputs, e.g. (N, H, W, C) images; flattened per example.
          train: unused (no dropout or batch norm); accepted for a uniform interface.

        Returns:
          (N, num_classes) logits.
        """
        del train
        check_batched(x, "FC")
        x = x.reshape((x.shape[0], -1))
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(self.num_classes)(x)
