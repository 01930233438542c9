"""python -m experiments.learning_curve: a config's baseline evaluated as it trains."""

import json
import re
from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.mark.skipif(
    not (DATASETS / "mnist").is_dir(),
    reason="the offline MNIST files (../shared/datasets/mnist) are absent",
)
def test_the_curve_of_a_smoke_config_on_real_files(tmp_path, capsys):
    from experiments import learning_curve as command

    argv = ["mnist_fc", "--smoke", "--data-dir", str(DATASETS), "--out", str(tmp_path)]
    command.main([*argv, "--epochs", "4", "--every", "2"])
    record = json.loads((tmp_path / "learning_curve.json").read_text())
    assert record["epochs"] == [2, 4] and record["member"] == "baseline"
    assert len(record["test_accuracy"]) == len(record["train_loss"]) == 2
    gain = record["test_accuracy"][1] - record["test_accuracy"][0]  # 0.8 x 4 epochs: point 2
    assert record["last_fifth_gain"] == pytest.approx(gain)
    assert record["train_loss"][1] < record["train_loss"][0]  # it trains
    assert (tmp_path / "learning_curve.png").stat().st_size > 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("epoch    2: test accuracy") and "last 20%" in out[-1]
    command.main([*argv, "--epochs", "1", "--d", "20"])
    member = json.loads((tmp_path / "learning_curve_d20.json").read_text())
    assert member["member"] == "fastfood/20" and member["optimizer"]["learning_rate"] == 1e-2


@pytest.mark.parametrize(
    "argv, match",
    [
        (["toy", "--epochs", "2"], "error: config must train on a data set; 'toy' does not"),
        (["mnist_fc", "--epochs", "0"], "argument --epochs: must be an integer >= 1; got '0'"),
        (["mnist_fc", "--epochs", "2", "--every", "3"], r"--every must be <= --epochs \(2\)"),
        (["mnist_fc"], "the following arguments are required: --epochs"),
    ],
)
def test_the_curve_command_says_one_error_line(argv, match, capsys):
    from experiments import learning_curve as command

    with pytest.raises(SystemExit) as exit_:
        command.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and re.search(match, err)
