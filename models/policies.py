"""Policies of the paper's reinforcement-learning rows, in flax linen.

Both map a batch of observations to (N, outputs) values; :mod:`subspace.rl` turns them
into actions (argmax for discrete actions, tanh-squashed for continuous ones).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from models._checks import check_batched, check_images, check_int


class MLPPolicy(nn.Module):
    """Flatten, Dense(h) + tanh for each h in ``hidden``, then Dense(outputs).

    D = Σ (in·h + h) over the layers: 562 for the paper's InvertedPendulum policy
    4-20-20-2, 166,673 for its Humanoid policy 376-256-256-17 (132,881 on brax's humanoid,
    whose observation has 244 numbers).

    Attributes:
      hidden: hidden layer widths, each >= 1 (may be empty: a linear policy).
      outputs: number of outputs, >= 1.

    Example:
      >>> policy = MLPPolicy(hidden=(20, 20), outputs=2)
      >>> params = policy.init(jax.random.key(0), jnp.zeros((1, 4)))["params"]
    """

    hidden: Sequence[int] = (20, 20)
    outputs: int = 2

    def __post_init__(self) -> None:
        for h in self.hidden:
            check_int("hidden width", h, minimum=1)
        check_int("outputs", self.outputs, minimum=1)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        check_batched(x, "MLPPolicy")
        x = x.reshape((x.shape[0], -1))
        for h in self.hidden:
            x = nn.tanh(nn.Dense(h)(x))
        return nn.Dense(self.outputs)(x)


class ConvPolicy(nn.Module):
    """Pixel policy: conv(c, k×k, stride s) + ReLU for each (c, k, s) in ``convs``
    (VALID padding), flatten, Dense(hidden) + ReLU, Dense(outputs).

    The OpenAI/Uber ES Atari policy is ``convs=((16, 8, 4), (32, 4, 2)), hidden=256`` on
    84×84×4 frames (D = 1,005,974 with 6 actions in the paper); ``experiments/configs/
    breakout_es.py`` uses a reduced one on MinAtar's 10×10×4 frames.

    Attributes:
      convs: (features, kernel, stride) of each convolution, each >= 1.
      hidden: width of the fully connected layer, >= 1.
      outputs: number of outputs, >= 1.
    """

    convs: Sequence[tuple[int, int, int]] = ((16, 3, 1),)
    hidden: int = 64
    outputs: int = 3

    def __post_init__(self) -> None:
        for features, kernel, stride in self.convs:
            check_int("conv features", features, minimum=1)
            check_int("conv kernel", kernel, minimum=1)
            check_int("conv stride", stride, minimum=1)
        check_int("hidden", self.hidden, minimum=1)
        check_int("outputs", self.outputs, minimum=1)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        check_images(x, "ConvPolicy")
        for features, kernel, stride in self.convs:
            conv = nn.Conv(features, (kernel, kernel), strides=(stride, stride), padding="VALID")
            x = nn.relu(conv(x))
        x = x.reshape((x.shape[0], -1))
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.outputs)(x)
