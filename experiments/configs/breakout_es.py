"""MinAtar Breakout (gymnax, 10×10×4 frames, 3 actions), ES on a reduced conv policy
(D = 33,491); stands in for the paper's Atari Pong row (d_int90 6,000, D = 1,005,974).

Command:
    python -m experiments.run breakout_es

Hyperparameters: evolution strategies (antithetic, centred ranks, population 64, one
episode of at most 1,000 steps per evaluation) with Adam, 200 generations; σ = 0.05 per
parameter of θ for every member (``sigma_in_theta``: member d perturbs z with
0.05 √(D/d), so its perturbations of θ have the baseline's size), Adam lr 0.05 on z;
full-parameter baseline: σ = 0.05, Adam lr 0.03; the action is the argmax of 3 outputs.
d in 30..10,000 (6 values) with 3 seeds; fastfood; threshold 0.9 × the baseline's mean
evaluation return (8 episodes). With one σ on z for every d the large-d members' θ moves
far more than the baseline's (σ √d against σ_θ √D): σ = 0.5 and 0.2 on z left every d up to
3,000 at a mean return of 0.75–1.7 against the baseline's 4.1.

Reduced to fit a 2-core CPU, against the paper's Pong: MinAtar's 10×10 symbolic frames
instead of 84×84 Atari pixels, a conv 16 3×3 + Dense 32 policy (D = 33,491) instead of the
OpenAI ES Atari net (D ≈ 1M), 200 generations of 64 instead of the ES code's budget
(hundreds of millions of frames); MinAtar Breakout ends when the ball is missed once. Its
baseline therefore learns little (a return of about 1.5), and this row measures the
d_int90 of that short budget. Expected runtime on a 2-core CPU: see
experiments/results/breakout_es/timings.json (about half an hour).
"""

from experiments.rl_configs import es_experiment
from experiments.tasks import Model

DIMS = (30, 100, 300, 1000, 3000, 10000)


def get_config(smoke: bool = False):
    return es_experiment(
        "breakout_es",
        env="Breakout-MinAtar",
        policy=Model("conv_policy", {"convs": [[16, 3, 1]], "hidden": 32, "outputs": 3}),
        dims=DIMS,
        smoke=smoke,
        generations=200,
        population=64,
        sigma=0.05,
        sigma_in_theta=True,
        lr=0.05,
        baseline_sigma=0.05,
        baseline_lr=0.03,
    )
