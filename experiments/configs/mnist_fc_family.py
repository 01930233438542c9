"""MNIST FC networks of several widths and depths: d_int90 varies little (paper, Fig. 4).

One variant per network, ``w<width>d<depth>``: widths 50, 100, 200, 400 at depth 2 and
depths 1, 2, 3, 4 at width 200 (the paper also went to depth 5). Each variant runs like
mnist_fc (Adam on z lr 1e-2 (baseline on θ lr 1e-3), batch 128, 5 epochs, fastfood, 2 seeds,
baseline per network).

Commands (one per variant, then the summary plot):
    python -m experiments.run mnist_fc_family:w50d2 --data-dir DIR   # see README "Data"
    ...
    python -m experiments.family
"""

from experiments.image_configs import image_experiment
from experiments.tasks import Model

WIDTHS = (50, 100, 200, 400)
DEPTHS = (1, 2, 3, 4)
VARIANTS = tuple([f"w{w}d2" for w in WIDTHS] + [f"w200d{d}" for d in DEPTHS if d != 2])
DIMS = (200, 300, 400, 500, 600, 750, 1000, 1250)


def parse_variant(variant: str) -> tuple[int, int]:
    """``"w100d2"`` -> (width 100, depth 2)."""
    width, depth = variant[1:].split("d")
    return int(width), int(depth)


def describe(variant: str) -> str:
    """One line on a variant, for ``python -m experiments.run --list``."""
    width, depth = parse_variant(variant)
    return (
        f"MNIST FC, {depth} hidden layer(s) of {width} (the width/depth family of the "
        "paper's Fig. 4)."
    )


def get_config(smoke: bool = False, variant: str = "w200d2"):
    width, depth = parse_variant(variant)
    return image_experiment(
        f"mnist_fc_family_{variant}",
        dataset="mnist",
        model=Model("fc", {"width": width, "depth": depth}),
        dims=DIMS,
        smoke=smoke,
        epochs=5,
        seeds=2,
    )
