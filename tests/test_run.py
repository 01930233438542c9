"""The main job, python -m experiments.run, on reduced grids."""

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments import run
from subspace.results import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--dims", "9,10", "--seeds", "1"]


def test_toy_main_job_finds_d_int100_10(tmp_path, capsys):
    assert run.main(["--dims", "8..11", "--seeds", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-3:] == ["dense: d_int100 = 10", "sparse: d_int100 = 10", "fastfood: d_int100 = 10"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["schema_version"] == SCHEMA_VERSION and results["complete"]
    assert {p: v["d"] for p, v in results["d_int"].items()} == {
        "dense": 10,
        "sparse": 10,
        "fastfood": 10,
    }
    assert results["d_int"]["fastfood"]["compression"] == 100.0
    members = [m for m in results["members"] if m["projection"] == "fastfood"]
    assert [(m["d"], m["seed"]) for m in members][:3] == [(8, 0), (8, 1), (9, 0)]
    for m in results["members"]:
        assert m["width"] == 11 and m["status"] == "ok"
        assert (m["final_loss/initial_loss"] <= 1e-7) == (m["d"] >= 10)
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert len(rows) == 24 and rows[0]["wall_time_s"] and rows[0]["status"] == "ok"
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files
    assert not (tmp_path / "checkpoints").exists()  # finished groups leave no checkpoint


def test_refine_from_a_coarse_grid_lands_on_10(tmp_path, capsys):
    run.main(
        [
            "--dims",
            "2,4,8,16,32",
            "--seeds",
            "1",
            "--projection",
            "sparse",
            "--refine",
            "--out",
            str(tmp_path),
        ]
    )
    assert capsys.readouterr().out.strip().splitlines()[-1] == "sparse: d_int100 = 10"
    rounds = json.loads((tmp_path / "results.json").read_text())["d_int"]["sparse"]["rounds"]
    assert rounds[0] == [2, 4, 8, 16, 32] and len(rounds) >= 2


def test_another_seed_and_one_projection(tmp_path, capsys):
    run.main([*SMALL, "--seed", "17", "--projection", "dense", "--out", str(tmp_path)])
    assert capsys.readouterr().out.strip().splitlines()[-1] == "dense: d_int100 = 10"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--dims", "0..5"], "--dims values must be integers >= 1"),
        (["--dims", "a,b"], "--dims must be LO..HI"),
        (["--dims", "geom:1:10"], "--dims must be LO..HI"),
        (["--seeds", "0"], "must be a number > 0"),
        (["--projection", "gaussian"], "invalid choice"),
        (["--steps", "-3"], "must be a number > 0"),
        (["--lr", "nan"], "must be a number > 0"),
    ],
)
def test_bad_arguments_are_refused(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        run.main([*argv, "--out", str(tmp_path)])
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["nope"], "unknown config 'nope'; available: "),
        (["--dims", "5,1001"], "must be <= D = 1000"),
        (["--epochs", "3"], "epochs needs data; a problem without data takes steps"),
        (["--epochs", "3", "--steps", "4"], "give exactly one of steps and epochs"),
        (["--set", "schedule.epoch=3"], "Schedule has no field 'epoch'; its fields are ["),
        (["--set", "schedule.steps"], "--set takes PATH=VALUE"),
        (["--set", "readout.metric=final_los"], "needs 'final_los', which training does not"),
        (["--set", "schedule.baseline.learning_rate=0.1"], "schedule.baseline is null"),
        (["--set", "grid.projections=gauss"], "Grid: projections must be in"),
    ],
)
def test_bad_config_arguments_are_refused_before_work(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        run.main([*argv, "--out", str(tmp_path)])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def test_parse_dims_geometric():
    assert run.parse_dims("geom:2:32:5") == [2, 4, 8, 16, 32]


def _printed(argv, capsys) -> dict:
    assert run.main([*argv, "--print-config"]) == 0
    return json.loads(capsys.readouterr().out)


def test_print_config_prints_the_whole_resolved_config(capsys):
    printed = _printed(["mnist_lenet"], capsys)
    assert set(printed) == {"name", "task", "grid", "schedule", "readout", "run", "smoke"}
    assert printed["task"]["model"] == {"name": "lenet", "kwargs": {}}
    assert printed["schedule"]["optimizer"] == {
        "name": "adam",
        "learning_rate": 0.01,
        "weight_decay": 0.0,
        "options": {},
    }
    assert printed["schedule"]["epochs"] == 3 and printed["run"]["out"] == "runs/mnist_lenet"
    from experiments.config import Experiment
    from subspace.config import from_json

    assert from_json(Experiment, printed).to_json() == printed  # it is the config, whole


def test_set_overrides_any_nested_field_and_the_flags_are_shorthands(capsys):
    base = _printed(["mnist_lenet"], capsys)
    changed = _printed(
        [
            "mnist_lenet",
            "--set",
            "schedule.epochs=10",
            "--set",
            "task.model.kwargs.num_classes=10",
            "--set",
            'schedule.baseline={"name": "sgd", "learning_rate": 0.1}',
            "--set",
            "readout.fraction=1",
        ],
        capsys,
    )
    assert changed["schedule"]["epochs"] == 10 and changed["task"]["model"]["kwargs"] == {
        "num_classes": 10
    }
    assert changed["schedule"]["baseline"]["name"] == "sgd"
    assert changed["readout"]["fraction"] == 1.0
    assert {k: v for k, v in changed.items() if k not in ("schedule", "task", "readout")} == {
        k: v for k, v in base.items() if k not in ("schedule", "task", "readout")
    }
    flags = ["--dims", "2,4", "--seeds", "2", "--seed", "5", "--lr", "0.5", "--epochs", "7"]
    sets = [
        *("--set", "grid.dims=[2, 4]", "--set", "grid.seeds=[5, 6]"),
        *("--set", "schedule.optimizer.learning_rate=0.5", "--set", "schedule.epochs=7"),
    ]
    assert _printed(["mnist_lenet", *flags], capsys) == _printed(["mnist_lenet", *sets], capsys)
    # --steps replaces the config's epochs (and --epochs a full-batch config's steps)
    steps = _printed(["mnist_lenet", "--steps", "40"], capsys)["schedule"]
    assert (steps["steps"], steps["epochs"]) == (40, None)


def test_set_changes_what_runs(tmp_path, capsys):
    run.main(
        [
            *SMALL,
            "--projection",
            "sparse",
            "--set",
            "schedule.steps=40",
            "--set",
            "readout.threshold=0.5",
            "--out",
            str(tmp_path),
        ]
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["steps"] == 40 and all(m["steps"] == 40 for m in results["members"])
    assert results["config"]["schedule"]["steps"] == 40
    assert results["threshold"] == 0.5
    last = capsys.readouterr().out.strip().splitlines()[-1]  # 9 is the grid's smallest d
    assert (
        last == "sparse: d_int100 = <= 9 (the smallest d of the grid already reaches the threshold)"
    )


def _members(folder: Path) -> list:
    return json.loads((folder / "results.json").read_text())["members"]


def test_killed_run_resumes_to_the_same_results(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    small = [*SMALL, "--projection", "sparse", "--budget-mb", "0.0001"]  # 2 groups of 1
    run.main([*small, "--out", str(full)])
    # A real interruption: kill the job once its first group is on disk.
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.run", *small, "--out", str(part)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:  # until the first group's member is on disk
        if (part / "results.json").exists() and _members(part):
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    partial = json.loads((part / "results.json").read_text())
    assert not partial["complete"] and len(partial["members"]) == 1
    run.main([*small, "--out", str(part), "--resume"])
    assert (part / "results.json").read_bytes() == (full / "results.json").read_bytes()


def test_mismatched_or_corrupt_results_are_refused(tmp_path, capsys):
    run.main([*SMALL, "--projection", "sparse", "--out", str(tmp_path)])
    doc = json.loads((tmp_path / "results.json").read_text())
    doc["config"]["grid"]["dims"] = [9]
    (tmp_path / "results.json").write_text(json.dumps(doc))
    capsys.readouterr()
    with pytest.raises(SystemExit):
        run.main([*SMALL, "--projection", "sparse", "--out", str(tmp_path), "--resume"])
    assert "another config (differs in config.grid.dims)" in capsys.readouterr().err
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(SystemExit):
        run.main([*SMALL, "--out", str(tmp_path), "--resume"])
    assert "not valid JSON" in capsys.readouterr().err
    assert (tmp_path / "results.json").read_text() == "{not json"  # never overwritten


def test_small_memory_budget_splits_members_into_groups(tmp_path, capsys):
    run.main(
        [
            *SMALL,
            "--seeds",
            "2",
            "--projection",
            "sparse",
            "--budget-mb",
            "0.0001",
            "--out",
            str(tmp_path / "small"),
        ]
    )
    out = capsys.readouterr().out
    assert "groups of 1, the largest that fits" in out and "-> 4 group(s)" in out
    assert "sparse group 4/4" in out
    assert out.strip().splitlines()[-1] == "sparse: d_int100 = 10"
    run.main([*SMALL, "--seeds", "2", "--projection", "sparse", "--out", str(tmp_path / "one")])
    small = json.loads((tmp_path / "small" / "results.json").read_text())
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    # Grouping does not change a member beyond float round-off (another vmap width may
    # vectorise the arithmetic differently).
    for a, b in zip(small["members"], one["members"], strict=True):
        assert {k: v for k, v in a.items() if not isinstance(v, float)} == {
            k: v for k, v in b.items() if not isinstance(v, float)
        }
        for k, v in a.items():
            if isinstance(v, float):
                assert v == pytest.approx(b[k], rel=1e-4, abs=1e-6), k  # losses ~ 500
