"""subspace.compress: a trained model as (projection, key, d, D, model, z), rebuilt exactly."""

import io
import json
import os
import stat
import zipfile

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subspace
from models import FC

PARAMS = {"b": jnp.zeros(5), "w": jax.random.normal(jax.random.key(0), (8, 5))}  # D = 45
KEYS = {"typed": jax.random.key(7), "raw": jax.random.PRNGKey(7)}


def _trained(projection="fastfood", key=KEYS["typed"], d=7, params=PARAMS, **options):
    sub = subspace.wrap(params, d, projection=projection, key=key, **options)
    z = jax.random.normal(jax.random.key(1), (d,), sub.dtype)
    return sub, z


def _rewrite(path, **changes):
    """Rewrites a file with header fields changed (a file from another version, say)."""
    with np.load(path, allow_pickle=False) as f:
        arrays = dict(f)
    header = json.loads(arrays["header"].tobytes())
    header.update(changes)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(path, **arrays)


# Each (projection, key kind) compiles its own draw, so not every combination: every
# projection once, both key kinds, and fastfood's block_size with both.
@pytest.mark.parametrize(
    "projection, options, key_kind",
    [
        ("dense", {}, "typed"),
        ("sparse", {}, "raw"),
        ("sparse", {"density": 0.3}, "typed"),
        ("fastfood", {}, "typed"),
        ("fastfood", {"block_size": 32}, "typed"),
        ("fastfood", {"block_size": 32}, "raw"),
        ("kronqr", {"width": 20}, "typed"),
    ],
)
def test_round_trip_is_bitwise_exact(tmp_path, projection, options, key_kind):
    key = KEYS[key_kind]
    sub, z = _trained(projection, key, **options)
    path = subspace.save_compressed(tmp_path / "m.npz", sub, z, key=key)
    m = subspace.load_compressed(path, theta0=PARAMS, projection=projection)
    chex.assert_trees_all_equal(m.params, sub.params(z))  # zero tolerance
    chex.assert_trees_all_equal(m.subspace.state, sub.state)
    np.testing.assert_array_equal(m.z, z)
    assert (m.subspace.kind, m.subspace.d, m.subspace.options) == (projection, 7, sub.options)
    assert m.key.dtype == key.dtype and m.key.shape == key.shape  # typed stays typed
    np.testing.assert_array_equal(
        jax.random.key_data(m.key) if key_kind == "typed" else m.key,
        jax.random.key_data(key) if key_kind == "typed" else key,
    )
    assert m.header["options"] == dict(options)


def test_theta0_from_init_key_from_seed_or_stored(tmp_path):
    def init(key):
        return {"b": jnp.zeros(5), "w": jax.random.normal(key, (8, 5))}

    theta0_key = jax.random.key(0)
    sub, z = _trained(params=init(theta0_key))
    want = sub.params(z)

    p = subspace.save_compressed(
        tmp_path / "k.npz", sub, z, key=KEYS["typed"], theta0_key=theta0_key
    )
    chex.assert_trees_all_equal(subspace.load_compressed(p, init=init).params, want)

    p = subspace.save_compressed(tmp_path / "s.npz", sub, z, key=KEYS["typed"], theta0_seed=0)
    m = subspace.load_compressed(p, init=lambda seed: init(jax.random.key(seed)))
    chex.assert_trees_all_equal(m.params, want)

    p = subspace.save_compressed(tmp_path / "t.npz", sub, z, key=KEYS["typed"], store_theta0=True)
    like = jax.eval_shape(init, theta0_key)
    chex.assert_trees_all_equal(subspace.load_compressed(p, params_like=like).params, want)
    with pytest.raises(ValueError, match="params_like"):
        subspace.load_compressed(p)
    p = subspace.save_compressed(tmp_path / "c.npz", sub, z, key=KEYS["typed"])
    with pytest.raises(ValueError, match="θ0 is needed"):
        subspace.load_compressed(p)
    with pytest.raises(ValueError, match="no θ0 key or seed"):
        subspace.load_compressed(p, init=init)


def test_stored_bfloat16_theta0_comes_back_bitwise(tmp_path):
    params = {"a": jnp.arange(6.0, dtype=jnp.bfloat16) / 3, "b": jnp.ones(3, jnp.bfloat16)}
    sub, z = _trained(params=params, d=4)
    p = subspace.save_compressed(tmp_path / "bf.npz", sub, z, key=KEYS["typed"], store_theta0=True)
    m = subspace.load_compressed(p, params_like=params)
    chex.assert_trees_all_equal(m.params, sub.params(z))
    assert m.params["a"].dtype == jnp.bfloat16


def test_trained_flax_model_reloads_to_the_same_logits(tmp_path):
    model = FC(width=16, depth=1, num_classes=3)
    x = jax.random.normal(jax.random.key(0), (64, 4, 4, 1))
    y = (x[:, 0, 0, 0] > 0).astype(jnp.int32) + (x[:, 1, 1, 0] > 0)
    init_key, proj_key, train_key = jax.random.split(jax.random.key(42), 3)

    init = jax.jit(lambda key: model.init(key, x[:1])["params"])
    forward = jax.jit(lambda params: model.apply({"params": params}, x))
    sub = subspace.wrap(init(init_key), 20, projection="dense", key=proj_key)

    def loss_fn(z, model_state, batch, key):
        del key
        logits = model.apply({"params": sub.params(z)}, batch[0])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()
        return loss, (model_state, {})

    trainer = subspace.make_trainer(loss_fn, optax.adam(0.1))
    state = trainer.init(sub.zeros(), key=train_key)
    for _ in range(5):
        state, _ = trainer.step(state, (x, y))
    logits = forward(sub.params(state.z))
    accuracy = float((logits.argmax(-1) == y).mean())

    path = subspace.save_compressed(
        tmp_path / "fc.npz",
        sub,
        state.z,
        key=proj_key,
        theta0_key=init_key,
        model={"model": "FC", "width": 16, "depth": 1, "input": [4, 4, 1]},
        extra={"accuracy": accuracy, "steps": 5},
    )
    header = subspace.compress.compressed_header(path)
    assert header["model"]["model"] == "FC" and header["D"] == sub.D == 323
    m = subspace.load_compressed(path, init=init)
    new_logits = forward(m.params)
    np.testing.assert_array_equal(new_logits, logits)
    assert float((new_logits.argmax(-1) == y).mean()) == m.header["extra"]["accuracy"]


def test_refuses_another_model(tmp_path):
    sub, z = _trained()
    path = subspace.save_compressed(tmp_path / "m.npz", sub, z, key=KEYS["typed"])
    with pytest.raises(ValueError, match=r"D \(number of parameters\).*file has 45, model has 50"):
        subspace.load_compressed(path, theta0={"b": jnp.zeros(10), "w": jnp.zeros((8, 5))})
    with pytest.raises(
        ValueError, match=r"leaf shape.*\['w'\].*file has \(8, 5\), model has \(5, 8\)"
    ):
        subspace.load_compressed(path, theta0={"b": jnp.zeros(5), "w": jnp.zeros((5, 8))})
    with pytest.raises(ValueError, match="leaf dtype.*file has float32, model has bfloat16"):
        subspace.load_compressed(path, theta0={**PARAMS, "b": jnp.zeros(5, jnp.bfloat16)})
    with pytest.raises(ValueError, match="sha256 of theta0.*wrong init"):
        subspace.load_compressed(path, theta0={**PARAMS, "b": jnp.ones(5)})
    with pytest.raises(ValueError, match="projection does not match: file has 'fastfood'"):
        subspace.load_compressed(path, theta0=PARAMS, projection="sparse")


def test_refuses_another_format_version_or_projection(tmp_path):
    sub, z = _trained()
    path = subspace.save_compressed(tmp_path / "m.npz", sub, z, key=KEYS["typed"])
    _rewrite(path, format_version=2)
    with pytest.raises(ValueError, match="format_version does not match: file has 2"):
        subspace.load_compressed(path, theta0=PARAMS)
    _rewrite(path, format_version=1, projection="sparse")  # another P: caught by its hash
    with pytest.raises(ValueError, match="sha256 of P"):
        subspace.load_compressed(path, theta0=PARAMS)
    assert subspace.load_compressed(path, theta0=PARAMS, verify=False).subspace.kind == "sparse"


def test_fastfood_file_from_version_0_1_loads_bitwise_with_its_transform(tmp_path):
    # 0.1 had only the butterfly transform and stored B as float, Π as int32: its files
    # carry no fwht_method option and hash P in that layout.
    params = {"w": jax.random.normal(jax.random.key(3), (40, 50))}  # D = 2000, L = 128
    old, z = _trained(d=100, params=params, fwht_method="butterfly")
    path = subspace.save_compressed(tmp_path / "m.npz", old, z, key=KEYS["typed"])
    legacy_p = old.state._replace(
        B=old.state.B.astype(jnp.float32),
        perm=old.state.perm.astype(jnp.int32),
        inv_perm=old.state.inv_perm.astype(jnp.int32),
    )
    with np.load(path, allow_pickle=False) as f:
        sha = json.loads(f["header"].tobytes())["sha256"]
    sha["P"] = subspace.compress._sha256(legacy_p)
    _rewrite(path, library_version="0.1.0", options={}, sha256=sha)
    m = subspace.load_compressed(path, theta0=params)
    chex.assert_trees_all_equal(m.params, old.params(z))  # zero tolerance
    assert dict(m.subspace.options)["fwht_method"] == "butterfly"
    _rewrite(path, library_version="0.2.0")  # the same file read as a current one: refused
    with pytest.raises(ValueError, match="sha256 of P"):
        subspace.load_compressed(path, theta0=params)


def test_refuses_corrupt_truncated_foreign_and_missing_files(tmp_path):
    sub, z = _trained()
    path = subspace.save_compressed(tmp_path / "m.npz", sub, z, key=KEYS["typed"])
    data = path.read_bytes()
    for i, bad in enumerate([data[: len(data) // 2], data[:10], b"", b'{"not": "npz"}']):
        (tmp_path / f"bad{i}.npz").write_bytes(bad)
        with pytest.raises(ValueError, match="corrupt, truncated or not a subspace file"):
            subspace.load_compressed(tmp_path / f"bad{i}.npz", theta0=PARAMS)
    with zipfile.ZipFile(path) as zf:  # flip a byte inside z's compressed data
        info = zf.getinfo("z.npy")
    local = info.header_offset
    start = local + 30 + int.from_bytes(data[local + 26 : local + 28], "little")
    start += int.from_bytes(data[local + 28 : local + 30], "little")
    flipped = bytearray(data)
    flipped[start + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="corrupt, truncated or not a subspace file"):
        subspace.load_compressed(path, theta0=PARAMS)
    with pytest.raises(FileNotFoundError, match="no such file"):
        subspace.load_compressed(tmp_path / "missing.npz", theta0=PARAMS)
    np.savez(tmp_path / "other.npz", z=np.zeros(3), weights=np.zeros(3))
    with pytest.raises(ValueError, match=r"missing \['header'\], unexpected \['weights'\]"):
        subspace.load_compressed(tmp_path / "other.npz", theta0=PARAMS)


UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(True)


class _Payload:
    def __reduce__(self):
        return (_record_unpickling, ())


@pytest.mark.parametrize("name", ["z", "theta0"])
def test_never_unpickles_object_arrays(tmp_path, name):
    sub, z = _trained()
    path = subspace.save_compressed(tmp_path / "m.npz", sub, z, key=KEYS["typed"])
    with np.load(path, allow_pickle=False) as f:
        arrays = dict(f)
    arrays[name] = np.array([_Payload()], dtype=object)  # np.savez pickles object arrays
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match=f"array '{name}' holds Python objects"):
        subspace.load_compressed(path, theta0=PARAMS)
    assert not UNPICKLED


def test_save_refuses_a_key_that_does_not_draw_p_and_writes_atomically(tmp_path):
    sub, z = _trained()
    path = tmp_path / "m.npz"
    with pytest.raises(ValueError, match="key does not draw"):
        subspace.save_compressed(path, sub, z, key=jax.random.key(8))
    with pytest.raises(TypeError, match="extra must be JSON"):
        subspace.save_compressed(path, sub, z, key=KEYS["typed"], extra={"f": print})
    with pytest.raises(ValueError, match=r"z must have shape \(7,\)"):
        subspace.save_compressed(path, sub, z[:3], key=KEYS["typed"])
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary left
    subspace.save_compressed(path, sub, z, key=KEYS["typed"])
    subspace.save_compressed(path, sub, 2 * z, key=KEYS["typed"])  # replaces it
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]
    assert zipfile.is_zipfile(path)
    np.testing.assert_array_equal(subspace.load_compressed(path, theta0=PARAMS).z, 2 * z)


def test_file_is_a_few_kilobytes(tmp_path):
    # The MNIST FC network 784-200-200-10 (D = 199,210); θ0's values do not matter here.
    shapes = {"0": [(784, 200), (200,)], "1": [(200, 200), (200,)], "2": [(200, 10), (10,)]}
    params = {k: {"kernel": jnp.ones(w), "bias": jnp.zeros(b)} for k, (w, b) in shapes.items()}
    proj_key = jax.random.key(0)
    sub, z = _trained("fastfood", proj_key, d=300, params=params)
    path = subspace.save_compressed(
        tmp_path / "mnist_fc.npz", sub, z, key=proj_key, model={"config": "mnist_fc"}
    )
    report = subspace.compress.size_report(path)
    print(report)
    assert report.D == 199_210 and report.d == 300 and report.full_bytes == 4 * 199_210
    assert report.file_bytes == path.stat().st_size < 8 * 1024
    assert report.ratio > 90


def test_saved_file_is_readable_by_others(tmp_path):
    # Results are shared: 0666 less the umask, like any file the process creates, not the
    # 0600 of a temporary file.
    sub, z = _trained()
    old = os.umask(0o022)
    try:
        path = subspace.save_compressed(tmp_path / "m.npz", sub, z, key=KEYS["typed"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


# ----------------------------------------------------------------- model state


def _model_state():
    """Non-trained collections of every kind a model carries: float statistics, bfloat16,
    integer counters (NNX's RNG counts are uint32) and flags."""
    return {
        "batch_stats": {
            "bn": {"mean": jnp.array([0.1, -2.5, 3e-8]), "var": jnp.ones((2, 2), jnp.bfloat16) / 3}
        },
        "rngs": {"count": jnp.array(4_000_000_000, jnp.uint32)},
        "steps": jnp.array([-3, 0, 7, 2**31 - 1], jnp.int32),
        "seen": jnp.array([True, False]),
    }


def test_model_state_round_trip_is_bitwise(tmp_path):
    sub, z = _trained()
    state = _model_state()
    path = subspace.save_compressed(
        tmp_path / "m.npz", sub, z, key=KEYS["typed"], model_state=state
    )
    like = jax.eval_shape(lambda: state)
    m = subspace.load_compressed(path, theta0=PARAMS, model_state_like=like)
    chex.assert_trees_all_equal(m.model_state, state)  # zero tolerance, same structure
    chex.assert_trees_all_equal_dtypes(m.model_state, state)
    chex.assert_trees_all_equal(m.params, sub.params(z))
    # The template may also be the arrays themselves; the leaf table is in the header.
    again = subspace.load_compressed(path, theta0=PARAMS, model_state_like=state)
    chex.assert_trees_all_equal(again.model_state, state)
    table = subspace.compress.compressed_header(path)["model_state"]["leaves"]
    assert table[0] == ["['batch_stats']['bn']['mean']", [3], "float32"]
    assert ["['rngs']['count']", [], "uint32"] in table
    assert "model_state" in m.header["sha256"]
    # A file without model state gives None, as files of version 1 always did.
    plain = subspace.save_compressed(tmp_path / "p.npz", sub, z, key=KEYS["typed"])
    assert subspace.load_compressed(plain, theta0=PARAMS).model_state is None


def test_model_state_is_refused_without_or_with_another_template(tmp_path):
    sub, z = _trained()
    state = _model_state()
    path = subspace.save_compressed(
        tmp_path / "m.npz", sub, z, key=KEYS["typed"], model_state=state
    )
    with pytest.raises(ValueError, match=r"stores model state \(5 leaves.*pass model_state_like="):
        subspace.load_compressed(path, theta0=PARAMS)
    other = {**state, "steps": jnp.zeros(5, jnp.int32)}
    with pytest.raises(
        ValueError, match=r"model_state leaf shape does not match at \['steps'\]: file has \(4,\)"
    ):
        subspace.load_compressed(path, theta0=PARAMS, model_state_like=other)
    other = {**state, "steps": jnp.zeros(4, jnp.uint32)}
    with pytest.raises(ValueError, match=r"model_state leaf dtype .*file has int32, model has uin"):
        subspace.load_compressed(path, theta0=PARAMS, model_state_like=other)
    other = {**state, "extra": jnp.zeros(1)}
    with pytest.raises(
        ValueError, match=r"model_state: number of leaves does not match: file has 5"
    ):
        subspace.load_compressed(path, theta0=PARAMS, model_state_like=other)
    plain = subspace.save_compressed(tmp_path / "p.npz", sub, z, key=KEYS["typed"])
    with pytest.raises(ValueError, match="model_state_like was given but the file stores no model"):
        subspace.load_compressed(plain, theta0=PARAMS, model_state_like=state)
    with pytest.raises(TypeError, match=r"model_state_like: leaf \['x'\] must be an array or"):
        subspace.load_compressed(path, theta0=PARAMS, model_state_like={"x": "mean"})


def test_save_refuses_model_state_it_cannot_store(tmp_path):
    sub, z = _trained()
    path = tmp_path / "m.npz"
    with pytest.raises(
        TypeError, match=r"model_state: leaf \['n'\] must be an array .*; got int 3"
    ):
        subspace.save_compressed(path, sub, z, key=KEYS["typed"], model_state={"n": 3})
    with pytest.raises(
        TypeError, match=r"model_state: leaf \['key'\] has dtype key<fry>.*key_data"
    ):
        subspace.save_compressed(
            path, sub, z, key=KEYS["typed"], model_state={"key": jax.random.key(0)}
        )
    with pytest.raises(TypeError, match=r"model_state: leaf \['c'\] has dtype complex64"):
        subspace.save_compressed(
            path, sub, z, key=KEYS["typed"], model_state={"c": jnp.zeros(2, jnp.complex64)}
        )
    assert list(tmp_path.iterdir()) == []


class _BNNet(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Conv(4, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.5)(x)
        x = nn.relu(x).mean(axis=(1, 2))
        return nn.Dense(3)(x)


def test_linen_batchnorm_model_reloads_with_its_statistics(tmp_path):
    model = _BNNet()
    x = 2.0 + 3.0 * jax.random.normal(jax.random.key(0), (96, 6, 6, 1))  # far from N(0, 1)
    y = (x[:, :3].mean((1, 2, 3)) > x[:, 3:].mean((1, 2, 3))).astype(jnp.int32)
    x_train, y_train, x_test, y_test = x[:64], y[:64], x[64:], y[64:]
    init_key, proj_key, train_key = jax.random.split(jax.random.key(42), 3)
    init = jax.jit(lambda key: model.init(key, x_train[:1], train=False))
    variables = init(init_key)
    sub = subspace.wrap(variables["params"], 12, projection="fastfood", key=proj_key)

    def loss_fn(z, batch_stats, batch, key):
        del key
        logits, updates = model.apply(
            {"params": sub.params(z), "batch_stats": batch_stats},
            batch[0],
            train=True,
            mutable=["batch_stats"],
        )
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()
        return loss, (updates["batch_stats"], {})

    trainer = subspace.make_trainer(loss_fn, optax.adam(0.05))
    state = trainer.init(sub.zeros(), key=train_key, model_state=variables["batch_stats"])
    for _ in range(10):
        state, _ = trainer.step(state, (x_train, y_train))

    @jax.jit
    def predict(params, batch_stats):  # eval mode: the running statistics
        return model.apply({"params": params, "batch_stats": batch_stats}, x_test, train=False)

    logits = predict(sub.params(state.z), state.model_state)
    accuracy = float((logits.argmax(-1) == y_test).mean())
    path = subspace.save_compressed(
        tmp_path / "bn.npz",
        sub,
        state.z,
        key=proj_key,
        theta0_key=init_key,
        model_state={"batch_stats": state.model_state},
        extra={"accuracy": accuracy},
    )
    like = {"batch_stats": jax.eval_shape(init, init_key)["batch_stats"]}
    m = subspace.load_compressed(path, init=lambda k: init(k)["params"], model_state_like=like)
    new_logits = predict(m.params, m.model_state["batch_stats"])
    np.testing.assert_array_equal(new_logits, logits)  # bitwise
    assert float((new_logits.argmax(-1) == y_test).mean()) == m.header["extra"]["accuracy"]
    # With θ0 given directly, the same.
    m = subspace.load_compressed(path, theta0=variables["params"], model_state_like=like)
    np.testing.assert_array_equal(predict(m.params, m.model_state["batch_stats"]), logits)
    # The statistics matter: the same θ with the initial statistics predicts otherwise.
    stale = predict(m.params, variables["batch_stats"])
    assert not np.allclose(stale, logits, atol=1e-3)
