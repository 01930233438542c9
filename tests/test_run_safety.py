"""The command line against careless and hostile use: diverged runs, results already on
disk, bad output folders, checkpoints from elsewhere, corrupt files and bad flags. Every
mistake is one ``error:`` line and exit code 2, before any training."""

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments import config as configs
from experiments import run
from subspace import _groups as measure
from subspace.checkpoint import GroupCheckpoint
from subspace.results import SCHEMA_VERSION
from tests.test_data import _mnist_arrays, _write_mnist

ROOT = Path(__file__).resolve().parents[1]
TOY = ["--dims", "9,10", "--seeds", "1", "--projection", "sparse"]


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    """A fake MNIST (600 training, 300 test images): enough for the configs' smoke mode."""
    folder = tmp_path_factory.mktemp("data") / "mnist"
    _write_mnist(folder, _mnist_arrays(n_train=600, n_test=300))
    return folder.parent


def _fails(argv, capsys) -> str:
    """Runs the command, expects exit code 2, returns its one-line error."""
    with pytest.raises(SystemExit) as e:
        run.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: "), err
    return err[-1]


def _image(mnist_dir, out, *extra):
    return ["mnist_fc", "--smoke", "--data-dir", str(mnist_dir), "--out", str(out), *extra]


# 1. diverged runs -------------------------------------------------------------------------


def test_diverged_members_never_reach_the_threshold(mnist_dir, tmp_path, capsys):
    argv = _image(mnist_dir, tmp_path, "--dims", "10,20", "--seeds", "1", "--lr", "1e30")
    assert run.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "fastfood: d_int90 = > 20 (not reached)"
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["baseline"][0]["status"] == "ok"
    assert results["members"] and all(m["status"] == "diverged" for m in results["members"])
    for m in results["members"]:
        assert m["test_accuracy"] is None and m["train_accuracy"] is None
    assert results["d_int"]["fastfood"]["d"] is None


@pytest.mark.parametrize(
    "lrs", [["--baseline-lr", "1e30"], ["--lr", "1e30", "--baseline-lr", "1e30"]]
)
def test_a_diverged_baseline_stops_the_run(mnist_dir, tmp_path, capsys, lrs):
    error = _fails(_image(mnist_dir, tmp_path, "--dims", "10", "--seeds", "1", *lrs), capsys)
    assert "baseline diverged" in error and "learning rate" in error
    results = json.loads((tmp_path / "results.json").read_text())
    assert not results["complete"] and not results["members"]
    assert results["baseline"][0]["status"] == "diverged"
    assert results["baseline"][0]["test_accuracy"] is None


# 4. committed results and the user's first run ----------------------------------------------


def _spec_of(folder: str) -> str:
    for spec in configs.specs():
        if spec.replace(":", "_") == folder:
            return spec
    raise AssertionError(f"experiments/results/{folder} matches no config")


COMMITTED = sorted((ROOT / "experiments" / "results").glob("*/results.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_committed_results_match_what_the_current_config_writes(path, tmp_path):
    committed = json.loads(path.read_text())
    spec = _spec_of(path.parent.name)
    exp = run.resolve(run.build_parser().parse_args([spec, "--out", str(tmp_path / "x")]))
    assert committed["schema_version"] == SCHEMA_VERSION and committed["complete"]
    assert committed["config"] == exp.measurement().to_json(), (
        "re-run or convert the committed results: python -m experiments.run "
        f"{spec} --out experiments/results/{path.parent.name} --overwrite"
    )
    params, _ = jax.eval_shape(exp.task.build().init, jax.random.key(0))
    assert committed["D"] == sum(p.size for p in jax.tree_util.tree_leaves(params))
    s = exp.schedule
    steps = s.steps or s.epochs * (exp.task.train_size // s.batch_size)
    assert committed["steps"] == steps
    g = committed["config"]["grid"]
    keys = {(m["projection"], m["d"], m["seed"]) for m in committed["members"]}
    assert {(p, d, s) for p in g["projections"] for d in g["dims"] for s in g["seeds"]} <= keys
    # Rebuilt from the file, the experiment is the config's, whole.
    rebuilt = configs.Experiment.from_results(committed["config"])
    assert rebuilt.to_json() == {**exp.to_json(), "run": rebuilt.to_json()["run"]}


def test_a_users_run_goes_to_a_git_ignored_folder():
    out = Path(run.resolve(run.build_parser().parse_args([])).run.out)
    assert out == Path("runs/toy")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(out / "results.json")], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, f"{out} is not git-ignored"


# 5. results already on disk ---------------------------------------------------------------


def test_existing_results_are_never_replaced_without_resume_or_overwrite(tmp_path, capsys):
    assert run.main([*TOY, "--out", str(tmp_path)]) == 0
    before = (tmp_path / "results.json").read_bytes()
    error = _fails([*TOY, "--out", str(tmp_path)], capsys)
    assert "already holds results: resume" in error and "overwrite" in error
    assert (tmp_path / "results.json").read_bytes() == before
    # Another config is refused even with --resume; --overwrite starts again.
    error = _fails([*TOY, "--seed", "3", "--out", str(tmp_path), "--resume"], capsys)
    assert "another config (differs in config.grid.seeds)" in error
    assert run.main([*TOY, "--seed", "3", "--out", str(tmp_path), "--overwrite"]) == 0
    assert json.loads((tmp_path / "results.json").read_text())["config"]["grid"]["seeds"] == [3]


def test_an_in_flight_checkpoint_is_not_deleted_without_resume(tmp_path, capsys):
    stray = tmp_path / "checkpoints" / "sparse-0123456789abcdef"
    stray.mkdir(parents=True)
    error = _fails([*TOY, "--out", str(tmp_path)], capsys)
    assert "unfinished group's checkpoint" in error
    assert stray.is_dir()


# 6. the output folder, the batch size: checked before any work --------------------------------


def test_a_bad_out_is_refused_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    missing_data = tmp_path / "no-data"  # the data would fail too, but later
    for out in (a_file, a_file / "under"):
        error = _fails(_image(missing_data, out), capsys)
        assert f"out {out}" in error and "is a file" in error


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to any folder")
def test_an_unwritable_out_is_refused(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert "not writable" in _fails([*TOY, "--out", str(locked / "x")], capsys)


def test_a_batch_size_above_the_data_set_is_refused_before_loading(tmp_path, capsys):
    error = _fails(_image(tmp_path / "no-data", tmp_path / "out", "--batch-size", "100000"), capsys)
    assert "schedule.batch_size must be <= the 512 training examples" in error


# 7. checkpoints ------------------------------------------------------------------------------


def _interrupted(monkeypatch, tmp_path, *extra):
    """Runs the toy until its group has saved a checkpoint, then 'kills' it."""
    real = measure.train_group

    def train_until_checkpoint(*args, **kwargs):
        calls = []

        def on_steps(k):
            calls.append(k)
            if len(calls) == 2:  # the checkpoint after the first chunk is on disk
                raise KeyboardInterrupt

        return real(*args, **{**kwargs, "on_steps": on_steps})

    monkeypatch.setattr(measure, "train_group", train_until_checkpoint)
    with pytest.raises(SystemExit) as stopped:  # the command line: "interrupted: ...", 130
        run.main([*TOY, *extra, "--checkpoint-every", "100", "--out", str(tmp_path)])
    assert stopped.value.code == 130
    monkeypatch.setattr(measure, "train_group", real)
    (folder,) = (tmp_path / "checkpoints").iterdir()
    assert (folder / "identity.json").is_file()
    return folder


def test_a_corrupt_checkpoint_names_the_folder_to_delete(monkeypatch, tmp_path, capsys):
    folder = _interrupted(monkeypatch, tmp_path)
    for f in folder.rglob("*"):
        if f.is_file() and f.name != "identity.json":
            f.write_bytes(b"garbage")
    error = _fails([*TOY, "--checkpoint-every", "100", "--out", str(tmp_path), "--resume"], capsys)
    assert "corrupt" in error and f"delete {folder}" in error


def test_a_foreign_checkpoint_is_refused(monkeypatch, tmp_path, capsys):
    ours = _interrupted(monkeypatch, tmp_path / "b")
    theirs = tmp_path / "another-group"
    GroupCheckpoint(theirs, identity={"members": [{"d": 3, "seed": 7}]}).save(
        100, {"z": np.ones(3, np.float32)}
    )
    shutil.rmtree(ours)
    shutil.copytree(theirs, ours)  # moved in from another group
    argv = [*TOY, "--checkpoint-every", "100", "--out", str(tmp_path / "b"), "--resume"]
    error = _fails(argv, capsys)
    assert "not written for this group" in error and str(ours) in error


def test_a_resumed_run_removes_every_checkpoint_when_done(monkeypatch, tmp_path, capsys):
    _interrupted(monkeypatch, tmp_path)
    # A group folder half deleted by a kill during an earlier clean-up (the library's name).
    stray = tmp_path / "checkpoints" / "sparse-0123456789abcdef" / "step_100.orbax-tmp"
    stray.mkdir(parents=True)
    assert run.main([*TOY, "--checkpoint-every", "100", "--out", str(tmp_path), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "continuing from its checkpoint at step 100 of 300" in out
    assert out.strip().splitlines()[-1] == "sparse: d_int100 = 10"
    assert not (tmp_path / "checkpoints").exists()


def test_group_checkpoint_checks_its_identity(tmp_path):
    like = {"z": np.zeros(2, np.float32)}
    GroupCheckpoint(tmp_path, identity={"members": [1]}).save(3, {"z": np.ones(2, np.float32)})
    assert GroupCheckpoint(tmp_path, identity={"members": [1]}).restore(like)[0] == 3
    with pytest.raises(ValueError, match="not written for this group"):
        GroupCheckpoint(tmp_path, identity={"members": [2]}).restore(like)


# 8. user errors: one line, exit code 2 ----------------------------------------------------------


def test_missing_data_is_one_line(tmp_path, capsys):
    error = _fails(_image(tmp_path / "empty", tmp_path / "out"), capsys)
    assert "could not be loaded" in error and "--data-dir" in error and "--download" in error


def test_corrupt_data_is_one_line(tmp_path, capsys):
    folder = tmp_path / "data" / "mnist"
    _write_mnist(folder, _mnist_arrays(n_train=600, n_test=300))
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08garbage")
    error = _fails(_image(folder.parent, tmp_path / "out"), capsys)
    assert "train-images-idx3-ubyte.gz" in error


def test_a_data_set_of_another_size_is_refused(tmp_path, capsys):
    _write_mnist(tmp_path / "data" / "mnist", _mnist_arrays(n_train=300, n_test=300))
    error = _fails(_image(tmp_path / "data", tmp_path / "out"), capsys)
    assert "300" in error and "training examples" in error


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a results file"),
    ],
)
def test_corrupt_results_are_one_line_and_kept(tmp_path, capsys, content, message):
    (tmp_path / "results.json").write_text(content)
    error = _fails([*TOY, "--out", str(tmp_path), "--resume"], capsys)
    assert message in error and "overwrite" in error
    assert (tmp_path / "results.json").read_text() == content


def test_a_member_record_missing_a_key_is_one_line(tmp_path, capsys):
    assert run.main([*TOY, "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    del doc["members"][0]["status"]
    (tmp_path / "results.json").write_text(json.dumps(doc))
    error = _fails([*TOY, "--out", str(tmp_path), "--resume"], capsys)
    assert "members record 0 lacks status" in error


@pytest.mark.parametrize(
    "field,value,allowed",
    [
        ("loops", {"sparse/9": "while"}, "one of ('scan', 'steps')"),
        ("loops", ["scan"], "one of ('scan', 'steps')"),
        ("group_sizes", {"sparse/9": 0}, "a positive integer"),
        ("group_sizes", {"sparse/9": "4"}, "a positive integer"),
    ],
)
def test_a_malformed_grouping_record_is_one_line(tmp_path, capsys, field, value, allowed):
    assert run.main([*TOY, "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    doc[field] = value
    (tmp_path / "results.json").write_text(json.dumps(doc))
    error = _fails([*TOY, "--out", str(tmp_path), "--resume"], capsys)
    assert f"'{field}' must map each group's kind/width to {allowed}" in error


def test_a_corrupt_timings_file_never_blocks_a_resume(tmp_path, capsys):
    assert run.main([*TOY, "--out", str(tmp_path)]) == 0
    (tmp_path / "timings.json").write_text("{oops")
    assert run.main([*TOY, "--out", str(tmp_path), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "warning: " in out and "timings.json is unreadable" in out
    assert json.loads((tmp_path / "timings.json").read_text())["backend"]


@pytest.mark.parametrize(
    "dims,message",
    [
        ("5..2", "reversed: write 2..5"),
        ("geom:1:1000:100000000", "asks for 100,000,000 values"),
        ("1..5000", "at most 1000"),
        (",".join(str(i) for i in range(1, 1500)), "at most 1000"),
    ],
)
def test_bad_dims_are_refused_at_once(dims, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        run.main(["--dims", dims, "--out", str(tmp_path)])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_result_files_are_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        assert run.main([*TOY, "--out", str(tmp_path)]) == 0
    finally:
        os.umask(old)
    for name in ("results.json", "results.csv", "timings.json", "sweep.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_list_names_every_config_and_variant(capsys):
    assert run.main(["--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [line.split()[0] for line in lines]
    assert names == configs.specs() and "mnist_fc_family:w50d2" in names and "toy" in names
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # each has a description
