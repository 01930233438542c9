"""subspace.measure: a whole intrinsic-dimension measurement from Python, described as data
(Grid, Schedule, Readout, Run), recorded whole, rebuilt from its results, resumable."""

import json
from pathlib import Path

import numpy as np
import pytest

import subspace
from experiments import toy
from subspace import _groups
from subspace.config import override
from subspace.results import SweepResult

ROOT = Path(__file__).resolve().parents[1]
LBFGS = subspace.Optimizer("lbfgs", None)
TOY = dict(
    dims=[8, 9, 10, 11],
    seeds=2,
    optimizer=LBFGS,
    steps=toy.STEPS,
    projections="sparse",
    metric="final_loss/initial_loss",
    higher_is_better=False,
    threshold=toy.TOLERANCE,
    fraction=1.0,
    progress=False,
)


def test_the_toy_measures_d_int100_10_in_memory():
    result = subspace.measure(toy.TASK, **TOY)
    assert result.complete and result.d_int["sparse"]["d"] == 10
    assert result.D == 1000 and result.steps == toy.STEPS and result.baseline == []
    ds, means = result.means("sparse")
    assert ds.tolist() == [8, 9, 10, 11] and (means[2:] < 1e-7).all() and (means[:2] > 1e-7).all()
    member = result.members[0]  # the derived metric is recorded beside its two inputs
    assert member["final_loss/initial_loss"] == pytest.approx(
        member["final_loss"] / member["initial_loss"], rel=1e-6
    )


def test_keywords_forward_into_the_same_objects():
    measurement = subspace.Measurement(
        grid=subspace.Grid(dims=[8, 9, 10, 11], seeds=2, projections=("sparse",)),
        schedule=subspace.Schedule(LBFGS, steps=toy.STEPS),
        readout=subspace.Readout(
            "final_loss/initial_loss", higher_is_better=False, fraction=1.0, threshold=1e-7
        ),
    )
    by_keywords = subspace.measure(toy.TASK, **TOY)
    by_objects = subspace.measure(toy.TASK, measurement, progress=False)
    assert by_keywords.config == by_objects.config == measurement.to_json()
    assert by_keywords.members == by_objects.members
    # Keywords given beside a measurement override its fields, in the object that owns them.
    again = subspace.measure(toy.TASK, measurement, dims=[10], seeds=1, progress=False)
    assert again.config["grid"]["dims"] == [10] and again.config["grid"]["seeds"] == [0]
    assert again.config["readout"] == measurement.to_json()["readout"]


def test_a_measurement_is_rebuilt_from_its_results_file_to_the_same_results(tmp_path):
    # The grouping that does not time (timed choices can differ between two runs: they
    # are recorded, and a resume keeps them).
    grouped = {"group_size": "memory"}
    first = subspace.measure(
        toy.TASK, out=tmp_path / "a", **dict(TOY, dims=[9, 10], seeds=1, **grouped)
    )
    saved = json.loads((tmp_path / "a" / "results.json").read_text())
    rebuilt = subspace.Measurement.from_json(saved["config"])
    assert rebuilt == SweepResult.load(tmp_path / "a").measurement
    assert rebuilt.to_json() == saved["config"]
    again = subspace.measure(toy.TASK, rebuilt, run=subspace.Run(out=tmp_path / "b", **grouped))
    assert again.members == first.members and again.d_int == first.d_int
    assert (tmp_path / "a" / "results.json").read_bytes() == (
        tmp_path / "b" / "results.json"
    ).read_bytes()


def test_an_override_changes_a_nested_field_and_is_checked():
    m = subspace.Measurement(
        grid=subspace.Grid([1, 2]),
        schedule=subspace.Schedule(subspace.Optimizer("adam", 0.1), steps=5, batch_size=8),
        readout=subspace.Readout(threshold=0.5),
    )
    changed = override(m, {"schedule.optimizer.learning_rate": 0.01, "grid.seeds": 5})
    assert changed.schedule.optimizer == subspace.Optimizer("adam", 0.01)
    assert changed.grid.seeds == (0, 1, 2, 3, 4) and m.grid.seeds == (0, 1, 2)
    swapped = override(m, {"schedule.steps": None, "schedule.epochs": 2})  # checked as a whole
    assert (swapped.schedule.steps, swapped.schedule.epochs) == (None, 2)
    with pytest.raises(ValueError, match=r"Schedule: steps must be an integer in \[1, "):
        override(m, {"schedule.steps": 0})
    with pytest.raises(ValueError, match="schedule.baseline is null"):
        override(m, {"schedule.baseline.learning_rate": 0.1})


def test_an_interrupted_measurement_resumes_to_the_same_results(tmp_path, monkeypatch):
    groups = dict(TOY, dims=[9, 10, 11], seeds=1, budget_bytes=1)  # 3 groups of 1 member
    full = subspace.measure(toy.TASK, out=tmp_path / "full", **groups)
    real, calls = _groups.train_group, []

    def killed_after_two_groups(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_groups, "train_group", killed_after_two_groups)
    with pytest.raises(KeyboardInterrupt):
        subspace.measure(toy.TASK, out=tmp_path / "part", **groups)
    partial = json.loads((tmp_path / "part" / "results.json").read_text())
    assert not partial["complete"] and len(partial["members"]) == 2
    monkeypatch.setattr(_groups, "train_group", real)
    resumed = subspace.measure(toy.TASK, out=tmp_path / "part", resume=True, **groups)
    assert (tmp_path / "part" / "results.json").read_bytes() == (
        tmp_path / "full" / "results.json"
    ).read_bytes()
    assert resumed.to_json() == full.to_json() == SweepResult.load(tmp_path / "part").to_json()
    assert (tmp_path / "part" / "results.csv").is_file()


def test_results_in_the_way_are_refused_before_any_work(tmp_path):
    subspace.measure(toy.TASK, out=tmp_path, **dict(TOY, dims=[10], seeds=1))
    with pytest.raises(subspace.SweepError, match="already holds results"):
        subspace.measure(toy.TASK, out=tmp_path, **dict(TOY, dims=[10], seeds=1))
    with pytest.raises(
        subspace.SweepError, match=r"another config \(differs in config.grid.dims\)"
    ):
        subspace.measure(toy.TASK, out=tmp_path, resume=True, **dict(TOY, dims=[9], seeds=1))
    with pytest.raises(
        subspace.SweepError, match=r"differs in config.schedule.optimizer.learning_rate"
    ):
        subspace.measure(
            toy.TASK,
            out=tmp_path,
            resume=True,
            **dict(TOY, dims=[10], seeds=1, optimizer=subspace.Optimizer("lbfgs", 0.5)),
        )


def test_results_of_schema_2_load_and_are_never_resumed(tmp_path):
    committed = json.loads((ROOT / "experiments/results/toy/results.json").read_text())
    old = {  # what subspace 0.4 wrote for the toy (flat config with D and steps)
        "schema_version": 2,
        "config": {"name": "toy", "D": 1000, "steps": 300, "metric": "relative_loss"},
        "complete": True,
        "baseline": [],
        "members": [
            {
                **{k: v for k, v in m.items() if k != "final_loss/initial_loss"},
                "relative_loss": m["final_loss/initial_loss"],
            }
            for m in committed["members"]
        ],
    }
    (tmp_path / "results.json").write_text(json.dumps(old))
    loaded = SweepResult.load(tmp_path)
    assert loaded.schema_version == 2 and loaded.metric == "relative_loss"
    assert (loaded.D, loaded.steps) == (1000, 300)
    assert loaded.means("dense")[0].tolist() == list(range(1, 21))
    with pytest.raises(ValueError, match="schema version 2 .* cannot be rebuilt"):
        loaded.measurement  # noqa: B018
    with pytest.raises(subspace.SweepError, match=r"older version \(results schema 2\)"):
        subspace.measure(toy.TASK, out=tmp_path, resume=True, **dict(TOY, dims=[10], seeds=1))


class _Recorder(subspace.Progress):
    def __init__(self):
        self.events = []

    def start(self, kind, total):
        self.events.append(("start", kind, total))

    def update(self, member_steps):
        self.events.append(("update", member_steps))

    def message(self, text):
        self.events.append(("message", text))

    def close(self):
        self.events.append(("close",))


def test_progress_reaches_a_callback():
    recorder = _Recorder()
    subspace.measure(toy.TASK, **dict(TOY, dims=[10], seeds=1, progress=recorder))
    kinds = [e[0] for e in recorder.events]
    assert ("start", "sparse", toy.STEPS) in recorder.events and kinds[-1] == "close"
    assert sum(e[1] for e in recorder.events if e[0] == "update") == toy.STEPS


@pytest.mark.parametrize(
    "change,exc,message",
    [
        ({"dims": []}, ValueError, "dims must be a non-empty sequence"),
        ({"dims": [0, 5]}, ValueError, r"dims\[0\] must be an integer >= 1"),
        ({"dims": [1001]}, ValueError, "dims must be <= D = 1000"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be a subspace.Optimizer"),
        ({"steps": None}, ValueError, "exactly one of steps and epochs"),
        ({"epochs": 3, "steps": None}, ValueError, "epochs needs data"),
        ({"projections": "gauss"}, ValueError, "projections must be in"),
        ({"threshold": None}, ValueError, "give a baseline optimizer"),
        ({"fraction": 1.5}, ValueError, r"fraction must be a number in \(0, 1\]"),
        ({"resume": True}, ValueError, "need an out folder"),
        ({"progress": "yes"}, TypeError, "progress must be True, False"),
        ({"meta": {"lr": object()}}, TypeError, "meta must be a JSON object"),
        ({"batch_size": 10}, ValueError, "batch_size is required with data, and only"),
        ({"metric": "final_los"}, ValueError, r"needs 'final_los', which training does not give"),
        ({"metric": "final_loss/initial_los"}, ValueError, "needs 'initial_los'"),
        ({"estimator": "es"}, TypeError, "estimator must be a subspace.estimators estimator"),
        ({"metric_fn": None}, TypeError, "unexpected keyword 'metric_fn'"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(change, exc, message, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("training started before the bad argument was refused")

    monkeypatch.setattr(_groups, "train_group", never)
    with pytest.raises(exc, match=message):
        subspace.measure(toy.TASK, **{**TOY, **change})


def _linear_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4, 4, 1)).astype(np.float32)
    y = (x.reshape(200, -1).sum(1) > 0).astype(np.int32)
    return subspace.Data(x[:150], y[:150], x[150:], y[150:])


def test_a_metric_the_data_does_not_give_is_refused_before_training(monkeypatch):
    from models import FC

    def never(*args, **kwargs):
        raise AssertionError("training started before the bad metric was refused")

    monkeypatch.setattr(_groups, "train_group", never)
    task = subspace.linen_task(FC(width=8, depth=1, num_classes=2), (4, 4, 1))
    data = _linear_data()
    with pytest.raises(ValueError, match=r"outputs of this task are \['last_step_loss', "):
        subspace.measure(
            task,
            data=subspace.Data(data.train_x, data.train_y),  # no test split
            dims=[4],
            epochs=1,
            batch_size=50,
            optimizer=subspace.Optimizer("adam", 1e-2),
            threshold=0.5,
            progress=False,
        )


def test_a_diverged_baseline_stops_the_measurement(tmp_path):
    from models import FC

    task = subspace.linen_task(FC(width=8, depth=1, num_classes=2), (4, 4, 1))
    with pytest.raises(subspace.SweepError, match="baseline diverged"):
        subspace.measure(
            task,
            data=_linear_data(),
            dims=[4],
            seeds=1,
            epochs=1,
            batch_size=50,
            optimizer=subspace.Optimizer("adam", 1e-2),
            baseline=subspace.Optimizer("sgd", 1e30),
            out=tmp_path,
            progress=False,
        )
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["baseline"][0]["status"] == "diverged" and not saved["members"]


def _readme_snippet(name: str, tmp_path, monkeypatch, namespace=None) -> dict:
    """Runs the README's ``<!-- snippet:NAME -->`` block as written, from ``tmp_path``
    (in ``namespace``: a snippet that continues another)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split(f"<!-- snippet:{name} -->")[1].split("<!-- snippet:end -->")[0]
    code = block.split("```python")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)  # the snippets write to runs/
    monkeypatch.syspath_prepend(str(ROOT))  # `from models import ...`, as from a checkout
    namespace = {} if namespace is None else namespace
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


def test_the_readme_rl_snippet_runs_as_written(tmp_path, monkeypatch, capsys):
    result = _readme_snippet("rl", tmp_path, monkeypatch)["result"]
    assert result.complete and result.config["schedule"]["estimator"]["name"] == "es"
    assert 100 < result.baseline_metric <= 500  # ES learns to balance (the maximum is 500)
    assert SweepResult.load(tmp_path / "runs" / "cartpole").to_json() == result.to_json()


def test_the_readme_snippets_run_as_written(tmp_path, monkeypatch, capsys):
    namespace = _readme_snippet("measure", tmp_path, monkeypatch)
    result = namespace["result"]
    assert result.complete and result.baseline_metric > 0.9
    found = result.d_int["fastfood"]
    assert found["d"] in (4, 16, 64)  # reached inside the grid, not at d = 1
    assert str(found["d"]) in capsys.readouterr().out
    assert SweepResult.load(tmp_path / "runs" / "mlp").to_json() == result.to_json()
    # the bounds snippet continues it: d = 1 has fewer coordinates than 3 levels; every
    # other (d, L) is bounded
    _readme_snippet("bounds", tmp_path, monkeypatch, namespace)
    records, best = namespace["records"], namespace["best"]
    found = sorted({(r["d"], r["levels"]) for r in records})
    assert found == [(4, 3), (16, 3), (16, 7), (64, 3), (64, 7)]
    assert best["train_error"] <= best["bound"] < 1.0
    assert f"d = {best['d']}: error <= {best['bound']:.3f}" in capsys.readouterr().out
