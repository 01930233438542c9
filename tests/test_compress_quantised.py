"""A quantised z in a compressed file (save_compressed(codebook=...)): the codebook and the
range-coded symbols round trip bitwise, and a tampered file is refused by name."""

import io
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subspace

KEY = jax.random.key(0)
PARAMS = {"w": jnp.ones((40, 50)), "b": jnp.zeros(50)}  # D = 2,050
D_SUB = 300


def _quantised(levels=7, dtype=np.float16):
    sub = subspace.wrap(PARAMS, D_SUB, projection="fastfood", key=KEY)
    rng = np.random.default_rng(0)
    book = np.sort(rng.normal(size=levels)).astype(dtype)
    z = book.astype(np.float32)[rng.integers(0, levels, D_SUB)]
    return sub, jnp.asarray(z), book


def _saved(tmp_path, name="q.npz", **kw):
    sub, z, book = _quantised(**kw)
    path = subspace.save_compressed(
        tmp_path / name, sub, z, key=KEY, store_theta0=True, codebook=book
    )
    return path, sub, z, book


def _load(path):
    return subspace.load_compressed(path, params_like=PARAMS)


def test_a_quantised_z_round_trips_bitwise_in_fewer_bytes(tmp_path):
    path, sub, z, book = _saved(tmp_path)
    back = _load(path)
    np.testing.assert_array_equal(back.z, z)
    jax.tree_util.tree_map(np.testing.assert_array_equal, back.params, sub.params(z))
    header = subspace.compress.compressed_header(path)
    assert header["quantised"]["levels"] == 7 and sum(header["quantised"]["counts"]) == D_SUB
    plain = subspace.save_compressed(tmp_path / "z.npz", sub, z, key=KEY, store_theta0=True)
    with np.load(path) as q, np.load(plain) as p:
        assert "z" not in q.files and q["symbols"].nbytes < p["z"].nbytes / 8
    # float32 levels too
    path32, _, z32, _ = _saved(tmp_path, "q32.npz", levels=3, dtype=np.float32)
    np.testing.assert_array_equal(_load(path32).z, z32)


def test_a_z_off_its_codebook_is_refused(tmp_path):
    sub, z, book = _quantised()
    with pytest.raises(ValueError, match="z must be on the codebook"):
        subspace.save_compressed(tmp_path / "x.npz", sub, z + 1e-3, key=KEY, codebook=book)
    with pytest.raises(TypeError, match="codebook must be a 1-D float16 or float32 array"):
        subspace.save_compressed(tmp_path / "x.npz", sub, z, key=KEY, codebook=book.astype(int))
    with pytest.raises(ValueError, match="levels must be distinct"):
        subspace.save_compressed(
            tmp_path / "x.npz", sub, z, key=KEY, codebook=np.r_[book, book[:1]]
        )


def _rewrite(path, out, header=None, **arrays):
    with np.load(path, allow_pickle=False) as f:
        members = {k: f[k] for k in f.files}
    h = json.loads(members["header"].tobytes())
    if header is not None:
        h = header(h)
    members["header"] = np.frombuffer(json.dumps(h).encode(), np.uint8)
    for name, value in arrays.items():
        if value is None:
            members.pop(name)
        else:
            members[name] = value
    buf = io.BytesIO()
    np.savez(buf, **members)
    out.write_bytes(buf.getvalue())
    return out


def _set(field, value):
    def change(h):
        h["quantised"][field] = value
        return h

    return change


@pytest.mark.parametrize(
    "header, arrays, match",
    [
        (
            _set("counts", [1] * 7),
            {},
            "'quantised.counts' must be 7 integers >= 0 summing to d = 300",
        ),
        (_set("counts", [-1, 301, 0, 0, 0, 0, 0]), {}, "'quantised.counts'"),
        (_set("levels", 1), {}, r"'quantised.levels' must be an integer in \[2, min\(d, 65536\)\]"),
        (_set("words", 10**9), {}, r"'quantised.words' must be an integer in \[0, d \+ 2\]"),
        (_set("codebook_dtype", "float64"), {}, "'quantised.codebook_dtype' must be one of"),
        (None, {"symbols": np.zeros(3, np.uint32)}, "array 'symbols' does not match"),
        (None, {"codebook": np.arange(7, dtype=np.float32)}, "array 'codebook' does not match"),
        (None, {"codebook": np.zeros(7, np.float16)}, "levels must be finite and increasing"),
        (None, {"z": np.zeros(300, np.float32)}, "a quantised file has no 'z' array"),
        (lambda h: {**h, "quantised": None}, {}, "file has no z and a quantised z's arrays"),
        (None, {"symbols": None}, r"arrays missing \['symbols'\]"),
    ],
)
def test_a_tampered_quantised_file_is_refused_by_name(tmp_path, header, arrays, match):
    path, *_ = _saved(tmp_path)
    bad = _rewrite(path, tmp_path / "bad.npz", header, **arrays)
    with pytest.raises(ValueError, match=match):
        _load(bad)


def test_counts_or_words_that_do_not_decode_are_refused(tmp_path):
    path, *_ = _saved(tmp_path)
    header = subspace.compress.compressed_header(path)
    counts = header["quantised"]["counts"]
    rolled = _rewrite(path, tmp_path / "r.npz", _set("counts", counts[1:] + counts[:1]))
    with pytest.raises(ValueError, match="do not decode|sha256 of theta does not match"):
        _load(rolled)
    with np.load(path) as f:
        words = f["symbols"].copy()
    words[len(words) // 2] ^= 0xFFFF
    flipped = _rewrite(path, tmp_path / "f.npz", symbols=words)
    with pytest.raises(ValueError, match="do not decode|sha256 of theta does not match"):
        _load(flipped)
