"""Certified generalisation bounds of a measured experiment's members (subspace.bounds).

    python -m experiments.bounds CONFIG [--prior data] [--data-dir DIR] [--smoke] [--out DIR]

CONFIG is a config of ``experiments/configs`` that has a bounds setting below (``--list``
names them). Its measurement must have been run with this version's code, which keeps
every trained network (``python -m experiments.run CONFIG``, written to
``experiments/results/CONFIG``): each member is quantised, optionally fine-tuned with its
codebook, range-coded and bounded, all members of a projection in one vmapped program.
Writes ``bounds.json`` (the settings, one record per (d, seed, L), the best bound and the
wall time), ``bounds.png`` (the bound, ê and the test error against d, the best marked)
and ``bound_best.npz`` (the best bound's quantised network: the message it counts, as a
compressed file that ``subspace.load_compressed`` reads) to
``experiments/results/CONFIG`` or ``--out``. ``--smoke`` measures the config's
smoke size into ``--out`` (a temporary folder unless given) and bounds that, in seconds.

``--prior data`` bounds with a data-dependent prior (Lotfi et al.'s second setting): the
full-parameter network trained on the first half A of the training set (the config's
baseline optimiser and epochs, seed 0) is θ0 of every member; the members (the grid of
``PRIOR_DIMS`` where one is given) are measured on the whole training set
(``experiments/results/CONFIG/prior``: the posterior may depend on any data, the prior
only on A), and the bound is read on the second half B (n = |B|).

Every choice the bound looks at is paid for in b: the d values, seeds and L of this
call, and ``EXTRA_CHOICES`` for the settings chosen before (the measurement's learning
rate and epochs are the paper's, not tuned on these bounds: 1 choice).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import subspace
from experiments import config as configs
from experiments.io import atomic_write_bytes, atomic_write_json, atomic_write_png
from experiments.run import UserError, _load_data, _one_line
from subspace import bounds

ROOT = Path(__file__).resolve().parents[1]

#: The bound settings by config: how z is quantised and fine-tuned (Lotfi et al. search
#: 3 to 50 levels; their default is 7).
SETTINGS = {
    "mnist_fc": bounds.Quantisation(levels=(3, 5, 7, 11), steps=300, batch_size=128),
    "mnist_lenet": bounds.Quantisation(levels=(3, 5, 7, 11), steps=300, batch_size=128),
    "cifar_fc": bounds.Quantisation(levels=(3, 5, 7, 11), steps=300, batch_size=128),
    "cifar_lenet": bounds.Quantisation(levels=(3, 5, 7, 11), steps=300, batch_size=128),
}
EXTRA_CHOICES = 1
#: The grid of d that ``--prior data`` measures, where it is not the config's: with θ0
#: trained on half the data, small d bound best (mnist_fc's best was d = 100), and these
#: configs' full grids would take hours on a 2-core CPU.
PRIOR_DIMS = {"mnist_lenet": (25, 50, 100, 200, 300), "cifar_fc": (250, 500, 1000, 2000)}
SMOKE = bounds.Quantisation(levels=(3,), steps=5, batch_size=32)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"error: {message} (python -m experiments.bounds --help lists the flags)\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m experiments.bounds", description=__doc__.split("\n\n")[0])
    parser.add_argument("config", nargs="?", help="a config with bound settings (--list)")
    parser.add_argument("--list", action="store_true", help="list the configs with settings")
    parser.add_argument("--table", action="store_true", help="the README's table of bounds")
    parser.add_argument("--data-dir", help="the folder of the data files (README, Data)")
    parser.add_argument("--download", action="store_true", help="let TFDS fetch the data")
    parser.add_argument("--smoke", action="store_true", help="measure and bound a tiny size")
    parser.add_argument("--out", type=Path, help="where the measurement and bounds are")
    parser.add_argument(
        "--prior",
        choices=("random", "data"),
        default="random",
        help="θ0: the config's random initialisation (default) or trained on half the data",
    )
    args = parser.parse_args(argv)
    if args.table:
        print(table())
        return 0
    if args.list or args.config is None:
        for name, q in SETTINGS.items():
            print(f"{name:20s} levels {list(q.levels)}, {q.steps} fine-tuning steps")
        return 0
    try:
        record = run(args.config, args.data_dir, args.download, args.smoke, args.out, args.prior)
    except UserError as e:
        parser.exit(2, f"error: {_one_line(e)}\n")
    except KeyboardInterrupt:
        parser.exit(130, "interrupted: no bound written (bounding starts again)\n")
    best = record["best"]
    print(
        f"{args.config}: error <= {best['bound']:.4f} with probability {1 - best['delta']:g} "
        f"(d = {best['d']}, seed {best['seed']}, L = {best['levels']}: train error "
        f"{best['train_error']:.4f}, test error {best['test_error']:.4f}, "
        f"{best['prefix_free_bits']:,.0f} + {best['choice_bits']:.1f} bits)"
    )
    return 0


def run(
    name: str, data_dir, download: bool, smoke: bool, out: Path | None, prior: str = "random"
) -> dict:
    """Bounds config ``name``'s members; writes and returns the bounds record."""
    if name not in SETTINGS:
        raise UserError(f"config must be one of {sorted(SETTINGS)} (bound settings); got {name!r}")
    exp = configs.load(name, smoke=smoke)
    quantisation = SMOKE if smoke else SETTINGS[name]
    committed = ROOT / "experiments" / "results" / exp.name.replace(":", "_")
    if smoke:
        out = Path(tempfile.mkdtemp(prefix="subspace-bounds-")) if out is None else out
    elif out is None:
        out = committed / "prior" if prior == "data" else committed
    exp = dataclasses.replace(exp, run=dataclasses.replace(exp.run, out=str(out)))
    if prior == "data" and not smoke and name in PRIOR_DIMS:
        exp = dataclasses.replace(exp, grid=dataclasses.replace(exp.grid, dims=PRIOR_DIMS[name]))
    folder = Path(exp.run.out)
    measured_here = smoke or prior == "data"
    if not (folder / "results.json").exists() and not measured_here:
        raise UserError(
            f"{folder}: no measurement; run python -m experiments.run {name} first (this "
            "version keeps the trained networks the bounds need)"
        )
    task = exp.task.build()
    data = _load_data(exp, data_dir, download)
    bound_data = data
    if prior == "data":
        half = len(data.train_x) // 2
        a = subspace.Data(data.train_x[:half], data.train_y[:half], data.test_x, data.test_y)
        bound_data = subspace.Data(
            data.train_x[half:], data.train_y[half:], data.test_x, data.test_y
        )
        task = _prior_task(task, exp, a)
    if measured_here:
        run_ = dataclasses.replace(exp.run, resume=True, overwrite=False)
        subspace.measure(task, exp.measurement(), data=data, run=run_, progress=not smoke)
    result = subspace.SweepResult.load(folder)
    start = time.perf_counter()
    files = Path(tempfile.mkdtemp(prefix="subspace-bound-files-"))
    try:
        records = bounds.bound_members(
            result,
            task,
            bound_data,
            quantisation=quantisation,
            extra_choice_bits=EXTRA_CHOICES,
            out=files,
            progress=not smoke,
        )
    except FileNotFoundError as e:
        raise UserError(f"{folder}: {_one_line(e)} (re-run the measurement)") from None
    wall = time.perf_counter() - start
    finite = [r for r in records if r["finite"]]
    if not finite:
        raise UserError(f"{name}: every member's fine-tuning diverged; no bound")
    record = {
        "config": name,
        "prior": prior,
        "smoke": smoke,
        "quantisation": dataclasses.asdict(quantisation),
        "extra_choice_bits": EXTRA_CHOICES,
        "n": len(bound_data.train_x),
        "records": records,
        "best": min(finite, key=lambda r: r["bound"]),
        "best_file": "bound_best.npz",
        "wall_s": wall,
    }
    atomic_write_bytes(folder / "bound_best.npz", (files / record["best"]["file"]).read_bytes())
    shutil.rmtree(files, ignore_errors=True)
    atomic_write_json(folder / "bounds.json", record)
    plot(record, folder / "bounds.png")
    return record


def _prior_task(task: subspace.Task, exp: configs.Experiment, a: subspace.Data) -> subspace.Task:
    """``task`` whose θ0 is the full-parameter network trained on ``a`` (seed 0)."""
    import jax
    import numpy as np

    schedule = exp.schedule
    sweep = subspace.make_baseline(task, schedule.baseline.build())
    epochs = schedule.epochs or 1
    steps = schedule.steps or epochs * (len(a.train_x) // schedule.batch_size)
    print(f"prior: training the full network on {len(a.train_x):,} examples, {steps} steps")
    out = subspace.train_group(
        sweep,
        (np.array([sweep.width]), np.array([0])),
        steps=steps,
        data=a,
        batch_size=schedule.batch_size,
    )
    if not out["finite"][0]:
        raise UserError("the prior's training diverged")
    print(f"prior: test accuracy {float(out['test_accuracy'][0]):.4f}")
    params = jax.tree_util.tree_map(lambda x: x[0], out["params"])
    state = jax.tree_util.tree_map(lambda x: x[0], out["model_state"])
    return subspace.theta0.with_theta0(task, params, state)


#: Lotfi et al. (2022)'s data-independent bounds, as they report them.
PUBLISHED = {"mnist": "11.6% (LeNet-5, 500 epochs)", "cifar10": "about 58% (13-layer CNN)"}


def table(root: Path = ROOT / "experiments" / "results") -> str:
    """A markdown table of every committed ``bounds.json`` (the README's)."""
    from experiments.io import read_json

    lines = [
        "| config | prior | bound (95%) | ê (quantised, train) | test error | d, seed, L | "
        "ℓ′ + b bits | n | Lotfi et al. (data-independent) | fine-tuning | bounding time |",
        "|---|---|---:|---:|---:|---|---:|---:|---|---|---:|",
    ]
    for path in sorted(root.glob("*/bounds.json")) + sorted(root.glob("*/prior/bounds.json")):
        r = read_json(path)
        if r["smoke"]:
            continue
        b, q = r["best"], r["quantisation"]
        dataset = configs.load(r["config"]).task.dataset
        prior = "random θ0" if r["prior"] == "random" else "θ0 trained on half A"
        lines.append(
            f"| {r['config']} | {prior} | {b['bound']:.1%} | {b['train_error']:.2%} | "
            f"{b['test_error']:.2%} | {b['d']:,}, {b['seed']}, {b['levels']} | "
            f"{b['prefix_free_bits']:,.0f} + {b['choice_bits']:.1f} | {r['n']:,} | "
            f"{PUBLISHED[dataset] if r['prior'] == 'random' else '-'} | "
            f"{q['steps']} steps, L in {q['levels']} | {r['wall_s']:.0f} s |"
        )
    return "\n".join(lines)


def plot(record: dict, path: Path) -> None:
    """The bound, ê and test error against d (the best seed and L per d), the best marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in record["records"] if r["finite"]]
    ds = sorted({r["d"] for r in rows})
    best = {d: min((r for r in rows if r["d"] == d), key=lambda r: r["bound"]) for d in ds}
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("bound", "bound"), ("train_error", "ê (quantised, train)")):
        ax.plot(ds, [best[d][key] for d in ds], "o-", label=label)
    ax.plot(ds, [best[d]["test_error"] for d in ds], "s--", label="test error (quantised)")
    top = record["best"]
    ax.plot([top["d"]], [top["bound"]], "r*", markersize=14, label=f"best: {top['bound']:.3f}")
    ax.set_xscale("log")
    ax.set_xlabel("d")
    ax.set_ylabel("error")
    ax.set_title(f"{record['config']}: PAC-Bayes bound (95%), best seed and L per d")
    ax.legend()
    fig.tight_layout()
    atomic_write_png(fig, path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
