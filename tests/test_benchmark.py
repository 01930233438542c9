"""The benchmark harness (python -m experiments.benchmark) on tiny sizes."""

import json
import math

import numpy as np
import pytest

import subspace
from experiments.benchmark import (
    FULL,
    QUICK,
    SCHEMA_VERSION,
    Net,
    Sizes,
    hadamard,
    harness,
    readme,
    run,
    summary,
)
from experiments.benchmark import timing as timing_module
from experiments.benchmark.es import compare_es
from experiments.benchmark.steps import grid
from experiments.benchmark.targets import TARGETS, evaluate_targets
from experiments.benchmark.timing import measure
from models import FC

SMALL = (8, 8, 1)
TINY = Sizes(
    # D = 1,210: d = 2,000 > D is refused by the library and recorded as skipped.
    step_nets=(
        Net("MNIST FC", FC(width=16, depth=1), SMALL, grid(("dense", "fastfood"), (100, 2000))),
    ),
    scaling_nets=(),  # the comparison against D then holds MNIST FC's rows only
    scaling_d=100,
    projections=("dense", "fastfood"),
    batch_size=8,
    repeats=2,
    min_repeat_s=0.0,
    dense_max_bytes=2**19,  # P of d = 100: 484 KB
    fwht_sizes=(16, 64, (3, 32)),
    sweep_net=Net("tiny FC", FC(width=8, depth=1), SMALL),
    sweep_dims=(4,),  # one member: fast
    sweep_examples=64,
    sweep_steps=3,
    sweep_projection="sparse",  # the quickest to compile
    es_dims=(),  # ES skipped here: test_es_comparison_on_a_tiny_size measures it
)
TIMING_KEYS = {"median_s", "q25_s", "q75_s", "iqr_s", "min_s", "max_s", "repeats"}


def positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def check_timing(t, repeats):
    assert TIMING_KEYS <= set(t) and t["repeats"] == repeats and t["calls_per_repeat"] >= 1
    assert t["min_s"] <= t["q25_s"] <= t["median_s"] <= t["q75_s"] <= t["max_s"]
    assert positive(t["median_s"]) and t["iqr_s"] >= 0


def test_tiny_run_writes_the_documented_schema(tmp_path, capsys):
    run(TINY, tmp_path)
    doc = json.loads((tmp_path / "benchmark.json").read_text())
    assert doc["schema_version"] == SCHEMA_VERSION and doc["quick"] is False
    assert {"backend", "device_kind", "cpu_count", "jax_version"} <= set(doc["machine"])
    assert positive(doc["wall_time_s"])

    steps = doc["steps"]
    assert [(r["projection"], r["d"], r["status"]) for r in steps] == [
        ("plain", None, "ok"),
        ("dense", 100, "ok"),
        ("dense", 2000, "skipped"),
        ("fastfood", 100, "ok"),
        ("fastfood", 2000, "skipped"),
    ]
    assert "must be an integer in [1, D=1210]" in steps[2]["reason"]
    for r in steps:
        assert r["D"] == 1210 and r["model"] == "MNIST FC"
        if r["status"] == "ok":
            check_timing(r["step_s"], TINY.repeats)
            assert positive(r["ratio_to_plain"]) and positive(r["compile_s"])
            assert r["temp_ratio_to_plain"] is None or positive(r["temp_ratio_to_plain"])
    assert doc["scaling"] == [r for r in steps if r["d"] in (None, 100)]

    fwht = doc["fwht"]
    assert [r["n"] for r in fwht["rows"]] == [16, 64, 32]
    assert [r["shape"] for r in fwht["rows"]] == [[16], [64], [3, 32]]
    for r in fwht["rows"]:
        check_timing(r["fwht_s"], TINY.repeats)
        check_timing(r["butterfly_s"], TINY.repeats)
        if fwht["status"] == "ok":
            assert positive(r["ratio"]) and r["equal"] is True
        else:
            assert r["ratio"] is None and "[bench]" in fwht["reason"]

    sweep = doc["sweep"]
    assert sweep["ds"] == [4] and sweep["steps"] == 3 and len(sweep["sequential_member_s"]) == 1
    assert positive(sweep["speedup"]) and positive(sweep["batched_s"])
    assert sweep["max_z_difference"] < 1e-4  # both trained the same members

    assert doc["es"] is None and "es" not in doc["part_wall_s"]

    memory = {(r["projection"], r["d"]): r["bytes_per_parameter"] for r in doc["memory"]}
    assert memory[("dense", 100)] == 400.0  # D·d float32 numbers, measured though refused
    assert all(positive(v) for v in memory.values())

    assert [t["target"] for t in doc["targets"]] == [t[0] for t in TARGETS]
    for t in doc["targets"]:
        assert t["passed"] in (True, False, None) and (t["passed"] is None) == (t["value"] is None)
    assert doc["plots"] == ["step_time.png", "step_time_vs_D.png", "fwht.png", "sweep.png"]
    for name in doc["plots"]:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files
    out = capsys.readouterr().out
    assert "Targets" in out and "ms/step" in out

    # The README's scaling table from the same file.
    readme.main([str(tmp_path / "benchmark.json")])
    table = capsys.readouterr().out
    ratio = steps[3]["ratio_to_plain"]
    assert f"| MNIST FC, D = 1,210 ({steps[0]['step_s']['median_s'] * 1e3:.2f} ms) | 100 |" in table
    assert f"({ratio:.2f}x)" in table and "refused" not in table  # d = 2,000 > D: skipped
    assert "about 8x (22 ms), flat in d" in table  # the paper's figure beside ours


def hadamard_matrix(n):
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def test_fwht_checker_fails_on_different_results():
    n = 1024
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    reference = hadamard_matrix(n) @ x.astype(np.float64)
    ours = np.asarray(subspace.hadamard.fwht(x))
    assert hadamard.fwht_equal(ours, reference)
    assert hadamard.fwht_error(ours, reference) < hadamard.TOLERANCE
    wrong = ours.copy()
    wrong[7] += 0.01 * math.sqrt(n)  # one entry off by 1% of the entries' size
    assert not hadamard.fwht_equal(wrong, reference)
    assert hadamard.fwht_error(wrong, reference) > hadamard.TOLERANCE
    assert not hadamard.fwht_equal(ours[::-1], reference)
    assert not hadamard.fwht_equal(ours[:512], reference)  # another shape


def test_fwht_comparison_is_skipped_with_a_reason_without_fht_cpu(monkeypatch):
    monkeypatch.setattr(hadamard, "fht_cpu_module", lambda: None)
    result = hadamard.compare_fwht((32,), repeats=1, min_repeat_s=0.0)
    assert result["status"] == "skipped" and result["reason"] == hadamard.FHT_CPU_MISSING
    assert result["rows"][0]["fht_cpu_s"] is None and positive(
        result["rows"][0]["fwht_s"]["median_s"]
    )


def test_fwht_matches_fht_cpu():
    pytest.importorskip("fht_cpu", reason=hadamard.FHT_CPU_MISSING)
    row = hadamard.compare_fwht((2**12,), repeats=1, min_repeat_s=0.0)["rows"][0]
    assert row["equal"] is True and positive(row["ratio"])


def test_targets_pass_fail_and_not_measured():
    def step(model, projection, d, ms, ratio, temp_ratio=1.0):
        return {
            "model": model,
            "projection": projection,
            "d": d,
            "status": "ok",
            "step_s": {"median_s": ms / 1e3},
            "ratio_to_plain": ratio,
            "temp_ratio_to_plain": temp_ratio,
        }

    doc = {
        "steps": [
            step("MNIST FC", "fastfood", 100, 2.0, 1.0),
            step("MNIST FC", "fastfood", 1000, 2.0, 1.9, temp_ratio=2.5),
            step("MNIST FC", "fastfood", 10_000, 3.0, 1.5),
            step("MNIST FC", "sparse", 1000, 5.0, 2.5),
        ],
        "fwht": {"status": "skipped", "reason": hadamard.FHT_CPU_MISSING, "rows": []},
        "sweep": {"speedup": 1.6},
        "memory": [
            {"model": "MNIST FC", "projection": "fastfood", "d": 1000, "bytes_per_parameter": 16}
        ],
    }
    results = {t["target"]: t for t in evaluate_targets(doc)}
    passed = [t["passed"] for t in results.values()]
    assert passed == [True, None, False, False, None, True, True, False]
    flat = results["fastfood flat in d: step d = 10,000 / d = 100, MNIST FC"]
    assert flat["value"] == pytest.approx(1.5)
    assert results["fwht / fht_cpu, worst of n = 2^16 .. 2^20"]["note"] == hadamard.FHT_CPU_MISSING


def test_measure_calibrates_then_times_the_repeats(monkeypatch):
    # A fake clock: each call takes exactly 1 ms, so the test does not depend on the load.
    clock, calls = [0.0], []
    monkeypatch.setattr(timing_module.time, "perf_counter", lambda: clock[0])

    def run(k):
        calls.append(k)
        clock[0] += 0.001 * k

    timing = measure(run, repeats=3, min_repeat_s=0.004)
    check_timing(timing, 3)
    k = timing["calls_per_repeat"]
    assert k >= 4 and calls[-3:] == [k] * 3 and calls[0] == 1  # calibration, then repeats
    assert timing["median_s"] == pytest.approx(0.001, rel=1e-9)


def test_quick_sizes_measure_every_target():
    points = {net.name: net.points for net in QUICK.step_nets}
    fc = {("fastfood", 100), ("fastfood", 1000), ("fastfood", 10_000), ("sparse", 1000)}
    assert fc <= set(points["MNIST FC"]) and ("fastfood", 300) in points["MNIST LeNet"]
    assert {2**16, 2**20, (195, 1024)} <= set(QUICK.fwht_sizes) and len(QUICK.sweep_dims) == 16


def test_es_comparison_on_a_tiny_size():
    # 2 members, 2 generations of 4, episodes of at most 20 steps: the time is compilation
    # (three programs: batched, one member, the step count's replay).
    es = compare_es(
        (2, 4), (0,), generations=2, population=4, max_steps=20, eval_episodes=2, steady_repeats=1
    )
    assert es["env"] == "CartPole-v1" and es["D"] == 562 and es["width"] == 4
    assert es["ds"] == [2, 4] and es["seeds"] == [0, 0] and es["members"] == 2
    # Batched and alone, each member trained the same thing, bit for bit.
    assert es["final_fitness_equal"] and es["max_z_difference"] == 0.0
    assert es["final_fitness_batched"] == es["final_fitness_sequential"]
    assert es["replay_z_equal"] and es["steady_runs_equal"]
    # Steps: whole numbers, within what 2 members x (2 generations x 4 + 2 x 2 evaluation
    # episodes) of 1..20 steps can take.
    per_member = es["env_steps_per_member"]
    assert (
        sum(per_member) == es["env_steps"] == es["training_env_steps"] + es["evaluation_env_steps"]
    )
    assert all(12 <= s <= 12 * 20 for s in per_member)
    assert 8 <= es["training_env_steps"] // 2 <= 8 * 20
    lockstep = es["lockstep_training_steps"]
    assert lockstep["batched"] >= lockstep["sequential"] >= es["training_env_steps"]
    for run_ in ("batched", "sequential"):
        assert positive(es[f"{run_}_s"]) and positive(es[f"steady_{run_}_s"])
        assert es[f"{run_}_steps_per_s"] == pytest.approx(es["env_steps"] / es[f"{run_}_s"])
        assert es[f"compile_{run_}_s"] == pytest.approx(es[f"{run_}_s"] - es[f"steady_{run_}_s"])
    assert es["speedup"] == pytest.approx(es["sequential_s"] / es["batched_s"])
    assert len(es["sequential_member_s"]) == 2
    assert "batched" in summary.format_es(es) and "steady steps/s" in summary.format_es(es)
    assert "| sequential |" in "\n".join(readme.es_markdown(es))


def test_only_es_merges_into_an_earlier_file(tmp_path, monkeypatch):
    record = {"speedup": 1.0, "load_average_at_start": [0.0, 0.0, 0.0]}
    monkeypatch.setattr(harness, "measure_es", lambda sizes: dict(record))
    old = {"schema_version": 1, "quick": False, "part_wall_s": {"steps": 1.0}, "plots": []}
    (tmp_path / "benchmark.json").write_text(json.dumps(old))
    harness.merge_es(FULL, tmp_path)
    doc = json.loads((tmp_path / "benchmark.json").read_text())
    assert doc["schema_version"] == SCHEMA_VERSION == 2
    assert doc["es"] == {**record, "measured": "--only es"} and "es" in doc["part_wall_s"]
    assert doc["part_wall_s"]["steps"] == 1.0 and doc["plots"] == []  # the rest is kept
    assert [t["target"] for t in doc["targets"]] == [t[0] for t in TARGETS]
    with pytest.raises(SystemExit, match="same mode"):  # a quick file is not merged into
        harness.merge_es(QUICK, tmp_path, quick=True)
    with pytest.raises(SystemExit, match="does not exist"):
        harness.merge_es(FULL, tmp_path / "missing")


def test_es_sizes():
    assert len(FULL.es_dims) * len(FULL.es_seeds) == 24 and FULL.es_population == 64
    assert len(QUICK.es_dims) * len(QUICK.es_seeds) == 6 and QUICK.es_generations == 5


def test_the_readme_table_command_names_a_missing_file_in_one_error_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        readme.main([str(tmp_path / "none.json")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(
        f"error: path: no benchmark file at {tmp_path / 'none.json'}; run "
        "python -m experiments.benchmark first"
    )


def test_the_loop_forms_side_by_side_on_a_quick_case(tmp_path, capsys):
    from experiments.benchmark import loops

    assert loops.main(["--quick", "--cases", "mnist_fc_fastfood", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "loops.json").read_text())
    (row,) = doc["rows"]
    assert (row["case"], row["group_size"], row["d"], row["chunk"]) == (
        "mnist_fc_fastfood",
        1,
        1000,
        2,
    )
    for loop in ("scan", "steps"):
        assert row[f"{loop}_s_per_step"] > 0
        assert row[f"{loop}_member_steps_per_s"] == pytest.approx(1 / row[f"{loop}_s_per_step"])
    assert row["scan_over_steps"] == pytest.approx(row["scan_s_per_step"] / row["steps_s_per_step"])
    assert "one step per dispatch" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        loops.main(["--cases", "cifar_resnet", "--out", str(tmp_path)])
    assert stop.value.code == 2
    assert "--cases must name some of cifar_lenet_baseline" in capsys.readouterr().err
