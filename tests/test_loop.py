"""train_group on data: shared and per-member minibatches, baseline, divergence, padding."""

import jax
import numpy as np
import optax
import pytest
from flax import nnx

from models import FC
from subspace.data import Data, step_indices
from subspace.flax_tasks import linen_task as classification_task
from subspace.flax_tasks import nnx_task as nnx_classification_task
from subspace.loop import train_group
from subspace.memory import group_size, program_bytes
from subspace.sweep import make_baseline, make_sweep


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4, 4, 1)).astype(np.float32)
    y = (x.reshape(600, -1) @ rng.normal(size=16) > 0).astype(np.int32)
    return Data(x[:500], y[:500], x[500:], y[500:])


TASK = classification_task(FC(width=16, depth=1, num_classes=2), (4, 4, 1))
DS, SEEDS = np.array([2, 8, 32]), np.array([0, 0, 1])


def test_members_learn_and_report_train_and_test_metrics():
    sweep = make_sweep(TASK, optax.adam(1e-2), projection="fastfood", width=32)
    out = train_group(sweep, (DS, SEEDS), steps=60, data=_data(), batch_size=50, chunk=25)
    assert set(out) == {
        "train_accuracy",
        "train_loss",
        "test_accuracy",
        "test_loss",
        "last_step_loss",
        "finite",
        "z",
        "model_state",
        "estimator_state",
    }
    assert out["model_state"] == {} and out["estimator_state"] == ()  # FC keeps no state of its own
    # The trained z: zero past each member's d, moved inside it.
    assert out["z"].shape == (3, 32) and (out["z"][0, 2:] == 0).all() and out["z"][0, 1] != 0
    assert out["test_accuracy"].shape == (3,) and out["finite"].all()
    assert out["train_accuracy"][2] > out["train_accuracy"][0]  # d = 32 beats d = 2
    assert out["train_accuracy"][2] > 0.6


def test_padding_to_a_larger_group_does_not_change_a_member():
    sweep = make_sweep(TASK, optax.adam(1e-2), projection="sparse", width=32)
    a = train_group(sweep, (DS, SEEDS), steps=20, data=_data(), batch_size=50)
    b = train_group(sweep, (DS, SEEDS), steps=20, data=_data(), batch_size=50, group_size=5)
    np.testing.assert_allclose(a["test_loss"], b["test_loss"], rtol=1e-5)
    with pytest.raises(ValueError, match="group_size must be >= the member count 3"):
        train_group(sweep, (DS, SEEDS), steps=1, data=_data(), batch_size=50, group_size=2)


def test_a_learning_curve_is_the_runs_that_stop_at_its_points():
    sweep = make_sweep(TASK, optax.adam(1e-2), projection="fastfood", width=32)
    data = _data()
    out = train_group(sweep, (DS, SEEDS), steps=30, data=data, batch_size=50, curve_every=12)
    assert (out["curve_step"] == [12, 24]).all() and out["curve_step"].shape == (3, 2)
    assert out["curve_test_accuracy"].shape == out["curve_train_loss"].shape == (3, 2)
    short = train_group(sweep, (DS, SEEDS), steps=24, data=data, batch_size=50, chunk=7)
    for name in ("train_loss", "test_loss", "test_accuracy"):  # the point at 24 = a run of 24
        np.testing.assert_allclose(out[f"curve_{name}"][:, 1], short[name], rtol=1e-5)
    assert not np.allclose(out["curve_train_loss"][:, 1], out["train_loss"])  # 30 trained on
    with pytest.raises(ValueError, match="curve_every needs data and no checkpoint"):
        train_group(sweep, (DS, SEEDS), steps=30, curve_every=10)
    with pytest.raises(ValueError, match="curve_every must be an integer >= 1"):
        train_group(sweep, (DS, SEEDS), steps=30, data=data, batch_size=50, curve_every=0)


def test_per_member_shuffle_gives_members_their_own_order():
    sweep = make_sweep(TASK, optax.adam(1e-2), projection="dense", width=8)
    ds, seeds = np.array([8, 8]), np.array([3, 3])
    shared = train_group(sweep, (ds, seeds), steps=20, data=_data(), batch_size=50)
    own = train_group(
        sweep, (ds, seeds), steps=20, data=_data(), batch_size=50, per_member_shuffle=True
    )
    assert shared["test_loss"][0] == shared["test_loss"][1]  # same member, same batches
    assert not np.allclose(own["test_loss"], shared["test_loss"])
    plan = step_indices(500, 50, 12, 0, np.array([3, 4]))
    assert plan.shape == (12, 2, 50) and not np.array_equal(plan[:, 0], plan[:, 1])
    assert not np.array_equal(step_indices(500, 50, 12, 0), plan[:, 0])
    assert sorted(step_indices(500, 50, 10, 0)[:10].ravel()) == list(range(500))  # an epoch


@pytest.mark.parametrize("per_member", [False, True])
def test_one_step_per_dispatch_trains_the_members_a_scan_does(per_member):
    sweep = make_sweep(TASK, optax.adam(1e-2), projection="fastfood", width=32)
    kw = {"steps": 30, "data": _data(), "batch_size": 50, "per_member_shuffle": per_member}
    scan = train_group(sweep, (DS, SEEDS), chunk=25, **kw)
    steps = train_group(sweep, (DS, SEEDS), chunk=25, loop="steps", **kw)
    for name in ("z", "test_loss", "train_accuracy", "last_step_loss"):  # XLA may round apart
        np.testing.assert_allclose(steps[name], scan[name], rtol=1e-4, atol=1e-6)
    assert not np.array_equal(steps["z"], np.zeros_like(steps["z"]))
    # One compiled step per dispatch: where the chunks end changes nothing, bitwise.
    other = train_group(sweep, (DS, SEEDS), chunk=7, loop="steps", **kw)
    for name in ("z", "test_loss", "last_step_loss"):
        np.testing.assert_array_equal(other[name], steps[name])


def test_one_step_per_dispatch_without_data_and_divergence():
    from experiments import toy

    sweep = make_sweep(toy.TASK, toy.optimizer(), projection="dense", width=16)
    members = (np.array([4, 16]), np.array([0, 1]))
    scan = train_group(sweep, members, steps=40, chunk=15)
    steps = train_group(sweep, members, steps=40, chunk=15, loop="steps")
    np.testing.assert_allclose(steps["final_loss"], scan["final_loss"], rtol=1e-4, atol=1e-7)
    assert (steps["final_loss"] < steps["initial_loss"]).all()
    exploding = make_sweep(TASK, optax.sgd(1e12), projection="dense", width=8)
    out = train_group(
        exploding,
        (np.array([8]), np.array([0])),
        steps=30,
        data=_data(),
        batch_size=50,
        loop="steps",
    )
    assert not out["finite"][0]


def test_a_group_resumes_from_its_checkpoint_in_the_step_form(tmp_path):
    from subspace.checkpoint import GroupCheckpoint

    sweep = make_sweep(TASK, optax.adam(1e-2), projection="fastfood", width=32)
    kw = {"steps": 40, "data": _data(), "batch_size": 50, "loop": "steps"}
    ck = GroupCheckpoint(tmp_path / "g")
    whole = train_group(sweep, (DS, SEEDS), chunk=10, checkpoint=ck, checkpoint_every=20, **kw)
    assert ck.latest_step() == 20  # saved mid-group (the caller clears it once done)
    counted = []
    resumed = train_group(sweep, (DS, SEEDS), chunk=3, checkpoint=ck, on_steps=counted.append, **kw)
    assert counted[0] == 20 * 3  # it began from the checkpoint
    for name in ("z", "test_loss", "last_step_loss"):  # and ended bitwise where the run did
        np.testing.assert_array_equal(resumed[name], whole[name])


def test_baseline_and_divergence():
    baseline = make_baseline(TASK, optax.adam(1e-2))
    ds = np.full(2, baseline.width)  # a baseline member trains all D parameters
    out = train_group(baseline, (ds, np.array([0, 1])), steps=60, data=_data(), batch_size=50)
    assert (out["train_accuracy"] > 0.9).all() and out["finite"].all()
    exploding = make_sweep(TASK, optax.sgd(1e12), projection="dense", width=8)
    out = train_group(
        exploding, (np.array([8]), np.array([0])), steps=30, data=_data(), batch_size=50
    )
    assert not out["finite"][0]


def test_memory_estimate_and_grouping():
    sweep = make_sweep(TASK, optax.adam(1e-2), projection="dense", width=32)
    state = jax.eval_shape(sweep.init, DS[:1], SEEDS[:1])
    batch = (jax.ShapeDtypeStruct((50, 4, 4, 1), np.float32), jax.ShapeDtypeStruct((50,), np.int32))
    one = program_bytes(sweep.update, state, batch)
    assert one >= 2 * 32 * 305 * 4  # P (D x W floats) in and out at least
    assert group_size(200, 10, 1000, 1) == 100
    assert group_size(1000, 10, 1000, 4) == 400  # 100 per device on 4 devices
    assert group_size(7, 10, 10**9, 4) == 8
    assert group_size(200, 10**9, 10, 2) == 2  # never less than one member per device
    with pytest.raises(ValueError, match="budget must be an integer >= 1"):
        group_size(10, 10, 0)


class _NNXNet(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(16, 16, rngs=rngs)
        self.bn = nnx.BatchNorm(16, momentum=0.5, rngs=rngs)
        self.l2 = nnx.Linear(16, 2, rngs=rngs)

    def __call__(self, x):
        return self.l2(jax.nn.relu(self.bn(self.l1(x.reshape(x.shape[0], -1)))))


def test_nnx_task_sweeps_with_batchnorm():
    task = nnx_classification_task(_NNXNet)
    sweep = make_sweep(task, optax.adam(3e-2), projection="fastfood", width=64)
    out = train_group(
        sweep, (np.array([4, 64]), np.array([0, 1])), steps=60, data=_data(), batch_size=50
    )
    assert out["finite"].all() and out["train_accuracy"][1] > 0.6
    full = make_baseline(task, optax.adam(1e-2))
    baseline = train_group(
        full,
        (np.array([full.width]), np.array([0])),
        steps=60,
        data=_data(),
        batch_size=50,
    )
    assert baseline["train_accuracy"][0] > 0.9
    params, rest = task.init(jax.random.key(0))
    _, (new_rest, _) = task.loss_fn(
        params, rest, (_data().train_x[:50], _data().train_y[:50]), jax.random.key(1)
    )
    assert not np.allclose(
        jax.tree_util.tree_leaves(new_rest)[0], jax.tree_util.tree_leaves(rest)[0]
    )  # batch statistics moved
