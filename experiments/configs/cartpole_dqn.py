"""CartPole-v1 (gymnax) with DQN on a 4-64-64-2 tanh Q-network (D = 4,610); the paper's
CartPole DQN d_int90 is about 25 (Table 1, its last row).

Command:
    python -m experiments.run cartpole_dqn

Hyperparameters: double DQN (subspace.estimators.dqn), 1 environment per member, 50,000
environment steps, a replay buffer of 10,000, batches of 64, learning from step 1,000,
the target z refreshed every 500 steps, ε from 1 to 0.05 over 10,000 steps, γ = 0.99,
Huber loss; Adam lr 1e-3 on z, 5e-4 on θ for the full-parameter baseline (the same DQN
estimator, 3 seeds). d in 4..2,048 with 3 seeds; fastfood; the metric is the mean return of
16 greedy evaluation episodes after training (CartPole's maximum is 500), the threshold
0.9 × the baseline's. The paper's network and DQN settings are not in its text; this
is a small standard set-up, not tuned towards its number. The rates: with θ at lr 1e-3 one
of 3 baseline seeds collapsed to a return of 103 by the end (5e-4: 500, 500, 494); z at lr
1e-3 beat 3e-3 and 1e-2 at d = 64 and 256 (mean returns 145/372 against 173/321 and
89/258), each tried once on seeds 0-2 (CHANGELOG, Unreleased). Expected runtime on a 2-core
CPU: see experiments/results/cartpole_dqn/timings.json.
"""

from experiments.rl_configs import dqn_experiment
from experiments.tasks import Model

DIMS = (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
DQN = {
    "envs": 1,
    "buffer_size": 10_000,
    "batch_size": 64,
    "learning_starts": 1_000,
    "target_interval": 500,
    "epsilon_start": 1.0,
    "epsilon_end": 0.05,
    "epsilon_steps": 10_000,
    "gamma": 0.99,
    "double": True,
}


def get_config(smoke: bool = False):
    return dqn_experiment(
        "cartpole_dqn",
        env="CartPole-v1",
        network=Model("mlp_policy", {"hidden": [64, 64], "outputs": 2}),
        dims=DIMS,
        smoke=smoke,
        steps=50_000,
        lr=1e-3,
        baseline_lr=5e-4,
        dqn=DQN,
    )
