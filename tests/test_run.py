"""The main job, python -m experiments.run, on a reduced grid."""

import json

import pytest

from experiments import run


def test_toy_main_job_finds_d_int100_10(tmp_path, capsys):
    assert run.main(["--dims", "8..11", "--seeds", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-3:] == ["dense: d_int100 = 10", "sparse: d_int100 = 10", "fastfood: d_int100 = 10"]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["schema_version"] == 1
    assert results["d_int100"] == {"dense": 10, "sparse": 10, "fastfood": 10}
    members = results["runs"]["fastfood"]
    assert [(m["d"], m["seed"]) for m in members][:3] == [(8, 0), (8, 1), (9, 0)]
    assert all(m["solved"] == (m["d"] >= 10) for p in results["runs"] for m in results["runs"][p])
    assert (tmp_path / "toy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_another_seed_and_one_projection(tmp_path, capsys):
    run.main(
        [
            "--dims",
            "9,10",
            "--seeds",
            "1",
            "--seed",
            "17",
            "--projection",
            "dense",
            "--out",
            str(tmp_path),
        ]
    )
    assert capsys.readouterr().out.strip().splitlines()[-1] == "dense: d_int100 = 10"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--dims", "0..5"], "--dims values must be integers in"),
        (["--dims", "1..1001"], "--dims values must be integers in"),
        (["--dims", "a,b"], "--dims must be LO..HI"),
        (["--dims", "geom:1:10"], "--dims must be LO..HI"),
        (["--seeds", "0"], "must be an integer >= 1"),
        (["--projection", "gaussian"], "invalid choice"),
        (["--steps", "-3"], "must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_refused(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        run.main([*argv, "--out", str(tmp_path)])
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()


def test_parse_dims_geometric():
    assert run.parse_dims("geom:2:32:5") == [2, 4, 8, 16, 32]


def test_results_csv_and_diverged_members(tmp_path):
    records = run.member_records([9, 10], [0, 0], [2.0, 2.0], [0.5, float("nan")])
    assert records[0]["status"] == "ok" and not records[0]["solved"]
    assert records[1]["status"] == "diverged" and records[1]["relative_loss"] is None
    assert not records[1]["solved"]
    run.write_csv(tmp_path / "r.csv", {"dense": records}, ["dense"])
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert lines[0] == "projection,d,seed,initial_loss,final_loss,relative_loss,solved,status"
    assert lines[2] == "dense,10,0,2.0,,,False,diverged"


ARGS = ["--dims", "9,10", "--seeds", "1"]


def test_killed_run_resumes_to_the_same_results(tmp_path):
    import subprocess
    import sys
    import time

    full, part = tmp_path / "full", tmp_path / "part"
    run.main([*ARGS, "--out", str(full)])
    # A real interruption: kill the job once its first group is on disk.
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.run", *ARGS, "--out", str(part)],
        cwd=run.Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not (part / "results.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    partial = json.loads((part / "results.json").read_text())
    assert not partial["complete"] and "dense" in partial["runs"]
    assert len(partial["runs"]) < 3
    run.main([*ARGS, "--out", str(part), "--resume"])
    assert (part / "results.json").read_bytes() == (full / "results.json").read_bytes()
    assert (part / "results.csv").read_bytes() == (full / "results.csv").read_bytes()


def test_mismatched_or_corrupt_results_are_refused(tmp_path):
    (tmp_path / "results.json").write_text('{"schema_version": 1, "config": {"D": 5}}')
    with pytest.raises(SystemExit, match="another config"):
        run.main([*ARGS, "--out", str(tmp_path)])
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        run.main([*ARGS, "--out", str(tmp_path), "--resume"])
    assert (tmp_path / "results.json").read_text() == "{not json"  # never overwritten
