"""Pendulum-v1 (gymnax; swing-up, continuous torque), ES on a 3-20-20-1 tanh policy
(D = 521); the paper's (MuJoCo InvertedPendulum) d_int90 is 4.

Command:
    python -m experiments.run pendulum_es

Hyperparameters: evolution strategies (antithetic, centred ranks, population 64, one
200-step episode per evaluation) with Adam, 300 generations; subspace runs: σ = 0.3 on z,
Adam lr 0.1; full-parameter baseline: σ = 0.1 on θ, Adam lr 0.05; the
torque is the tanh-squashed first output scaled to [-2, 2]. d in 2..128 (10 values) with
3 seeds; fastfood. Pendulum's returns are negative (about -1,500 for a poor policy, above
-200 for a good one), so the metric is the gain in mean evaluation return (8 episodes)
over the policy at θ0 on the same episodes, and the threshold is 0.9 × the baseline's
gain. Pendulum-v1 swings the pole up from any angle, a harder task than balancing it
upright as the paper's InvertedPendulum does. Expected runtime on a 2-core CPU: see
experiments/results/pendulum_es/timings.json (a few minutes).
"""

from experiments.rl_configs import es_experiment
from experiments.tasks import Model

DIMS = (2, 4, 8, 12, 16, 24, 32, 48, 64, 128)
BASELINE_SIGMA, BASELINE_LR = 0.1, 0.05


def get_config(smoke: bool = False):
    return es_experiment(
        "pendulum_es",
        env="Pendulum-v1",
        policy=Model("mlp_policy", {"hidden": [20, 20], "outputs": 1}),
        dims=DIMS,
        smoke=smoke,
        generations=300,
        population=64,
        sigma=0.3,
        lr=0.1,
        baseline_sigma=BASELINE_SIGMA,
        baseline_lr=BASELINE_LR,
        metric="fitness_gain",
    )
