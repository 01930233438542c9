"""subspace.compress: a trained model as (projection, key, d, D, model, z), rebuilt exactly."""

import io
import json
import os
import stat
import zipfile

import chex
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
    header = subspace.compressed_header(path)
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
    report = subspace.size_report(path)
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
