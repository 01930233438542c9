"""CartPole-v1 (gymnax), ES on the paper's 4-20-20-2 tanh policy (D = 562); the paper's
InvertedPendulum d_int90 is 4.

Command:
    python -m experiments.run cartpole_es

Hyperparameters: evolution strategies (antithetic, centred ranks, population 64, one
episode of at most 500 steps per evaluation) with Adam, 50 generations; subspace runs:
σ = 0.5 on z, Adam lr 0.1; full-parameter baseline: σ = 0.05 on θ, Adam lr 0.03 (5 seeds);
the policy's action is the argmax of its 2 outputs. d in 1..16 (10 values) with 5 seeds;
fastfood; the metric is the mean return of 8 evaluation episodes after training, the
threshold 0.9 × the baseline's (CartPole's maximum return is 500). CartPole stands in for
MuJoCo's InvertedPendulum (a balancing task with a 4-number observation, as the paper's
policy expects). Expected runtime on a 2-core CPU: see
experiments/results/cartpole_es/timings.json (a few minutes).
"""

from experiments.rl_configs import es_experiment
from experiments.tasks import Model

DIMS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16)


def get_config(smoke: bool = False):
    return es_experiment(
        "cartpole_es",
        env="CartPole-v1",
        policy=Model("mlp_policy", {"hidden": [20, 20], "outputs": 2}),
        dims=DIMS,
        smoke=smoke,
        generations=50,
        population=64,
        sigma=0.5,
        lr=0.1,
        baseline_sigma=0.05,
        baseline_lr=0.03,
        seeds=5,
    )
