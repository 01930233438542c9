"""Every experiment config loads and is consistent; the MNIST smoke run on real files."""

import dataclasses
import importlib
import importlib.util
import json
from pathlib import Path

import pytest

import subspace
from experiments import config, run

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def _names():
    names = []
    for base in config.available():
        module = importlib.import_module(f"experiments.configs.{base}")
        names += [f"{base}:{v}" for v in getattr(module, "VARIANTS", ())] or [base]
    return names


NEEDS = {"humanoid_es": "brax"}  # configs whose environment is an optional extra


@pytest.mark.parametrize("name", _names())
def test_config_loads_in_both_modes(name):
    needed = NEEDS.get(name)
    if needed and importlib.util.find_spec(needed) is None:
        pytest.skip(f"{name} needs {needed} (the [{needed}] extra), not installed")
    module = importlib.import_module(f"experiments.configs.{name.partition(':')[0]}")
    assert "python -m experiments.run" in module.__doc__  # the docstring gives the command
    for smoke in (False, True):
        exp = config.load(name, smoke=smoke)
        assert exp.name == name.replace(":", "_") and exp.smoke == smoke
        assert list(exp.grid.dims) == sorted(set(exp.grid.dims)) and exp.grid.dims[0] >= 1
        assert exp.readout.threshold is not None or exp.schedule.baseline is not None
        assert hasattr(exp.task, "load") == (exp.schedule.epochs is not None)
        # plain data: the config is its JSON, whole, and comes back from it
        rebuilt = config.Experiment.from_results(exp.measurement().to_json())
        assert rebuilt == dataclasses.replace(exp, run=subspace.Run())  # run: not a result
        assert json.loads(json.dumps(exp.to_json())) == exp.to_json()


def test_unknown_config_and_variants():
    with pytest.raises(ValueError, match="unknown config 'mnist'; available: .*mnist_fc"):
        config.load("mnist")
    with pytest.raises(ValueError, match="needs a variant, one of w50d2"):
        config.load("mnist_fc_family")
    with pytest.raises(ValueError, match="has no variants"):
        config.load("mnist_fc:w50d2")


@pytest.mark.skipif(
    not (DATASETS / "mnist").is_dir(),
    reason="the offline MNIST files (../shared/datasets/mnist) are absent",
)
def test_mnist_fc_smoke_run_on_real_files(tmp_path, capsys):
    run.main(["mnist_fc", "--smoke", "--data-dir", str(DATASETS), "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["D"] == 199_210
    assert len(results["baseline"]) == 2 and len(results["members"]) == 4
    assert 0.5 < results["baseline_metric"] <= 1.0  # 512 examples, 1 epoch
    assert results["threshold"] == pytest.approx(0.9 * results["baseline_metric"])
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("fastfood: d_int90 = ")


def test_family_summary_reads_finished_variants(tmp_path, capsys):
    from experiments import family

    for variant, d, D in (("w50d2", 700, 42_310), ("w200d3", 800, 239_410)):
        folder = tmp_path / f"mnist_fc_family_{variant}"
        folder.mkdir()
        (folder / "results.json").write_text(
            json.dumps(
                {
                    "complete": True,
                    "D": D,
                    "baseline_metric": 0.97,
                    "d_int": {"fastfood": {"d": d, "interpolated": d - 10.0, "ci90": [d - 50, d]}},
                }
            )
        )
    family.main(["--results", str(tmp_path)])
    rows = json.loads((tmp_path / "mnist_fc_family" / "summary.json").read_text())["rows"]
    assert [(r["width"], r["depth"], r["d_int90"]) for r in rows] == [(50, 2, 700), (200, 3, 800)]
    assert (tmp_path / "mnist_fc_family" / "family.png").exists()
    assert "not run yet: w100d2, w200d2, w400d2, w200d1, w200d4" in capsys.readouterr().out


def _config(name: str, changes: dict) -> dict:
    """The results' config of a committed config, with ``changes``."""
    from subspace.config import override

    return override(config.load(name), changes).measurement().to_json()


def test_table_reads_committed_style_results(tmp_path):
    from experiments import table

    folder = tmp_path / "mnist_fc"
    folder.mkdir()
    (folder / "results.json").write_text(
        json.dumps(
            {
                "complete": True,
                "baseline_metric": 0.976,
                "D": 199_210,
                "config": _config("mnist_fc", {"grid.dims": [100, 1500]}),
                "d_int": {"fastfood": {"d": 600, "interpolated": 585.4, "ci90": [559.5, None]}},
            }
        )
    )
    text = table.table(tmp_path)
    assert "| MNIST FC | 750 | 600 (585, [560, inf]) | 199,210 | 332× | 0.9760 |" in text
    assert "| MNIST LeNet | 290 | not run yet |" in text
    assert "fixed baseline" not in text  # only the CIFAR rows get the second convention


def _write_cifar_results(root, name: str, baseline: float, D: int, members, d_int) -> None:
    """A committed-style results.json of config ``name`` on d = 100, 200, 400, 2 seeds."""
    folder = root / name
    folder.mkdir()
    config = _config(name, {"grid.dims": [100, 200, 400], "grid.seeds": 2})
    doc = {
        "complete": True,
        "baseline_metric": baseline,
        "D": D,
        "config": config,
        "members": members,
        "d_int": {"fastfood": d_int},
    }
    (folder / "results.json").write_text(json.dumps(doc))


def test_table_adds_the_fixed_baseline_convention_for_cifar(tmp_path):
    from experiments import table

    # Own baseline 0.40 -> threshold 0.36, reached at d = 100; the fixed baseline 0.5 ->
    # threshold 0.45, reached only at d = 400 (mean 0.46), interpolated between 200 and 400.
    accuracy = {100: 0.37, 200: 0.43, 400: 0.46}
    members = [
        {"projection": "fastfood", "d": d, "seed": s, "test_accuracy": a}
        for d, a in accuracy.items()
        for s in range(2)
    ]
    d_int = {"d": 100, "interpolated": 100.0, "ci90": [100, 100]}
    _write_cifar_results(tmp_path, "cifar_fc", 0.40, 656_810, members, d_int)
    text = table.table(tmp_path)
    assert "| CIFAR-10 FC * | 9,000 | 100 (100, [100, 100]) | 656,810 | 6,568× | 0.4000 |" in text
    # 200 + (0.45 - 0.43) / (0.46 - 0.43) * 200 = 333; every resample has the same means.
    assert (
        "| CIFAR-10 FC *, fixed baseline 0.5 | 9,000 | 400 (333, [333, 333]) | 656,810 | "
        "1,642× | 0.5 (fixed) |" in text
    )


def test_table_gives_the_interval_of_a_row_that_is_not_reached(tmp_path):
    from experiments import table

    # Own baseline 0.60 -> threshold 0.54: no d reaches. The fixed baseline 0.5 -> 0.45:
    # the mean at d = 400 is 0.445, but a quarter of the resamples draw 0.50 twice there
    # (200 + (0.45 - 0.43) / (0.50 - 0.43) * 200 = 257) and the rest never reach.
    accuracy = {100: (0.37, 0.37), 200: (0.43, 0.43), 400: (0.39, 0.50)}
    members = [
        {"projection": "fastfood", "d": d, "seed": s, "test_accuracy": a[s]}
        for d, a in accuracy.items()
        for s in range(2)
    ]
    d_int = {"d": None, "interpolated": None, "ci90": [None, None]}
    _write_cifar_results(tmp_path, "cifar_lenet", 0.60, 62_006, members, d_int)
    text = table.table(tmp_path)
    assert "| CIFAR-10 LeNet * | 2,900 | > 400 (not reached, [inf, inf]) | 62,006 |  |" in text
    fixed = "| CIFAR-10 LeNet *, fixed baseline 0.5 | 2,900 | > 400 (not reached, [257, inf]) |"
    assert fixed in text


def test_a_transfer_task_checks_its_classes():
    from experiments.tasks import Model, TransferTask

    fc = Model("fc", {"width": 8, "depth": 1})
    with pytest.raises(ValueError, match=r"source and target must be disjoint; both hold \[4\]"):
        TransferTask("mnist", fc, source=(0, 4), target=(4, 5), pretrain_epochs=1)
    with pytest.raises(ValueError, match="target must be class labels in 0..9"):
        TransferTask("mnist", fc, source=(0,), target=(10,), pretrain_epochs=1)
    with pytest.raises(ValueError, match="pretrain_epochs must be an integer >= 0; got -1"):
        TransferTask("mnist", fc, source=(0,), target=(1,), pretrain_epochs=-1)
    with pytest.raises(TypeError, match="new_head must be True or False; got 'yes'"):
        TransferTask("mnist", fc, source=(0,), target=(1,), pretrain_epochs=1, new_head="yes")
    task = TransferTask("mnist", fc, source=(0, 1), target=(5, 6, 7, 8, 9), pretrain_epochs=0)
    assert task.train_size == 29_404  # digits 5-9 of the standard training set


@pytest.mark.skipif(
    not (DATASETS / "mnist").is_dir(),
    reason="the offline MNIST files (../shared/datasets/mnist) are absent",
)
def test_a_transfer_task_measures_the_target_classes_from_a_pretrained_theta0(capsys):
    import jax
    import numpy as np

    from subspace.fingerprints import task_fingerprint

    exp = config.load("mnist_transfer:p1", smoke=True)
    data = exp.task.load(str(DATASETS))
    assert set(np.unique(data.train_y)) | set(np.unique(data.test_y)) <= {5, 6, 7, 8, 9}
    assert len(data.train_x) == exp.task.train_size == 512
    plain = exp.task.build()
    pretrained = exp.task.pretrained(plain, str(DATASETS), seeds=exp.grid.seeds)
    said = capsys.readouterr().out
    assert "pretrained on classes [0, 1, 2, 3, 4]" in said and "the head (Dense_2)" in said
    keys = jax.random.key(0), jax.random.key(1)
    a, b = (pretrained.init(k)[0] for k in keys)
    head = "Dense_2"  # the classifier: each member's own initialisation, a new task head
    for k, got in zip(keys, (a, b), strict=True):
        jax.tree_util.tree_map(np.testing.assert_array_equal, got[head], plain.init(k)[0][head])
    assert not np.array_equal(a[head]["kernel"], b[head]["kernel"])
    body = {n: v for n, v in a.items() if n != head}
    jax.tree_util.tree_map(  # the body: pretrained, one for every member
        np.testing.assert_array_equal, body, {n: v for n, v in b.items() if n != head}
    )
    start = {n: v for n, v in plain.init(keys[0])[0].items() if n != head}
    moved = jax.tree_util.tree_map(lambda x, y: np.abs(x - y).max(), body, start)
    assert all(m > 0 for m in jax.tree_util.tree_leaves(moved))
    assert task_fingerprint(pretrained, 0) != task_fingerprint(plain, 0)
    assert config.load("mnist_transfer:p0").task.pretrained(plain, None, seeds=(0,)) is plain


def test_a_burn_in_task_checks_itself_and_round_trips():
    from experiments.tasks import BurnInTask, Model, task_from_json

    fc = Model("fc", {"width": 8, "depth": 1})
    with pytest.raises(ValueError, match="burn_in_steps must be an integer >= 0; got -1"):
        BurnInTask("mnist", fc, burn_in_steps=-1)
    with pytest.raises(ValueError, match="dataset must be one of"):
        BurnInTask("svhn", fc, burn_in_steps=1)
    task = BurnInTask("mnist", fc, train_limit=100, burn_in_steps=7)
    assert task_from_json(task.to_json()) == task
    assert config.load("mnist_fc_burn_in:k500").task.burn_in_steps == 500


@pytest.mark.skipif(
    not (DATASETS / "mnist").is_dir(),
    reason="the offline MNIST files (../shared/datasets/mnist) are absent",
)
def test_a_burn_in_task_starts_each_seed_from_its_own_trained_network():
    import jax
    import numpy as np

    from subspace.sweep import member_keys

    exp = config.load("mnist_fc_burn_in:k20", smoke=True)
    plain = exp.task.build()
    burnt = exp.task.pretrained(plain, str(DATASETS), seeds=exp.grid.seeds)
    keys = [member_keys(s)[0] for s in exp.grid.seeds]
    a, b = (burnt.init(k)[0] for k in keys)
    start = plain.init(keys[0])[0]
    moved = jax.tree_util.tree_map(lambda x, y: float(np.abs(x - y).max()), a, start)
    assert max(jax.tree_util.tree_leaves(moved)) > 0  # trained away from its init
    assert not np.array_equal(a["Dense_0"]["kernel"], b["Dense_0"]["kernel"])  # its own seed's
    assert config.load("mnist_fc_burn_in:k0").task.pretrained(plain, None, seeds=(0,)) is plain
