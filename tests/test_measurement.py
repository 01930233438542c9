"""subspace.measure: a whole intrinsic-dimension measurement from Python, resumable."""

import json
from pathlib import Path

import numpy as np
import optax
import pytest

import subspace
from experiments import toy
from subspace import measurement
from subspace.results import SweepResult

TOY = dict(
    dims=[8, 9, 10, 11],
    seeds=2,
    optimizer=toy.optimizer(),
    steps=toy.STEPS,
    projections="sparse",
    metric="relative_loss",
    metric_fn=lambda r: r["final_loss"] / r["initial_loss"],
    higher_is_better=False,
    threshold=toy.TOLERANCE,
    fraction=1.0,
    progress=False,
)


def test_the_toy_measures_d_int100_10_in_memory():
    result = subspace.measure(toy.TASK, **TOY)
    assert result.complete and result.d_int["sparse"]["d"] == 10
    assert result.config["D"] == 1000 and result.baseline == []
    ds, means = result.means("sparse")
    assert ds.tolist() == [8, 9, 10, 11] and (means[2:] < 1e-7).all() and (means[:2] > 1e-7).all()


def test_an_interrupted_measurement_resumes_to_the_same_results(tmp_path, monkeypatch):
    groups = dict(TOY, dims=[9, 10, 11], seeds=1, budget_bytes=1)  # 3 groups of 1 member
    full = subspace.measure(toy.TASK, out=tmp_path / "full", **groups)
    real, calls = measurement.train_group, []

    def killed_after_two_groups(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(measurement, "train_group", killed_after_two_groups)
    with pytest.raises(KeyboardInterrupt):
        subspace.measure(toy.TASK, out=tmp_path / "part", **groups)
    partial = json.loads((tmp_path / "part" / "results.json").read_text())
    assert not partial["complete"] and len(partial["members"]) == 2
    monkeypatch.setattr(measurement, "train_group", real)
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
    with pytest.raises(subspace.SweepError, match=r"another config \(differs in dims\)"):
        subspace.measure(toy.TASK, out=tmp_path, resume=True, **dict(TOY, dims=[9], seeds=1))


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
        ({"dims": []}, TypeError, "dims must be a non-empty sequence"),
        ({"dims": [0, 5]}, ValueError, r"dims\[0\] must be an integer >= 1"),
        ({"dims": [1001]}, ValueError, "dims must be <= D = 1000"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be an optax"),
        ({"steps": None}, ValueError, "exactly one of steps and epochs"),
        ({"epochs": 3, "steps": None}, ValueError, "epochs needs data"),
        ({"projections": "gauss"}, ValueError, "projections must be in"),
        ({"threshold": None}, ValueError, "give a baseline optimizer"),
        ({"fraction": 1.5}, ValueError, r"fraction must be a number in \(0, 1\]"),
        ({"resume": True}, ValueError, "need an out folder"),
        ({"progress": "yes"}, TypeError, "progress must be True, False"),
        ({"meta": {"lr": object()}}, TypeError, "meta must be a JSON object"),
        ({"batch_size": 10}, ValueError, "batch_size is required with data, and only"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(change, exc, message):
    with pytest.raises(exc, match=message):
        subspace.measure(toy.TASK, **{**TOY, **change})


def test_a_diverged_baseline_stops_the_measurement(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4, 4, 1)).astype(np.float32)
    y = (x.reshape(200, -1).sum(1) > 0).astype(np.int32)
    from models import FC

    task = subspace.linen_task(FC(width=8, depth=1, num_classes=2), (4, 4, 1))
    with pytest.raises(subspace.SweepError, match="baseline diverged"):
        subspace.measure(
            task,
            data=subspace.Data(x[:150], y[:150], x[150:], y[150:]),
            dims=[4],
            seeds=1,
            epochs=1,
            batch_size=50,
            optimizer=optax.adam(1e-2),
            baseline=optax.sgd(1e30),
            out=tmp_path,
            progress=False,
        )
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["baseline"][0]["status"] == "diverged" and not saved["members"]


def test_the_readme_snippet_runs_as_written(tmp_path, monkeypatch, capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("<!-- snippet:measure -->")[1].split("<!-- snippet:end -->")[0]
    code = block.split("```python")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)  # the snippet writes to runs/mlp
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    result = namespace["result"]
    assert result.complete and result.baseline_metric > 0.9
    found = result.d_int["fastfood"]
    assert found["d"] in (4, 16, 64)  # reached inside the grid, not at d = 1
    assert str(found["d"]) in capsys.readouterr().out
    assert SweepResult.load(tmp_path / "runs" / "mlp").to_json() == result.to_json()
