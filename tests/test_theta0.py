"""θ0 from given parameters (subspace.theta0.with_theta0, subspace.theta0.load_theta0)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subspace
from subspace.fingerprints import task_fingerprint
from subspace.flatten import ravel
from subspace.sweep import Member, member_subspace
from tests.test_study import CNN_TASK, _images


def _trained_params(seed=7):
    """Parameters unlike any seed's initialisation: an init scaled and shifted."""
    params, state = CNN_TASK.init(jax.random.key(seed))
    return jax.tree_util.tree_map(lambda a: 0.5 * a + 0.01, params), state


def test_every_member_starts_from_the_given_parameters_with_its_own_p():
    params, state = _trained_params()
    task = subspace.theta0.with_theta0(CNN_TASK, params)
    flat = np.asarray(ravel(params)[0])
    subs = [
        member_subspace(task, Member(5, seed), projection="kronqr", width=8)[0] for seed in (0, 1)
    ]
    for sub in subs:
        np.testing.assert_array_equal(np.asarray(sub.theta0), flat)
    z = jnp.ones(5)
    assert not np.allclose(subs[0].flat(z), subs[1].flat(z))  # P still from the seed
    # The model state comes from the task's init unless given.
    own = subspace.theta0.with_theta0(
        CNN_TASK, params, jax.tree_util.tree_map(lambda a: a + 1, state)
    )
    assert float(jax.tree_util.tree_leaves(own.init(jax.random.key(0))[1])[0].ravel()[0]) == (
        float(jax.tree_util.tree_leaves(state)[0].ravel()[0]) + 1
    )


def test_the_fingerprint_is_the_hash_of_theta0_and_a_resume_refuses_another(tmp_path):
    p1, _ = _trained_params(7)
    p2 = jax.tree_util.tree_map(lambda a: a.at[(0,) * a.ndim].add(1e-3), p1)  # one number
    t1, t2 = subspace.theta0.with_theta0(CNN_TASK, p1), subspace.theta0.with_theta0(CNN_TASK, p2)
    assert task_fingerprint(t1, 0) == task_fingerprint(t1, 5)  # same θ0 for every seed
    assert task_fingerprint(t1, 0) != task_fingerprint(t2, 0)
    settings = {
        "dims": (2,),
        "seeds": 1,
        "steps": 3,
        "batch_size": 50,
        "optimizer": subspace.Optimizer("adam", 1e-2),
        "threshold": 0.5,
        "progress": False,
    }
    data = _images()
    subspace.measure(t1, data=data, out=str(tmp_path), **settings)
    with pytest.raises(subspace.SweepError, match="measured with other task"):
        subspace.measure(t2, data=data, out=str(tmp_path), resume=True, **settings)


def test_load_theta0_from_a_compressed_file_and_an_orbax_folder(tmp_path):
    import orbax.checkpoint as ocp

    params, state = _trained_params()
    state = jax.tree_util.tree_map(lambda a: a + 0.25, state)
    sub = subspace.wrap(params, 3, key=jax.random.key(1))
    path = subspace.save_compressed(
        tmp_path / "net.npz",
        sub,
        jnp.array([0.1, -0.2, 0.3]),
        key=jax.random.key(1),
        store_theta0=True,
        model_state=state,
    )
    task = subspace.theta0.load_theta0(CNN_TASK, path)
    got, got_state = task.init(jax.random.key(9))
    want = sub.params(jnp.array([0.1, -0.2, 0.3]))
    jax.tree_util.tree_map(np.testing.assert_array_equal, got, want)
    jax.tree_util.tree_map(np.testing.assert_array_equal, got_state, state)

    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save((tmp_path / "orbax").absolute(), {"params": params})
    checkpointer.wait_until_finished()
    got, got_state = subspace.theta0.load_theta0(CNN_TASK, tmp_path / "orbax").init(
        jax.random.key(9)
    )
    jax.tree_util.tree_map(np.testing.assert_array_equal, got, params)
    init_state = CNN_TASK.init(jax.random.key(9))[1]  # none saved: the task's own
    jax.tree_util.tree_map(np.testing.assert_array_equal, got_state, init_state)
    checkpointer.save((tmp_path / "bare").absolute(), params)  # the parameters alone
    checkpointer.save((tmp_path / "other").absolute(), {"w": jnp.ones(3)})
    checkpointer.wait_until_finished()
    got, _ = subspace.theta0.load_theta0(CNN_TASK, tmp_path / "bare").init(jax.random.key(9))
    jax.tree_util.tree_map(np.testing.assert_array_equal, got, params)
    with pytest.raises(ValueError, match="does not hold this model's parameters"):
        subspace.theta0.load_theta0(CNN_TASK, tmp_path / "other")


def test_a_theta0_unlike_the_model_is_one_clear_error():
    params, _ = _trained_params()
    kernel = params["Conv_0"]["kernel"]
    cases = [
        ({"Conv_0": params["Conv_0"]}, "params must have the structure of the task's init"),
        (
            {**params, "Conv_0": {**params["Conv_0"], "kernel": kernel[..., :2]}},
            r"params\['Conv_0'\]\['kernel'\] is float32\[3, 3, 1, 2\]; the model's is "
            r"float32\[3, 3, 1, 4\]",
        ),
        (
            {**params, "Conv_0": {**params["Conv_0"], "kernel": kernel.astype(jnp.float16)}},
            r"is float16\[3, 3, 1, 4\]; the model's is float32",
        ),
        (
            {**params, "Conv_0": {**params["Conv_0"], "kernel": kernel.at[0].set(jnp.nan)}},
            r"params\['Conv_0'\]\['kernel'\] is not finite",
        ),
    ]
    for bad, match in cases:
        with pytest.raises(ValueError, match=match):
            subspace.theta0.with_theta0(CNN_TASK, bad)
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        subspace.theta0.load_theta0(CNN_TASK, "no-such.npz")
    with pytest.raises(TypeError, match="task must be a subspace.Task"):
        subspace.theta0.with_theta0(lambda k: k, params)


def test_burn_in_gives_each_seed_its_own_trained_theta0():
    import optax

    data = _images()  # SGD, not Adam: Adam magnifies the rounding of a conv bias's 0 gradient
    task = subspace.theta0.burn_in(
        CNN_TASK, optax.sgd(0.5), steps=7, data=data, batch_size=50, seeds=[0, 2]
    )
    baseline = subspace.make_baseline(CNN_TASK, optax.sgd(0.5))
    alone = subspace.train_group(
        baseline, (np.array([baseline.width]), np.array([2])), steps=7, data=data, batch_size=50
    )
    sub, state, _ = member_subspace(task, Member(4, 2), projection="fastfood", width=8)
    want = jax.tree_util.tree_map(lambda a: a[0], alone["params"])
    np.testing.assert_allclose(np.asarray(sub.theta0), ravel(want)[0], rtol=1e-5, atol=1e-6)
    want_state = jax.tree_util.tree_map(lambda a: a[0], alone["model_state"])
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), state, want_state
    )
    other = member_subspace(task, Member(4, 0), projection="fastfood", width=8)[0]
    assert not np.allclose(other.theta0, sub.theta0)  # seed 0: its own burn-in
    untrained = member_subspace(CNN_TASK, Member(4, 2), projection="fastfood", width=8)[0]
    assert not np.allclose(untrained.theta0, sub.theta0)  # 7 steps moved it
    unknown = member_subspace(task, Member(4, 5), projection="fastfood", width=8)[0]
    assert np.isnan(np.asarray(unknown.theta0)).all()  # not a burned-in seed: it diverges
    assert task_fingerprint(task, 0) != task_fingerprint(CNN_TASK, 0)
    same = subspace.theta0.burn_in(
        CNN_TASK, optax.sgd(0.5), steps=0, data=data, batch_size=50, seeds=[0]
    )
    assert same is CNN_TASK  # k = 0: the task's own initialisation


def test_burn_in_bad_input_is_refused_before_training():
    import optax

    kwargs = {"data": _images(), "batch_size": 50}
    with pytest.raises(ValueError, match="burn_in: steps must be an integer >= 0; got -1"):
        subspace.theta0.burn_in(CNN_TASK, optax.sgd(0.1), steps=-1, seeds=[0], **kwargs)
    with pytest.raises(ValueError, match=r"seeds must be distinct integers >= 0; got \[1, 1\]"):
        subspace.theta0.burn_in(CNN_TASK, optax.sgd(0.1), steps=2, seeds=[1, 1], **kwargs)
    with pytest.raises(ValueError, match=r"the burn-in of seeds \[0\] diverged"):
        subspace.theta0.burn_in(CNN_TASK, optax.sgd(1e12), steps=5, seeds=[0], **kwargs)
