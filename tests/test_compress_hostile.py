"""subspace.compress against hostile files: every limit comes from the loader, never the file.

The files are built here, cheaply: zip members are written by hand from deflate blocks of a
repeated 1 MiB chunk, so a member that inflates to ~1 GB costs ~1 MB on disk and no time.
Loads that would allocate before the fix run in a subprocess under ``RLIMIT_DATA`` that
measures each load's peak memory growth (VmHWM, reset before each load).
"""

import inspect
import io
import json
import math
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subspace
from subspace import _compress_projection, compress

PARAMS = {"b": jnp.zeros(5), "w": jax.random.normal(jax.random.key(0), (8, 5))}  # D = 45
KEY = jax.random.key(7)

# The caller's model in the memory test: the MNIST FC net, D = 199,210 (zeros as θ0).
SHAPES = {"0": [(784, 200), (200,)], "1": [(200, 200), (200,)], "2": [(200, 10), (10,)]}
BIG_D = 199_210
MIB = 1 << 20
LIMIT_GROWTH = 100 * 10**6  # bytes of peak memory growth allowed per hostile load


def _big_params():
    return {k: {"bias": jnp.zeros(b), "kernel": jnp.zeros(w)} for k, (w, b) in SHAPES.items()}


# ----------------------------------------------------------------- building hostile files


def _crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """zlib's crc32_combine: the CRC of A + B from crc(A), crc(B) and len(B)."""

    def times(mat, vec):
        out, i = 0, 0
        while vec:
            if vec & 1:
                out ^= mat[i]
            vec >>= 1
            i += 1
        return out

    def square(mat):
        return [times(mat, m) for m in mat]

    if len2 == 0:
        return crc1
    odd = [0xEDB88320] + [1 << i for i in range(31)]
    even = square(odd)
    odd = square(even)
    while True:
        even = square(odd)
        if len2 & 1:
            crc1 = times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = square(even)
        if len2 & 1:
            crc1 = times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


class Member:
    """A zip member as raw deflate data, with its CRC and uncompressed size."""

    def __init__(self, name, prefix=b"", fill=b"\0", mib=0, method=zipfile.ZIP_DEFLATED):
        self.name, self.method = name, method
        if method == zipfile.ZIP_STORED:
            assert mib == 0
            self.data, self.crc, self.size = prefix, zlib.crc32(prefix), len(prefix)
            return
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
        chunk = fill * MIB
        # After a full flush the history is empty: every chunk compresses to the same bytes.
        block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH) if mib else b""
        if mib > 1:
            assert block == c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
        self.data = head + block * mib + c.flush(zlib.Z_FINISH)
        crc, crc_chunk, n = zlib.crc32(prefix), zlib.crc32(chunk), mib
        crc_run, run_len = crc_chunk, MIB  # CRC of chunk^k, doubled
        while n:
            if n & 1:
                crc = _crc32_combine(crc, crc_run, run_len)
            crc_run = _crc32_combine(crc_run, crc_run, run_len)
            run_len *= 2
            n >>= 1
        self.crc, self.size = crc, len(prefix) + mib * MIB


def _write_zip(path: Path, members: list) -> Path:
    """A zip of ``members`` (no zip64; duplicate names allowed)."""
    out, central = bytearray(), bytearray()
    for m in members:
        name = m.name.encode()
        offset = len(out)
        # crc, compressed and uncompressed sizes, name length (the same in both headers)
        sizes = (m.crc, len(m.data), m.size, len(name))
        local = (0x04034B50, 20, 0, m.method, 0, 0x21, *sizes, 0)
        out += struct.pack("<IHHHHHIIIHH", *local) + name + m.data
        entry = (0x02014B50, 20, 20, 0, m.method, 0, 0x21, *sizes, 0, 0, 0, 0, 0, offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", *entry)
        central += name
    eocd = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0
    )
    path.write_bytes(bytes(out + central + eocd))
    return path


def _npy_dict(shape, dtype) -> dict:
    descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
    return {"descr": descr, "fortran_order": False, "shape": tuple(shape)}


def _npy_prefix(shape, dtype) -> bytes:
    """A .npy header (version 1.0) for an array of this shape and dtype."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, _npy_dict(shape, dtype))
    return buf.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _header_member(header) -> Member:
    text = header if isinstance(header, str) else json.dumps(header)
    raw = text.encode()
    return Member("header.npy", _npy_prefix((len(raw),), np.uint8) + raw)


def _file(path, header, z=None, theta0=None, extra_members=(), model_state=None) -> Path:
    """A subspace file from a header (dict or JSON text) and arrays."""
    if z is None:
        z = np.zeros(header["d"] if isinstance(header, dict) else 7, np.float32)
    members = [_header_member(header), Member("z.npy", _npy(z))]
    if theta0 is not None:
        members.append(Member("theta0.npy", _npy(theta0)))
    if model_state is not None:
        members.append(Member("model_state.npy", _npy(model_state)))
    return _write_zip(Path(path), members + list(extra_members))


def _header(path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return json.loads(f["header"].tobytes())


def _saved(tmp_path, name="m.npz", projection="fastfood", d=7, params=PARAMS, **kw):
    sub = subspace.wrap(params, d, projection=projection, key=KEY)
    z = jax.random.normal(jax.random.key(1), (d,), sub.dtype)
    return subspace.save_compressed(tmp_path / name, sub, z, key=KEY, **kw), sub, z


def _changed(header: dict, **changes) -> dict:
    """A copy with dotted fields changed: _changed(h, **{"theta0.seed": "3"})."""
    header = json.loads(json.dumps(header))
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = header
        for p in parents:
            node = node[p]
        node[last] = value
    return header


# ----------------------------------------------------------------- the memory test

CHILD = r"""
import json, re, resource, sys
manifest = json.load(open(sys.argv[1]))
import jax, jax.numpy as jnp
import subspace

def status(field):
    text = open("/proc/self/status").read()
    return int(re.search(field + r":\s+(\d+) kB", text).group(1)) * 1024

shapes = manifest["shapes"]
params = {k: {"bias": jnp.zeros(b), "kernel": jnp.zeros(w)} for k, (w, b) in shapes.items()}
like = jax.eval_shape(lambda: params)
state_like = {"batch_stats": {"m": jax.ShapeDtypeStruct((16,), jnp.float32)}}
def init(seed):
    jax.random.key(seed)
    return params
def load(case):
    kw = {"theta0": {"theta0": params}, "params_like": {"params_like": like},
          "init": {"init": init},
          "state": {"theta0": params, "model_state_like": state_like}}[case["with"]]
    return subspace.load_compressed(case["path"], **kw)

load(manifest["warmup"])  # compiles the legitimate model's draw
limit = status("VmData") + manifest["headroom"]
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
for case in manifest["cases"]:
    print(json.dumps({"start": case["name"]}), flush=True)
    open("/proc/self/clear_refs", "w").write("5")  # resets VmHWM to the current RSS
    before = status("VmRSS")
    try:
        load(case)
        outcome = ("ok", "")
    except BaseException as e:
        name = "ValueError" if isinstance(e, ValueError) else type(e).__name__
        outcome = (name, str(e)[:2000])
    growth = status("VmHWM") - before
    print(json.dumps({"name": case["name"], "exc": outcome[0], "msg": outcome[1],
                      "growth": growth}), flush=True)
"""


def _case(name, path, expected, how="theta0"):
    """A file to load with the caller's theta0 (or params_like, or init), and the message
    its refusal must match (None: it must load)."""
    return {"name": name, "path": str(path), "with": how, "expected": expected}


def _option_cases(tmp, base):
    h = _changed(base, d=10_000, **{"options.max_bytes": 1e300})  # P: 7.97 GB
    yield _case(
        "dense max_bytes 1e300",
        _file(tmp / "dense_1e300.npz", h),
        r"dense state would take 7,968,400,000 bytes .*max_state_bytes = 1,073,741,824"
        r".*options\.max_bytes .*not trusted",
    )
    h = _changed(base, d=BIG_D, **{"options.max_bytes": float("inf")})  # json: Infinity
    yield _case(
        "dense d = D, max_bytes Infinity",
        _file(tmp / "dense_inf.npz", h),
        r"dense state would take 158,738,496,400 bytes .*options\.max_bytes \(inf\) is not trusted",
    )
    h = _changed(base, projection="sparse", d=BIG_D, options={"density": 1.0})
    yield _case(
        "sparse density 1.0, d = D",
        _file(tmp / "sparse_1.npz", h),
        r"sparse state would take 317,476,992,800 bytes .*max_state_bytes",
    )
    h = _changed(base, projection="fastfood", d=10, options={"block_size": 2**28})
    yield _case(
        "fastfood block_size 2^28",
        _file(tmp / "ff_block.npz", h),
        r"header field 'options\.block_size' must be .*262,144.*got 268435456",
    )
    nan = json.dumps(_changed(base, projection="sparse", options={"density": float("nan")}))
    yield _case(
        "density NaN",
        _file(tmp / "nan.npz", nan, z=np.zeros(4, np.float32)),
        r"header field 'options\.density' is NaN",
    )


def _bomb_cases(tmp, base):
    """Members that inflate to ~1 GB from under 1 MB."""
    h = _changed(base, d=4)
    z_bomb = Member("z.npy", _npy_prefix((120 * MIB,), np.float64), mib=960)
    yield _case(
        "z inflates to 1 GB",
        _write_zip(tmp / "z_bomb.npz", [_header_member(h), z_bomb]),
        r"array 'z' does not match the header: file has float64 \(125829120,\), "
        r"header says float32 \(4,\)",
    )
    h = _changed(base, **{"theta0.source": "stored"})
    t_bomb = Member("theta0.npy", _npy_prefix((240 * MIB,), np.float32), mib=960)
    z = Member("z.npy", _npy(np.zeros(4, np.float32)))
    yield _case(
        "theta0 inflates to 1 GB",
        _write_zip(tmp / "t_bomb.npz", [_header_member(h), z, t_bomb]),
        r"array 'theta0' does not match the header: file has float32 \(251658240,\), "
        rf"header says float32 \({BIG_D},\)",
        how="params_like",
    )
    raw = json.dumps(base).encode()  # then 1 GB of spaces, still valid JSON
    padded = Member(
        "header.npy", _npy_prefix((len(raw) + 960 * MIB,), np.uint8) + raw, b" ", mib=960
    )
    yield _case(
        "header padded to 1 GB",
        _write_zip(tmp / "h_bomb.npz", [padded, z]),
        r"array 'header' has 1,006,63\d,\d\d\d bytes; a header is at most 1,048,576",
    )
    # A version 2.0 .npy header declares its length in 4 bytes: here 1 GB of spaces.
    text = repr(_npy_dict((4,), np.float32)).encode()
    length = struct.pack("<I", len(text) + 960 * MIB)
    npy_bomb = Member("z.npy", b"\x93NUMPY\x02\x00" + length + text, b" ", mib=960)
    yield _case(
        ".npy header of z padded to 1 GB",
        _write_zip(tmp / "npy_bomb.npz", [_header_member(base), npy_bomb]),
        r"array 'z': its \.npy header is 1,006,63\d,\d\d\d bytes; at most 10,000",
    )
    # Model state: the loader's template (16 float32 numbers) bounds what is read.
    stats = {"leaves": [["['batch_stats']['m']", [16], "float32"]]}
    h = _changed(base, model_state=stats, **{"sha256.model_state": "0" * 64})
    s_bomb = Member("model_state.npy", _npy_prefix((960 * MIB,), np.uint8), mib=960)
    yield _case(
        "model_state inflates to 1 GB",
        _write_zip(tmp / "s_bomb.npz", [_header_member(h), z, s_bomb]),
        r"array 'model_state' does not match the header: file has uint8 \(1006632960,\), "
        r"header says uint8 \(64,\)",
        how="state",
    )
    stats = {"leaves": [["['batch_stats']['m']", [240 * MIB], "float32"]]}
    h = _changed(base, model_state=stats, **{"sha256.model_state": "0" * 64})
    path = _write_zip(tmp / "s_big.npz", [_header_member(h), z, s_bomb])
    yield _case(
        "model_state of 1 GB, header and member agreeing",
        path,
        r"model_state leaf shape does not match at \['batch_stats'\]\['m'\]: file has "
        r"\(251658240,\), model has \(16,\)",
        how="state",
    )
    yield _case(
        "model_state of 1 GB, no template",
        path,
        r"the file stores model state \(1 leaf: \['batch_stats'\]\['m'\]\); pass "
        r"model_state_like=",
    )
    trailing = Member("z.npy", _npy(np.zeros(4, np.float32)), mib=960)
    yield _case(
        "z with 1 GB after its data",
        _write_zip(tmp / "z_trailing.npz", [_header_member(base), trailing]),
        r"zip member 'z\.npy' declares 1,006,633,104 bytes uncompressed; its \.npy header "
        r"and shape make 144",
    )


def _header_cases(tmp, base, base_z):
    deep = json.dumps(_changed(base, extra="@")).replace('"@"', "[" * 100_000 + "]" * 100_000)
    yield _case(
        "extra nested 100,000 deep",
        _file(tmp / "deep.npz", deep, z=np.zeros(4)),
        r"header is nested too deeply",
    )
    h = _changed(base, **{"theta0.source": "init", "theta0.seed": "3"})
    yield _case(
        "theta0.seed a string",
        _file(tmp / "seed.npz", h),
        r"header field 'theta0\.seed' must be an integer .* or null; got str '3'",
        how="init",
    )
    h = _changed(base, **{"key.data": [[0, 7], [0, 8]]})
    yield _case(
        "key.data of shape (2, 2)",
        _file(tmp / "key.npz", h),
        r"header field 'key\.data' must be a list of 2 uint32 words",
    )
    # A legitimate header just under the cap, made of as many small objects as fit.
    h = _changed(base, extra=[{}] * 250_000)
    yield _case("1 MB header of 250,000 objects (loads)", _file(tmp / "heavy.npz", h, base_z), None)


def _hostile_files(tmp):
    """The warm-up file (the legitimate model) and the cases, all files under 1 MB."""
    base_path, _, base_z = _saved(tmp, "base.npz", "dense", d=4, params=_big_params())
    base = _header(base_path)
    assert base["D"] == BIG_D
    cases = [
        *_option_cases(tmp, base),
        *_bomb_cases(tmp, base),
        *_header_cases(tmp, base, np.asarray(base_z)),
    ]
    for case in cases:
        size = Path(case["path"]).stat().st_size
        assert size < 10**6, (case["name"], size)
    return {"path": str(base_path), "with": "theta0"}, cases


def test_hostile_files_are_refused_within_100_mb(tmp_path):
    warmup, cases = _hostile_files(tmp_path)
    manifest = {"shapes": SHAPES, "headroom": 150 * MIB, "warmup": warmup, "cases": cases}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "manifest.json")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=Path(__file__).parent.parent,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    results = {r["name"]: r for r in lines if "name" in r}
    print("\n".join(f"{r['name']}: {r['growth'] / 1e6:.1f} MB" for r in results.values()))
    failures = []
    for case in cases:
        r = results.get(case["name"])
        if r is None:
            started = [x["start"] for x in lines if "start" in x]
            failures.append(
                f"{case['name']}: no result (child exit {proc.returncode}, last started "
                f"{started[-1] if started else None!r}; stderr {proc.stderr[-1500:]})"
            )
            continue
        if case["expected"] is None:
            ok = r["exc"] == "ok"
        else:
            ok = r["exc"] == "ValueError" and re.search(case["expected"], r["msg"]) is not None
        if not ok:
            failures.append(f"{case['name']}: {r['exc']}: {r['msg'][:600]}")
        if r["growth"] > LIMIT_GROWTH:
            failures.append(f"{case['name']}: peak memory grew by {r['growth']:,} bytes")
    assert not failures, "\n".join(failures)


# ----------------------------------------------------------------- header validation


def _bad(tmp_path, header, match, **load):
    path = _file(tmp_path / "bad.npz", header)
    with pytest.raises(ValueError, match=match):
        subspace.load_compressed(path, **(load or {"theta0": PARAMS}))


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"theta0.source": "init", "theta0.seed": 1.5}, r"'theta0\.seed' must be an integer"),
        ({"theta0.source": "init", "theta0.seed": 2**70}, r"'theta0\.seed' must be an integer"),
        ({"key.data": [1, 2, 3]}, r"'key\.data' must be a list of 2 uint32 words"),
        ({"key.data": [-1, 2]}, r"'key\.data' must be a list of 2 uint32 words"),
        ({"key.data": [2**32, 2]}, r"'key\.data' must be a list of 2 uint32 words"),
        ({"key.impl": "foo"}, r"'key\.impl' must be one of \[.*'threefry2x32'.*\]; got str 'foo'"),
        ({"key.impl": "rbg"}, r"'key\.data' must be a list of 4 uint32 words"),
        ({"key.typed": "yes"}, r"'key\.typed' must be true or false"),
        ({"theta0.key": {"impl": "threefry2x32"}}, r"'theta0\.key' must be an object with"),
        ({"D": 46}, r"'leaves' add up to 45 parameters, not D = 46"),
        ({"d": 46}, r"'d' must be an integer in \[1, D = 45\]; got 46"),
        ({"D": "45"}, r"'D' must be an integer"),
        ({"D": 10**400}, r"'D' must be an integer in \[1, 1,099,511,627,776\]; got 1000"),
        ({"z_dtype": "float16"}, r"'z_dtype' must be one of \['float32', 'float64'\]"),
        ({"options": {"foo": 1}}, r"'options' has unknown options \['foo'\] for fastfood"),
        ({"options.block_size": 12}, r"'options\.block_size' must be .*power of two"),
        ({"options.block_size": 4}, r"'options\.block_size' must be .*\[d = 7, 64\]"),
        ({"options.block_size": True}, r"'options\.block_size' must be"),
        ({"options.fwht_method": "fast"}, r"'options\.fwht_method' must be one of"),
        ({"options.shared_input": 1}, r"'options\.shared_input' must be true or false"),
        ({"theta0.dtype": "int32"}, r"'theta0\.dtype' must be a floating-point dtype"),
        ({"leaves": [["w", [-1], "float32"]]}, r"'leaves' has a bad entry"),
        # 65 dimensions: more than numpy has; 70,000 would cost seconds of multiplying.
        ({"leaves": [["w", [1] * 64 + [45], "float32"]]}, r"'leaves' has a bad entry"),
        ({"sha256": {"theta0": "x", "P": "y", "theta": "z"}}, r"'sha256\.theta0' must be"),
        ({"library_version": 1}, r"'library_version' must be a string"),
        ({"extra": json.loads("[" * 80 + "]" * 80)}, r"'extra' is nested deeper than 64"),
    ],
)
def test_header_fields_are_validated_by_name(tmp_path, changes, match):
    path, _, _ = _saved(tmp_path)
    _bad(tmp_path, _changed(_header(path), **changes), match)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"density": 0.0}, r"'options\.density' must be null or a finite number in \(0, 1\]"),
        ({"density": 1.5}, r"'options\.density' must be null or a finite number in \(0, 1\]"),
        ({"density": "0.3"}, r"'options\.density' must be null or a finite number in \(0, 1\]"),
        ({"density": "@1e999"}, r"'options\.density' is 1e999"),
        ({"max_bytes": 10}, r"unknown options \['max_bytes'\] for sparse"),
    ],
)
def test_sparse_options_are_bounded(tmp_path, options, match):
    path, _, _ = _saved(tmp_path, projection="sparse")
    text = json.dumps(_changed(_header(path), options=options))
    _bad(tmp_path, text.replace('"@1e999"', "1e999"), match)


def test_non_finite_numbers_still_load_where_the_loader_does_not_look(tmp_path):
    # Files written before the checks: NaN in the caller's extra (a diverged run's loss),
    # dense's max_bytes=inf (no cap); the loader uses neither.
    sub = subspace.wrap(PARAMS, 7, projection="dense", key=KEY, max_bytes=math.inf)
    extra = {"loss": math.nan, "best": math.inf}
    path = subspace.save_compressed(
        tmp_path / "m.npz", sub, sub.zeros(), key=KEY, model={"x": -math.inf}, extra=extra
    )
    m = subspace.load_compressed(path, theta0=PARAMS)
    assert math.isnan(m.header["extra"]["loss"]) and m.header["extra"]["best"] == math.inf
    assert m.header["model"]["x"] == -math.inf
    assert dict(m.subspace.options) == {"max_bytes": compress.DEFAULT_MAX_STATE_BYTES}


def test_every_projection_option_has_a_bound():
    for kind, factory in subspace.projections.PROJECTIONS.items():
        params = inspect.signature(factory).parameters.values()
        options = {p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name != "dtype"}
        assert options == set(_compress_projection.OPTION_CHECKS[kind]), kind


def test_dense_max_bytes_from_the_file_is_not_trusted(tmp_path):
    sub = subspace.wrap(PARAMS, 7, projection="dense", key=KEY, max_bytes=2000)
    path = subspace.save_compressed(tmp_path / "m.npz", sub, sub.zeros(), key=KEY)
    m = subspace.load_compressed(path, theta0=PARAMS)  # 1,260 bytes: the loader's limit
    assert dict(m.subspace.options) == {"max_bytes": compress.DEFAULT_MAX_STATE_BYTES}
    with pytest.raises(ValueError, match=r"dense state would take 1,260 bytes.*not trusted"):
        subspace.load_compressed(path, theta0=PARAMS, max_state_bytes=1000)


def test_max_state_bytes_refuses_a_large_state_and_can_be_raised(tmp_path):
    path, sub, z = _saved(tmp_path)  # fastfood, D = 45, block 8: 6 blocks of 8
    msg = (
        r"P's fastfood state would take 456 bytes \(D = 45, d = 7\) > max_state_bytes = 400; "
        r"pass load_compressed\(\.\.\., max_state_bytes=\.\.\.\) to allow it"
    )
    with pytest.raises(ValueError, match=msg):
        subspace.load_compressed(path, theta0=PARAMS, max_state_bytes=400)
    m = subspace.load_compressed(path, theta0=PARAMS, max_state_bytes=456)
    np.testing.assert_array_equal(m.z, z)
    with pytest.raises(TypeError, match="max_state_bytes must be a number of bytes > 0"):
        subspace.load_compressed(path, theta0=PARAMS, max_state_bytes="1GB")
    with pytest.raises(ValueError, match="max_state_bytes must be a number of bytes > 0"):
        subspace.load_compressed(path, theta0=PARAMS, max_state_bytes=0)


def test_compressed_header_reads_only_the_header(tmp_path):
    path, _, _ = _saved(tmp_path)
    header = _header(path)
    broken = Member("z.npy", b"\x93NUMPY garbage that is no array")  # z is never opened
    _write_zip(tmp_path / "h.npz", [_header_member(header), broken])
    assert subspace.compress.compressed_header(tmp_path / "h.npz")["sha256"] == header["sha256"]
    with pytest.raises(ValueError, match="corrupt, truncated or not a subspace file"):
        subspace.load_compressed(tmp_path / "h.npz", theta0=PARAMS)


def test_refuses_duplicate_members_and_other_compression(tmp_path):
    path, _, _ = _saved(tmp_path)
    header = _header(path)
    z = np.zeros(7, np.float32)
    dup = _file(tmp_path / "dup.npz", header, z, extra_members=[Member("z.npy", _npy(z))])
    with pytest.raises(ValueError, match=r"zip member 'z\.npy' appears 2 times"):
        subspace.load_compressed(dup, theta0=PARAMS)
    with zipfile.ZipFile(tmp_path / "lzma.npz", "w", zipfile.ZIP_LZMA) as zf:
        zf.writestr("header.npy", _npy(np.frombuffer(json.dumps(header).encode(), np.uint8)))
        zf.writestr("z.npy", _npy(z))
    with pytest.raises(ValueError, match=r"zip member 'header\.npy' is compressed with .*14"):
        subspace.load_compressed(tmp_path / "lzma.npz", theta0=PARAMS)


def test_save_refuses_a_header_over_the_cap(tmp_path):
    sub = subspace.wrap(PARAMS, 7, key=KEY)
    with pytest.raises(ValueError, match=r"header would take 1,[0-9,]+ bytes > 1,048,576"):
        subspace.save_compressed(tmp_path / "m.npz", sub, sub.zeros(), key=KEY, extra="x" * MIB)
    deep = json.loads("[" * 70 + "]" * 70)
    with pytest.raises(ValueError, match=r"header field 'extra' is nested deeper than 64"):
        subspace.save_compressed(tmp_path / "m.npz", sub, sub.zeros(), key=KEY, extra=deep)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------- model state


STATE = {"count": np.array([3, 4], np.uint32), "mean": np.array([1.5, -2.0, 0.25], np.float32)}


def _saved_with_state(tmp_path):
    """The header and the model-state array of a file with STATE; its z is zeros."""
    sub = subspace.wrap(PARAMS, 7, key=KEY)
    path = subspace.save_compressed(
        tmp_path / "m.npz", sub, sub.zeros(), key=KEY, model_state=STATE
    )
    with np.load(path, allow_pickle=False) as f:
        raw = f["model_state"]
    return _header(path), raw


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"model_state": "x"}, r"'model_state' must be null or an object with leaves"),
        ({"model_state": {}}, r"'model_state' must be null or an object with leaves"),
        ({"model_state.leaves": {}}, r"'model_state\.leaves' must be a list of \[name, shape"),
        (
            {"model_state.leaves": [["['count']", [2], "object"], ["['mean']", [3], "float32"]]},
            r"'model_state\.leaves' has a bad entry list \[.*'object'\] \(expected \[name, shape, "
            r"dtype\] with dtype one of \['bool', .*'float64'\]",
        ),
        (
            {"model_state.leaves": [["['count']", [1] * 65, "uint32"]]},
            r"'model_state\.leaves' has a bad entry",
        ),
        (
            {"model_state.leaves": [["['count']", [2**41], "uint32"]]},
            r"'model_state\.leaves' has a bad entry",
        ),
        ({"sha256.model_state": None}, r"'sha256\.model_state' must be a 64-digit hex string"),
    ],
)
def test_model_state_header_is_validated_by_name(tmp_path, changes, match):
    header, raw = _saved_with_state(tmp_path)
    path = _file(tmp_path / "bad.npz", _changed(header, **changes), model_state=raw)
    with pytest.raises(ValueError, match=match):
        subspace.load_compressed(path, theta0=PARAMS, model_state_like=STATE)


def test_model_state_member_must_match_the_header(tmp_path):
    header, raw = _saved_with_state(tmp_path)
    assert raw.dtype == np.uint8 and raw.shape == (20,)  # 2 uint32 + 3 float32, their bytes
    load = {"theta0": PARAMS, "model_state_like": STATE}
    missing = _file(tmp_path / "missing.npz", header)
    with pytest.raises(ValueError, match=r"header has model_state but the file lacks a 'model_s"):
        subspace.load_compressed(missing, **load)
    orphan = _file(tmp_path / "orphan.npz", _changed(header, model_state=None), model_state=raw)
    with pytest.raises(ValueError, match=r"header has no model_state but the file has a 'model_"):
        subspace.load_compressed(orphan, theta0=PARAMS)
    longer = _file(tmp_path / "long.npz", header, model_state=np.zeros(21, np.uint8))
    with pytest.raises(ValueError, match=r"'model_state' does not match the header: file has uin"):
        subspace.load_compressed(longer, **load)
    floats = _file(tmp_path / "f.npz", header, model_state=raw.view(np.float32))
    with pytest.raises(ValueError, match=r"file has float32 \(5,\), header says uint8 \(20,\)"):
        subspace.load_compressed(floats, **load)
    # Other bytes with a valid CRC (written by hand): refused by the header's sha256.
    tampered = raw.copy()
    tampered[0] ^= 1
    other = _file(tmp_path / "other.npz", header, model_state=tampered)
    with pytest.raises(ValueError, match=r"sha256 of model_state does not match"):
        subspace.load_compressed(other, **load)
    with pytest.raises(ValueError, match=r"sha256 of model_state does not match"):
        subspace.load_compressed(other, **load, verify=False)  # bytes read, not recomputed
    good = _file(tmp_path / "good.npz", header, model_state=raw)
    m = subspace.load_compressed(good, **load)
    np.testing.assert_array_equal(m.model_state["count"], STATE["count"])
