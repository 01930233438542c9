"""A measurement a researcher can rely on: the trained networks are kept and given back, the
grouping is the fastest on the hardware, progress and Ctrl-C follow finished work, one
writer per folder, and no silent wrong result."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subspace
from experiments import toy
from subspace import _grouping, _groups, _step_times, loop
from subspace._results_folder import LOCK, FolderLock
from subspace.sweep import d_mask

ROOT = Path(__file__).resolve().parents[1]
TOY = dict(
    dims=[9, 10],
    seeds=1,
    optimizer=subspace.Optimizer("lbfgs", None),
    steps=toy.STEPS,
    projections="sparse",
    metric="final_loss/initial_loss",
    higher_is_better=False,
    threshold=toy.TOLERANCE,
    fraction=1.0,
    group_size="memory",
    progress=False,
)


class _CNN(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        x = nn.Conv(4, (3, 3), strides=2)(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(x))
        return nn.Dense(2)(x.reshape(len(x), -1))


def _images(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 1)).astype(np.float32)
    y = (x.reshape(n, -1).sum(1) > 0).astype(np.int32)
    return subspace.Data(x[:500], y[:500], x[500:], y[500:])


CNN_TASK = subspace.linen_task(_CNN(), (8, 8, 1))


def _accuracy(params, model_state, data):
    out = CNN_TASK.eval_fn(params, model_state, (data.test_x, data.test_y))
    return float(np.mean(np.asarray(out["accuracy"])))


# 1. every trained network, back ------------------------------------------------------------


def test_every_member_comes_back_bitwise_and_the_d_int90_member_reloads(tmp_path):
    data = _images()
    kw = dict(
        data=data,
        dims=[2, 8, 32],
        seeds=2,
        epochs=2,
        batch_size=50,
        optimizer=subspace.Optimizer("adam", 0.05),
        baseline=subspace.Optimizer("adam", 0.01),
        group_size=6,
        progress=False,
    )
    result = subspace.measure(CNN_TASK, out=tmp_path / "m", **kw)
    loaded = subspace.SweepResult.load(tmp_path / "m")
    in_memory = subspace.measure(CNN_TASK, **kw)  # without a folder: kept in the result
    # The same group trained again through the public API: z and BatchNorm statistics.
    sweep = subspace.make_sweep(CNN_TASK, optax.adam(0.05), projection="fastfood", width=32)
    ds, seeds = np.array([2, 2, 8, 8, 32, 32]), np.array([0, 1, 0, 1, 0, 1])
    again = subspace.train_group(
        sweep, (ds, seeds), steps=result.steps, data=data, batch_size=50, group_size=6
    )
    for i, (d, seed) in enumerate(zip(ds, seeds, strict=True)):
        member = loaded.member(CNN_TASK, int(d), int(seed))
        np.testing.assert_array_equal(member.z, again["z"][i][:d])
        stats = jax.tree_util.tree_map(lambda a, i=i: a[i], again["model_state"])
        jax.tree_util.tree_map(np.testing.assert_array_equal, member.model_state, stats)
        assert _accuracy(member.params, member.model_state, data) == member.record["test_accuracy"]
        assert np.array_equal(in_memory.member(CNN_TASK, int(d), int(seed)).z, member.z)
    params, state = loaded.baseline_network(CNN_TASK, 1)
    assert _accuracy(params, state, data) == loaded.baseline[1]["test_accuracy"]
    # The d_int90 member, compressed to (seed, z) and loaded back.
    best = loaded.member(CNN_TASK, result.d_int["fastfood"]["d"], 0)
    path = best.save_compressed(tmp_path / "best.npz")
    like = jax.tree_util.tree_map(jnp.zeros_like, best.model_state)
    back = subspace.load_compressed(path, init=lambda k: CNN_TASK.init(k)[0], model_state_like=like)
    assert _accuracy(back.params, back.model_state, data) == best.record["test_accuracy"]
    with pytest.raises(ValueError, match=r"no member \(fastfood, d=3, seed=0\)"):
        loaded.member(CNN_TASK, 3, 0)


def test_results_without_networks_say_so(tmp_path):
    subspace.measure(toy.TASK, out=tmp_path / "m", **TOY)
    (tmp_path / "m" / "networks" / "sparse" / "d10-s0.npz").unlink()  # as a converted result
    loaded = subspace.SweepResult.load(tmp_path / "m")
    assert loaded.member(toy.TASK, 9, 0).z.shape == (9,)
    with pytest.raises(FileNotFoundError, match="keeps no trained network of that member"):
        loaded.member(toy.TASK, 10, 0)


def test_an_overwrite_leaves_no_network_of_the_discarded_run(tmp_path):
    subspace.measure(toy.TASK, out=tmp_path / "m", **TOY)
    nets = tmp_path / "m" / "networks"
    (nets / "notes.txt").write_text("mine")  # the user's file stays
    subspace.measure(toy.TASK, out=tmp_path / "m", overwrite=True, **{**TOY, "dims": [8, 10]})
    assert sorted(p.name for p in (nets / "sparse").iterdir()) == ["d10-s0.npz", "d8-s0.npz"]
    assert (nets / "notes.txt").read_text() == "mine"


# 2. the grouping -----------------------------------------------------------------------------


def _timed(monkeypatch, seconds, scan=None):
    """Step times by group size, one step per dispatch and (default the same) in a scan."""
    monkeypatch.setenv("SUBSPACE_CACHE_DIR", "")  # the process only
    _step_times.forget()
    scan = scan or seconds
    monkeypatch.setattr(_grouping, "_seconds_per_step", lambda sweep, base, g, *a: seconds[g])
    monkeypatch.setattr(_grouping, "_seconds_per_scan_step", lambda sweep, base, g, *a: scan[g])


def _choice(rule="auto", recorded=None, steps=10_000):
    sweep = subspace.make_sweep(toy.TASK, optax.sgd(0.1), projection="sparse", width=12)
    ds, seeds = np.array([4, 8, 12, 12]), np.array([0, 0, 0, 1])
    return _grouping.choose(
        sweep,
        ds,
        seeds,
        steps=steps,
        data=None,
        batch_size=None,
        budget=2**30,
        mesh=subspace.sharding.member_mesh(),
        rule=rule,
        recorded=recorded,
    )


def test_the_grouping_takes_the_most_member_steps_per_second(monkeypatch):
    _timed(monkeypatch, {1: 0.01, 4: 0.2})  # one at a time: 100/s; four: 20/s
    found = _choice()
    assert found.size == 1 and "the fastest" in found.why and "1: 100.0, 4: 20.0" in found.why
    _timed(monkeypatch, {1: 0.01, 4: 0.01})  # four together: 400/s
    assert _choice().size == 4
    _timed(monkeypatch, {1: 0.01, 4: 0.0425})  # 100/s against 94/s: the smaller
    assert _choice().size == 1
    assert _choice(rule="memory").size == 4 and _choice(rule=3).size == 3
    _timed(monkeypatch, {2: 0.5})
    kept = _choice(recorded=(2, "steps"))
    assert kept.size == 2 and kept.loop == "steps" and "as results.json records" in kept.why
    _timed(monkeypatch, {1: 1e-6, 4: 1.0})  # all of it one at a time: less than a compile
    short = _choice(steps=10)
    assert short.size == 1 and "less than timing a group of 4" in short.why


def test_the_loop_form_is_the_faster_of_a_scan_and_one_step_per_dispatch(monkeypatch):
    # A CNN on a CPU: the same step three times slower inside a compiled loop.
    _timed(monkeypatch, {1: 0.05, 4: 0.3}, scan={1: 0.15, 4: 0.9})
    found = _choice()
    assert (found.size, found.loop) == (1, "steps") and "steps loop" in found.why
    assert found.chunk == 32  # about two seconds of 0.05 s steps
    assert "one step per dispatch 20.0, in a compiled scan 6.7" in found.why
    # A pinned group size times nothing: the same grouping on every run, in the scan.
    pinned = _choice(rule=4)
    assert (pinned.size, pinned.loop) == (4, "scan") and "as asked" in pinned.why
    # Within 10%, the scan (no host round trip per step) stays.
    _timed(monkeypatch, {1: 0.05, 4: 0.3}, scan={1: 0.054, 4: 0.3})
    found = _choice()
    assert (found.size, found.loop, found.chunk) == (1, "scan", 32)
    _timed(monkeypatch, {1: 0.002, 4: 0.004}, scan={1: 0.002, 4: 0.0025})
    found = _choice()
    assert (found.size, found.loop, found.chunk) == (4, "scan", 100)
    # A resumed run sizes its chunk from a step of its recorded group and form, so that
    # Ctrl-C still stops within seconds (it used to run 100 steps between two looks).
    _timed(monkeypatch, {1: 0.05, 2: 0.5, 4: 0.3}, scan={2: 1.0})
    assert _choice(recorded=(2, "steps")).chunk == 4
    assert _choice(recorded=(2, "scan")).chunk == 2


def test_the_grouping_times_real_steps_of_tiled_members(tmp_path, monkeypatch):
    monkeypatch.setenv("SUBSPACE_CACHE_DIR", str(tmp_path))
    _step_times.forget()
    found = _choice(steps=10**6)  # long enough that timing the group of four pays
    assert found.size in (1, 4) and "the fastest" in found.why and "kept in" not in found.why
    kept = json.loads((tmp_path / "step_times.json").read_text())
    groups = [k.split("|group ")[1] for k in kept]
    steps = sorted(g for g in groups if not g.endswith("|scan"))  # the larger group's steps,
    scans = [g for g in groups if g.endswith("|scan")]  # and the winner's scan
    assert steps == ["1", "4"] and scans == [f"{found.size}|scan"]
    assert all(v > 0 for v in kept.values())
    _step_times.forget()  # another process on this machine: nothing is timed again
    monkeypatch.setattr(_grouping, "_seconds_per_step", lambda *a: pytest.fail("timed again"))
    again = _choice(steps=10**6)
    assert again.size == found.size and f"kept in {tmp_path / 'step_times.json'}" in again.why
    sweep = subspace.make_sweep(toy.TASK, optax.sgd(0.1), projection="sparse", width=12)
    mesh = subspace.sharding.member_mesh()
    base = loop.init_group(sweep, (np.array([4]), np.array([0])), group_size=1, mesh=mesh)
    tiled = _grouping._tiled(base, 4, mesh)
    assert tiled.train.z.shape == (4, 12)
    assert (
        len(np.unique(np.asarray(jax.random.key_data(tiled.train.key)), axis=0)) == 4
    )  # each its own randomness
    np.testing.assert_array_equal(np.asarray(tiled.mask), np.repeat(np.asarray(base.mask), 4, 0))


def test_a_resumed_run_keeps_its_recorded_grouping(tmp_path, monkeypatch):
    out = tmp_path / "m"
    subspace.measure(toy.TASK, out=out, **dict(TOY, group_size=1))
    doc = json.loads((out / "results.json").read_text())
    loop = doc["loops"]["sparse/10"]
    assert doc["group_sizes"] == {"sparse/10": 1} and loop == "scan"  # pinned: nothing timed
    calls = []
    real = _grouping.choose

    def spy(*args, **kwargs):
        calls.append(kwargs["recorded"])
        return real(*args, **kwargs)

    monkeypatch.setattr(_groups, "choose", spy)
    doc["members"] = doc["members"][:1]  # as if killed after the first group
    doc["complete"] = False
    (out / "results.json").write_text(json.dumps(doc))
    subspace.measure(toy.TASK, out=out, resume=True, **dict(TOY, group_size="memory"))
    assert calls == [(1, loop)]
    other = {"scan": "steps", "steps": "scan"}[loop]  # as if the other form had been faster
    doc["loops"] = {"sparse/10": other}
    (out / "results.json").write_text(json.dumps(doc))
    subspace.measure(toy.TASK, out=out, resume=True, **dict(TOY, group_size=1))
    assert calls[-1] == (1, other)
    assert json.loads((out / "results.json").read_text())["loops"] == {"sparse/10": other}


# 3. progress, Ctrl-C -------------------------------------------------------------------------


def _slow_task(seconds_per_step):
    def loss_fn(theta, state, batch, key):
        jax.debug.callback(lambda: time.sleep(seconds_per_step))
        return toy.toy_loss(theta), (state, {})

    return subspace.Task(init=toy.TASK.init, loss_fn=loss_fn, eval_fn=toy.TASK.eval_fn)


def test_progress_counts_finished_steps_not_dispatched_ones():
    sweep = subspace.make_sweep(_slow_task(0.02), optax.sgd(1e-3), projection="dense", width=4)
    start, seen = time.perf_counter(), []
    subspace.train_group(
        sweep,
        (np.array([4]), np.array([0])),
        steps=40,
        chunk=10,
        on_steps=lambda k: seen.append(time.perf_counter() - start),
    )
    assert len(seen) == 4
    # Each report comes after its chunk's ten steps of at least 20 ms have run.
    assert all(t >= 0.2 * (i + 1) for i, t in enumerate(seen)), seen


def test_without_tqdm_progress_is_plain_lines(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    progress = subspace.progress.make_progress(True)
    assert isinstance(progress, subspace.progress.TextProgress)
    progress.every = 0.0
    progress.start("sparse", 200)
    progress.update(50)
    progress.close()
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("sparse: 50/200 member-steps (25%)") and "left" in lines[0]


INTERRUPTED = """
import sys, time, jax, subspace
from experiments import toy

def loss_fn(theta, state, batch, key):  # 5 ms a step: a group of 400 steps takes 2 s
    jax.debug.callback(lambda: time.sleep(0.005))
    return toy.toy_loss(theta), (state, {})

task = subspace.Task(init=toy.TASK.init, loss_fn=loss_fn, eval_fn=toy.TASK.eval_fn)
try:
    subspace.measure(
        task, dims=[9, 10], seeds=1, projections="sparse", steps=400,
        optimizer=subspace.Optimizer("sgd", 1e-4), metric="final_loss/initial_loss",
        higher_is_better=False, threshold=1.0, group_size=1, checkpoint_every=100,
        out=sys.argv[1], resume=sys.argv[2] == "resume", progress=False,
    )
except KeyboardInterrupt as e:
    print(f"interrupted: {e}", file=sys.stderr)
    sys.exit(130)
"""


def _interruptible(out, resume=False):
    return subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED, str(out), "resume" if resume else "new"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigint_stops_within_seconds_keeps_the_work_and_resumes_bitwise(tmp_path):
    full = _interruptible(tmp_path / "full")
    part = tmp_path / "part"
    proc = _interruptible(part)
    deadline, first = time.time() + 120, None
    while time.time() < deadline:  # the first group done, then the second one's checkpoint
        done = (part / "results.json").exists() and json.loads((part / "results.json").read_text())[
            "members"
        ]
        saved = {p.parent.name for p in (part / "checkpoints").glob("*/step_*")}
        if done and first is None:
            first = saved  # the first group's folder may still be there for an instant
        elif done and saved - first:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    sent = time.time()
    _, err = proc.communicate(timeout=60)
    assert time.time() - sent < 10, "Ctrl-C took effect after more than 10 s"
    assert proc.returncode == 130, err
    said = err.strip().splitlines()[-1]
    assert said.startswith("interrupted: interrupted at step ") and "saved in" in said
    assert f"finished members are kept in {part}: resume=True" in said, said
    kept = json.loads((part / "results.json").read_text())
    assert not kept["complete"] and len(kept["members"]) == 1
    assert list((part / "checkpoints").glob("*/step_*"))  # the group in flight, saved
    resumed = _interruptible(part, resume=True)
    assert resumed.wait(timeout=120) == 0 and full.wait(timeout=120) == 0
    assert (part / "results.json").read_bytes() == (tmp_path / "full" / "results.json").read_bytes()


def test_the_command_line_says_what_an_interrupt_kept(monkeypatch, capsys):
    from experiments import run

    def interrupted(*args, **kwargs):
        raise subspace._interrupt.Interrupted("stopped after sparse group 1; 1 finished ...")

    monkeypatch.setattr(subspace, "measure", interrupted)
    with pytest.raises(SystemExit) as e:
        run.main(["--dims", "9,10", "--seeds", "1"])
    assert e.value.code == 130
    assert capsys.readouterr().err == "interrupted: stopped after sparse group 1; 1 finished ...\n"


# 4. no silent wrong result -------------------------------------------------------------------


@pytest.mark.parametrize("seeds", [[1, 2**32 + 1], [2**64], [-1]])
def test_seeds_that_a_key_cannot_tell_apart_are_refused(seeds):
    with pytest.raises(ValueError, match=r"seeds\[\d\] must be an integer in \[0, 4294967295\]"):
        subspace.Grid([1], seeds=seeds)


def test_a_resume_with_another_optimiser_task_or_data_is_refused(tmp_path):
    out = tmp_path / "m"
    data, kw = _images(), dict(dims=[2], seeds=1, epochs=1, batch_size=50, progress=False)
    adam = subspace.Optimizer("adam", 0.05)
    subspace.measure(CNN_TASK, data=data, optimizer=adam, threshold=0.5, out=out, **kw)
    again = dict(data=data, optimizer=adam, threshold=0.5, out=out, resume=True, **kw)
    with pytest.raises(subspace.SweepError, match="differs in config.schedule.optimizer"):
        subspace.measure(CNN_TASK, **{**again, "optimizer": subspace.Optimizer("sgd", 0.05)})
    with pytest.raises(subspace.SweepError, match="measured with other data"):
        subspace.measure(CNN_TASK, **{**again, "data": _images(seed=1)})

    class ZeroInit(nn.Module):  # the same parameters as _CNN, another initialiser
        @nn.compact
        def __call__(self, x, train=False):
            x = nn.Conv(4, (3, 3), strides=2, kernel_init=nn.initializers.zeros)(x)
            x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(x))
            return nn.Dense(2)(x.reshape(len(x), -1))

    with pytest.raises(subspace.SweepError, match="measured with other task"):
        subspace.measure(subspace.linen_task(ZeroInit(), (8, 8, 1)), **again)
    # The same model in a new task object is the same task: the resume goes on.
    assert subspace.measure(subspace.linen_task(_CNN(), (8, 8, 1)), **again).complete


def test_meta_is_recorded_apart_and_must_be_finite_json(tmp_path):
    result = subspace.measure(toy.TASK, out=tmp_path, **dict(TOY, meta={"steps": 1, "metric": "x"}))
    loaded = subspace.SweepResult.load(tmp_path)  # loads: meta cannot shadow a field
    assert loaded.steps == toy.STEPS and loaded.metric == "final_loss/initial_loss"
    assert result.config["meta"] == {"steps": 1, "metric": "x"}
    with pytest.raises(TypeError, match="meta must be a JSON object"):
        subspace.Measurement(
            subspace.Grid([1]),
            subspace.Schedule(subspace.Optimizer(), steps=1),
            subspace.Readout(threshold=0.1),
            meta={"lr": float("nan")},
        )


def test_the_threshold_rule_is_right_for_a_loss_and_refuses_a_baseline_not_above_0():
    loss = subspace.Readout("test_loss", higher_is_better=False, fraction=0.9)
    assert loss.threshold_for(0.406) == pytest.approx(0.406 / 0.9)  # looser than the baseline
    assert subspace.Readout(fraction=0.9).threshold_for(0.8) == pytest.approx(0.72)
    for baseline in (0.0, -1.5, float("nan"), None):
        with pytest.raises(ValueError, match="give an absolute readout.threshold"):
            subspace.Readout(fraction=0.9).threshold_for(baseline)
    assert subspace.Readout(threshold=0.3).threshold_for(None) == 0.3


def test_a_baseline_metric_of_0_stops_before_the_members_train(monkeypatch):
    calls = []
    real = _groups.train_group

    def count(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_groups, "train_group", count)
    zero = subspace.Task(
        init=toy.TASK.init,
        loss_fn=toy.TASK.loss_fn,
        eval_fn=lambda p, s, b, k: {"zero": jnp.zeros(())},
    )
    with pytest.raises(subspace.SweepError, match="is 0.0: a fraction of a metric"):
        subspace.measure(
            zero,
            **dict(TOY, metric="final_zero", threshold=None, baseline=TOY["optimizer"]),
        )
    assert len(calls) == 1  # the baseline only


def test_a_d_int_at_the_bottom_of_the_grid_is_a_bound(tmp_path, capsys):
    result = subspace.measure(toy.TASK, **dict(TOY, dims=[10, 11]))
    v = result.d_int["sparse"]
    assert (v["d"], v["bound"], v["interpolated"], v["ci90"][0]) == (10, "upper", None, None)
    assert "<= 10 (the smallest d of the grid already reaches" in result.summary()
    from experiments import run

    run.main(["--dims", "10,11", "--seeds", "1", "--projection", "sparse", "--out", str(tmp_path)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert (
        last
        == "sparse: d_int100 = <= 10 (the smallest d of the grid already reaches the threshold)"
    )


def test_a_policy_with_non_finite_outputs_is_a_diverged_member():
    class NaNPolicy(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(x) * jnp.nan

    task = subspace.rl.gymnax_task("CartPole-v1", NaNPolicy(), max_steps=20, eval_episodes=2)
    params, _ = task.init(jax.random.key(0))
    assert np.isnan(float(task.loss_fn(params, (), None, jax.random.key(1))[0]))
    result = subspace.measure(
        task,
        dims=[2],
        seeds=1,
        steps=2,
        optimizer=subspace.Optimizer("adam", 0.1),
        estimator=subspace.estimators.es(4, 0.1),
        metric="final_fitness",
        threshold=10.0,
        group_size="memory",
        progress=False,
    )
    assert result.members[0]["status"] == "diverged" and result.d_int["fastfood"]["d"] is None


# 5. one writer per folder --------------------------------------------------------------------


def test_a_second_writer_is_refused_and_a_stale_lock_taken_over(tmp_path):
    out = tmp_path / "m"
    with FolderLock(out):
        with pytest.raises(subspace.SweepError, match="being written by another measurement"):
            subspace.measure(toy.TASK, out=out, **TOY)
    assert not (out / LOCK).exists()  # released
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (out / LOCK).write_text(
        json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename, "started": 0})
    )
    messages = []

    class Recorder(subspace.Progress):
        def message(self, text):
            messages.append(text)

    subspace.measure(toy.TASK, out=out, **dict(TOY, progress=Recorder()))
    assert any("took over the lock" in m for m in messages)
    assert not (out / LOCK).exists()


def test_clean_up_removes_only_what_the_library_made(tmp_path):
    out = tmp_path / "m"
    mine = out / "checkpoints" / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("the user's")
    subspace.measure(toy.TASK, out=out, **dict(TOY, overwrite=True))
    subspace.measure(toy.TASK, out=out, **dict(TOY, overwrite=True))
    assert mine.read_text() == "the user's"
    with pytest.raises(ValueError, match="out must be a folder's path"):
        subspace.Run(out="")


# 6. edges --------------------------------------------------------------------------------------


def test_edges_are_refused_before_any_work(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(_groups, "train_group", never)
    with pytest.raises(ValueError, match=r"steps must be an integer in \[1, 2147483647\]"):
        subspace.measure(toy.TASK, **dict(TOY, steps=10**10))
    with pytest.raises(ValueError, match="no file can be written in /proc"):
        subspace.measure(toy.TASK, **dict(TOY, out="/proc/subspace-test"))
    params_only = subspace.Task(
        init=lambda k: toy.TASK.init(k)[0], loss_fn=toy.TASK.loss_fn, eval_fn=toy.TASK.eval_fn
    )
    with pytest.raises(TypeError, match=r"task.init\(key\) must return \(params, model_state\)"):
        subspace.measure(params_only, **TOY)
    assert subspace.Grid(np.array([1, 2]), seeds=np.array([0, 1])).dims == (1, 2)


def test_command_line_mistakes_are_one_line(tmp_path):
    for argv in (["--projection", "gauss"], ["--nope"], ["--distributed"]):
        done = subprocess.run(
            [sys.executable, "-m", "experiments.run", *argv, "--out", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        lines = [line for line in done.stderr.strip().splitlines() if line]
        assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
    wrong = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.run",
            "mnist_fc",
            "--smoke",
            "--data-dir",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "o"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    lines = wrong.stderr.strip().splitlines()
    assert wrong.returncode == 2 and len(lines) == 1 and "--data-dir" in lines[0]
    assert "load(" not in lines[0] and "TFDS failed" not in lines[0] and "http" not in lines[0]


# 7. for the study ------------------------------------------------------------------------------


def test_summary_and_plot(tmp_path):
    result = subspace.measure(toy.TASK, **TOY)
    text = result.summary()
    assert "sparse: d_int100 = 10 (interpolated" in text and "       9 " in text
    fig = result.plot(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes[0].get_ylabel() == "final_loss/initial_loss"


def test_d_mask_trains_several_d_in_one_vmapped_loop():
    theta0, _ = toy.TASK.init(jax.random.key(0))
    sub = subspace.wrap(theta0, 12, projection="dense", key=jax.random.key(1))

    def loss(z, d):
        return toy.toy_loss(sub.params(z * d_mask(d, 12)))

    ds = jnp.array([3, 12])
    grads = jax.vmap(jax.grad(loss))(jnp.ones((2, 12)), ds)
    assert (grads[0, 3:] == 0).all() and (grads[0, :3] != 0).all() and (grads[1] != 0).all()
    with pytest.raises(ValueError, match="d_mask: width must be an integer >= 1"):
        d_mask(2, 0)


@pytest.mark.parametrize(
    "text",
    [b"not json", b'{"k": NaN}', b'{"k": -1.0}', b'{"k": true}', b"[1.0]", b" " * (2 << 20)],
)
def test_a_corrupt_step_times_file_is_ignored_and_rewritten(tmp_path, monkeypatch, text):
    monkeypatch.setenv("SUBSPACE_CACHE_DIR", str(tmp_path))
    _step_times.forget()
    (tmp_path / "step_times.json").write_bytes(text)
    assert _step_times.lookup("k") is None
    _step_times.store("j", 0.5)
    assert json.loads((tmp_path / "step_times.json").read_text()) == {"j": 0.5}
    _step_times.forget()
    assert _step_times.lookup("j") == (0.5, str(tmp_path / "step_times.json"))
