"""Humanoid (brax, MuJoCo physics), ES on the paper's 256-256 tanh policy; the paper's
d_int90 is 700 (D = 166,673). Needs the [brax] extra and an accelerator for a full run.

Command (GPU/TPU; pip install -e ".[test,brax]"):
    python -m experiments.run humanoid_es

Hyperparameters (those of the OpenAI ES code the paper used: σ = 0.02 on θ, Adam lr 0.01,
L2 0.005, antithetic sampling, centred ranks): population 256, one episode of at most
1,000 steps per evaluation, 1,000 generations; subspace runs: σ = 0.5 on z, Adam lr 0.01;
actions are the 17 tanh-squashed outputs. d in 100..3,000 (8 values) with 3 seeds;
fastfood; threshold 0.9 × the baseline's mean evaluation return (8 episodes). brax's
humanoid observation has 244 numbers, not MuJoCo Gym's 376, so D = 132,881 here against
the paper's 166,673 (same hidden layers, fewer inputs). Not run on the 2-core CPU this
project is developed on (about 4k environment steps/s there: the full run would take
months); its smoke test (tests/test_rl.py) runs where brax is installed.
"""

from experiments.rl_configs import es_experiment
from experiments.tasks import Model

DIMS = (100, 200, 400, 700, 1000, 1500, 2000, 3000)


def get_config(smoke: bool = False):
    return es_experiment(
        "humanoid_es",
        env="humanoid",
        suite="brax",
        policy=Model("mlp_policy", {"hidden": [256, 256], "outputs": 17}),
        dims=DIMS,
        smoke=smoke,
        smoke_dims=(2, 4),
        generations=1000,
        population=256,
        sigma=0.5,
        lr=0.01,
        baseline_sigma=0.02,
        baseline_lr=0.01,
        weight_decay=0.005,
        max_steps=1000,
    )
