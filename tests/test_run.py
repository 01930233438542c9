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
