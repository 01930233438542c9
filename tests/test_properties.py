"""Property tests (hypothesis): ravel, the projections, fwht and d_int on random inputs.

Kept fast: every projection example compiles one program (init, the materialised P, the
linearity and VJP probes together), fwht draws its shapes from a small set, and d_int is
pure numpy.
"""

import functools
import math

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import subspace
from subspace.intrinsic import bootstrap_d_int, d_int
from subspace.search import bracket, search

FAST = settings(max_examples=25, deadline=None, database=None, print_blob=True)
PROJECTION = settings(FAST, max_examples=6)  # one compile per example
NUMPY = settings(FAST, max_examples=100)  # pure numpy, cheap

# --- ravel -------------------------------------------------------------------------------

DTYPES = [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16), np.dtype(np.float32)]
_BITS = {2: np.uint16, 4: np.uint32}


def _bits(x):
    x = np.asarray(x)
    return x.view(_BITS[x.dtype.itemsize])


def _random_leaf(shape, dtype, seed):
    """Any bit pattern of ``dtype`` but NaN: subnormals, ±0, ±inf, the extremes."""
    raw = np.random.default_rng(seed).integers(0, 2 ** (8 * dtype.itemsize), shape)
    x = raw.astype(_BITS[dtype.itemsize]).view(dtype)
    # NaN payloads are not kept through a float32 round trip (see test_nan_stays_nan).
    return np.where(np.isnan(x.astype(np.float32)), np.asarray(1.5, dtype), x).astype(dtype)


shapes = st.lists(st.integers(0, 3), max_size=3).map(tuple)
leaves = st.builds(_random_leaf, shapes, st.sampled_from(DTYPES), st.integers(0, 2**32 - 1))
keys = st.text("abcxyz", min_size=1, max_size=3)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=3),
    ),
    max_leaves=6,
)


def _same_structure_other_values(tree, seed):
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(
        lambda x: _random_leaf(x.shape, x.dtype, int(rng.integers(2**32))), tree
    )


@settings(FAST)
@given(trees)
def test_ravel_round_trip_is_bitwise_and_the_table_covers_0_to_D(tree):
    path_leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    if not path_leaves:
        with pytest.raises(ValueError, match="no leaves"):
            subspace.flatten.ravel(tree)
        return
    flat, unravel = subspace.flatten.ravel(tree)
    dtypes = [x.dtype for _, x in path_leaves]
    D = sum(x.size for _, x in path_leaves)
    assert flat.shape == (D,) and unravel.D == D
    assert flat.dtype == jnp.result_type(*dtypes) == unravel.dtype

    # The table: one row per leaf, in order, consecutive, covering [0, D) exactly.
    assert len(unravel.leaves) == len(path_leaves)
    offset = 0
    for leaf, (path, x) in zip(unravel.leaves, path_leaves, strict=True):
        assert leaf.name == jax.tree_util.keystr(path)
        assert (leaf.offset, leaf.size, leaf.shape, leaf.dtype) == (
            offset,
            x.size,
            x.shape,
            x.dtype,
        )
        chunk = np.asarray(flat[offset : offset + leaf.size]).astype(x.dtype).reshape(x.shape)
        np.testing.assert_array_equal(_bits(chunk), _bits(x))
        offset += leaf.size
    assert offset == D

    # Round trip: same structure, same leaf dtypes and shapes, same bits.
    back = unravel(flat)
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(tree)
    for got, want in zip(
        jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(tree), strict=True
    ):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(_bits(got), _bits(want))


@settings(FAST)
@given(trees, trees, st.integers(0, 2**32 - 1))
def test_unravel_is_equal_and_hash_equal_exactly_for_the_same_structure(tree, other, seed):
    assume(jax.tree_util.tree_leaves(tree) and jax.tree_util.tree_leaves(other))
    _, u = subspace.flatten.ravel(tree)
    _, same = subspace.flatten.ravel(_same_structure_other_values(tree, seed))
    assert u == same and hash(u) == hash(same)

    def signature(t):
        return jax.tree_util.tree_structure(t), [
            (x.shape, x.dtype) for x in jax.tree_util.tree_leaves(t)
        ]

    _, v = subspace.flatten.ravel(other)
    assert (u == v) == (signature(tree) == signature(other))
    if u == v:
        assert hash(u) == hash(v)


def test_nan_stays_nan():
    # Payloads may change (float16 signalling NaNs are quieted, bfloat16 payloads are
    # canonicalised through float32), but a NaN leaf comes back NaN in its own dtype.
    nan16 = np.array([0x7C01, 0x7E00, 0xFE01], np.uint16).view(np.float16)
    nanbf = np.array([0x7F81, 0xFFC0], np.uint16).view(ml_dtypes.bfloat16)
    tree = {"a": nan16, "b": nanbf, "c": np.ones(2, np.float32)}
    flat, unravel = subspace.flatten.ravel(tree)
    back = unravel(flat)
    assert back["a"].dtype == np.float16 and back["b"].dtype == ml_dtypes.bfloat16
    assert np.isnan(np.asarray(back["a"], np.float32)).all()
    assert np.isnan(np.asarray(back["b"], np.float32)).all()
    np.testing.assert_array_equal(back["c"], tree["c"])


# --- projections -------------------------------------------------------------------------


@st.composite
def projection_cases(draw, name):
    D = draw(st.integers(1, 300))
    d = draw(st.integers(1, min(D, 40)))
    options = {}
    if name == "sparse" and draw(st.booleans()):
        options["density"] = draw(st.floats(1e-3, 1.0))
    if name == "fastfood" and draw(st.booleans()):
        # A power of two from the default up to the one-block size 2^ceil(log2 D).
        extra = draw(st.integers(0, 2))
        options["block_size"] = 1 << min((d - 1).bit_length() + extra, (D - 1).bit_length())
    if name == "kronqr" and draw(st.booleans()):
        options["width"] = draw(st.integers(d, min(D, 2 * d + 5)))
    a, b = draw(st.floats(-10, 10)), draw(st.floats(-10, 10))
    return D, d, options, a, b, draw(st.integers(0, 2**31 - 1))


def _probe(proj, d):
    """One compiled program: P column by column (P e_j), P applied to the probes, and the
    VJP of g through apply."""

    @jax.jit
    def run(key, probes, g):
        state = proj.init(key)

        def apply(z):
            return proj.apply(state, z)

        basis = jnp.eye(d, dtype=jnp.float32)
        out = jax.vmap(apply)(jnp.concatenate([basis, probes]))  # row i = P (row i of input)
        _, vjp = jax.vjp(apply, probes[0])
        return out[:d].T, out[d:], vjp(g)[0]

    return run


def _check_projection(name, case):
    D, d, options, a, b, seed = case
    proj = subspace.projections.PROJECTIONS[name](D, d, **options)
    rng = np.random.default_rng(seed)
    z1, z2 = rng.standard_normal((2, d)).astype(np.float32)
    z3 = (np.float32(a) * z1 + np.float32(b) * z2).astype(np.float32)
    probes = np.stack([z1, z2, z3, np.zeros(d, np.float32)])
    g = rng.standard_normal(D).astype(np.float32)
    P, y, vjp_g = _probe(proj, d)(jax.random.key(seed), probes, g)
    P, (y1, y2, y3, y0), vjp_g = (np.asarray(x, np.float64) for x in (P, y, vjp_g))
    assert P.shape == (D, d) and y1.shape == (D,) and vjp_g.shape == (d,)

    np.testing.assert_array_equal(y0, np.zeros(D))  # P 0 = 0 exactly
    # Linearity: P(a z1 + b z2) = a P z1 + b P z2, to float32 rounding of sums of size d.
    scale = abs(a) * np.abs(z1).sum() + abs(b) * np.abs(z2).sum() + 1.0
    np.testing.assert_allclose(y3, a * y1 + b * y2, rtol=0, atol=2e-6 * scale)
    # apply is the materialised matrix, and its VJP is the transpose of that matrix.
    np.testing.assert_allclose(y1, P @ z1, rtol=0, atol=2e-6 * (np.abs(z1).sum() + 1))
    g64 = g.astype(np.float64)
    np.testing.assert_allclose(vjp_g, P.T @ g64, rtol=0, atol=2e-6 * (np.abs(g64).sum() + 1))
    # <P z, g> == <z, Pᵀ g> with Pᵀ g from jax.vjp.
    assert math.isclose(y1 @ g64, z1 @ vjp_g, rel_tol=1e-4, abs_tol=1e-4 * (np.abs(g64).sum() + 1))
    return P, options


@settings(PROJECTION)
@given(projection_cases("dense"))
def test_dense_properties(case):
    P, _ = _check_projection("dense", case)
    np.testing.assert_allclose(np.linalg.norm(P, axis=0), 1.0, rtol=1e-5)


@settings(PROJECTION)
@given(projection_cases("sparse"))
def test_sparse_properties(case):
    D = case[0]
    P, options = _check_projection("sparse", case)
    np.testing.assert_allclose(np.linalg.norm(P, axis=0), 1.0, rtol=1e-5)
    # Exactly k non-zeros of ±1/sqrt(k) per column, one in each of k row strata.
    density = options.get("density", 1.0 / math.sqrt(D))
    k = min(D, max(1, round(D * density)))
    assert ((P != 0).sum(axis=0) == k).all()
    np.testing.assert_allclose(np.abs(P[P != 0]), 1.0 / math.sqrt(k), rtol=1e-6)
    bounds = np.floor(np.arange(k + 1) * D / k).astype(int)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        assert ((P[lo:hi] != 0).sum(axis=0) == 1).all()


@settings(PROJECTION, max_examples=5)  # fastfood's init (a permutation) compiles slowly
@given(projection_cases("fastfood"))
def test_fastfood_properties(case):
    D, d = case[0], case[1]
    P, options = _check_projection("fastfood", case)
    L = options.get("block_size", 1 << (d - 1).bit_length())
    r = D - (math.ceil(D / L) - 1) * L  # rows kept of the last, cut block: 1..L
    sq = np.sum(P * P, axis=0)
    # What the docstring promises: whole blocks give (blocks - 1) L / D exactly, the cut
    # block adds between 0 and L / D, so every squared norm is in [1 - r/D, 1 + (L-r)/D];
    # exactly 1 when L divides D, and a mean of exactly 1 over a whole block (d = L).
    tol = 1e-5
    assert (sq >= 1 - r / D - tol).all() and (sq <= 1 + (L - r) / D + tol).all()
    if D % L == 0:
        np.testing.assert_allclose(sq, 1.0, rtol=tol)
    if d == L:
        assert abs(sq.mean() - 1.0) < tol


@settings(PROJECTION, max_examples=5)  # a QR and a permutation to compile per case
@given(projection_cases("kronqr"))
def test_kronqr_properties(case):
    P, _ = _check_projection("kronqr", case)
    np.testing.assert_allclose(P.T @ P, np.eye(P.shape[1]), atol=3e-6)  # orthonormal


@settings(PROJECTION, max_examples=4)
@given(st.sampled_from(["dense", "sparse"]), projection_cases("sparse"), st.integers(1, 40))
def test_columns_of_a_wider_projection_start_with_the_narrower_one(name, case, extra):
    # Dense and sparse draw column j from fold_in(key, j), whatever d is. (Fastfood's state
    # does not depend on d at all once block_size is fixed.)
    D, d, options, _, _, seed = case
    wide = min(D, d + extra)
    assume(wide > d)
    options = options if name == "sparse" else {}
    key = jax.random.key(seed)
    narrow = subspace.projections.PROJECTIONS[name](D, d, **options).init(key)
    full = subspace.projections.PROJECTIONS[name](D, wide, **options).init(key)
    if name == "sparse":
        np.testing.assert_array_equal(narrow.indices, full.indices[:d])
        np.testing.assert_array_equal(narrow.values, full.values[:d])
    else:
        np.testing.assert_array_equal(narrow.P, full.P[:, :d])


def test_dense_columns_do_not_depend_on_d_bitwise():
    key = jax.random.key(1)
    narrow = subspace.projections.dense(265, 1).init(key).P
    wide = subspace.projections.dense(265, 16).init(key).P
    np.testing.assert_array_equal(narrow, wide[:, :1])


# --- fwht --------------------------------------------------------------------------------


@functools.cache
def _hadamard(n):
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


@settings(FAST)
@given(
    st.integers(0, 10),
    st.sampled_from([(), (3,), (2, 1)]),
    st.integers(0, 2**32 - 1),
)
def test_fwht_twice_is_n_times_identity_exactly_on_integers(k, batch, seed):
    n = 2**k
    rng = np.random.default_rng(seed)
    # Small integers: every partial sum is an integer below 2^24, so float32 is exact.
    x = rng.integers(-8, 9, (*batch, n)).astype(np.float32)
    y = subspace.hadamard.fwht(x)
    assert y.shape == x.shape and y.dtype == jnp.float32
    np.testing.assert_array_equal(y, x @ _hadamard(n).T)
    np.testing.assert_array_equal(subspace.hadamard.fwht(y), n * x)
    # Gaussian input: H(Hx) = n x to float32 rounding.
    g = rng.standard_normal((*batch, n)).astype(np.float32)
    np.testing.assert_allclose(
        subspace.hadamard.fwht(subspace.hadamard.fwht(g)) / n, g, rtol=0, atol=1e-5 * (k + 1)
    )


# --- d_int -------------------------------------------------------------------------------


def _brute_force_d_int(ds, values, threshold):
    """The definition, one grid point at a time: the first d whose mean reaches."""
    grid = sorted(set(ds))
    means = []
    for d in grid:
        vs = [v for e, v in zip(ds, values, strict=True) if e == d]
        means.append(sum(vs) / len(vs))
    for i, (d, m) in enumerate(zip(grid, means, strict=True)):
        if math.isfinite(m) and m >= threshold:
            if i == 0 or not math.isfinite(means[i - 1]):
                return d, float(d)
            lo, hi = means[i - 1], m
            return d, grid[i - 1] + (threshold - lo) / (hi - lo) * (d - grid[i - 1])
    return None, None


@st.composite
def monotone_sweeps(draw):
    """Members whose mean metric rises with d; values on a 1/64 grid so that sums are exact
    in any order. Sometimes a diverged (NaN) member, sometimes a threshold equal to a mean."""
    grid = sorted(draw(st.sets(st.integers(1, 500), min_size=1, max_size=8)))
    steps = draw(st.lists(st.integers(0, 16), min_size=len(grid), max_size=len(grid)))
    levels = np.cumsum(steps)
    ds, values = [], []
    for d, level in zip(grid, levels, strict=True):
        seeds = draw(st.integers(1, 4))
        noise = draw(st.lists(st.integers(-3, 3), min_size=seeds, max_size=seeds))
        noise = [n - round(sum(noise) / seeds) for n in noise]
        ds += [d] * seeds
        values += [(int(level) * 4 + n) / 64 for n in noise]
    if draw(st.booleans()):
        values[draw(st.integers(0, len(values) - 1))] = math.nan
    means = [np.mean([v for e, v in zip(ds, values, strict=True) if e == d]) for d in grid]
    finite = [m for m in means if math.isfinite(m)] or [0.0]
    if draw(st.booleans()):
        threshold = float(draw(st.sampled_from(finite)))
    else:
        threshold = draw(st.floats(min(finite) - 0.5, max(finite) + 0.5))
    order = draw(st.permutations(range(len(ds))))
    return [ds[i] for i in order], [values[i] for i in order], threshold


@settings(NUMPY)
@given(monotone_sweeps())
def test_d_int_matches_brute_force(sweep):
    ds, values, threshold = sweep
    want_d, want_x = _brute_force_d_int(ds, values, threshold)
    got = d_int(ds, values, threshold)
    assert got.d == want_d and got.threshold == threshold
    if want_d is None:
        assert got.interpolated is None and bracket(ds, values, threshold) is None
        return
    assert got.interpolated == pytest.approx(want_x, rel=1e-12, abs=1e-12)
    grid = sorted(set(ds))
    i = grid.index(want_d)
    # Strictly above the last missing d in exact arithmetic; in floats a threshold a hair
    # above that d's mean (e.g. 2e-311 over a mean of 0) rounds the interpolation onto it.
    assert (grid[i - 1] if i else want_d - 1) <= got.interpolated <= want_d
    # A loss is the same problem mirrored.
    mirrored = d_int(ds, [-v for v in values], -threshold, higher_is_better=False)
    assert (mirrored.d, mirrored.interpolated) == (got.d, got.interpolated)
    assert bracket(ds, values, threshold) == (None if i == 0 else (grid[i - 1], want_d))


@settings(NUMPY)
@given(monotone_sweeps())
def test_bootstrap_interval_is_ordered_and_collapses_when_seeds_agree(sweep):
    ds, values, threshold = sweep
    lo, hi = bootstrap_d_int(ds, values, threshold, n_boot=50)
    assert lo <= hi
    means = {d: np.mean([v for e, v in zip(ds, values, strict=True) if e == d]) for d in ds}
    agreed = [means[d] for d in ds]  # every seed at the mean: no resampling noise
    point = d_int(ds, agreed, threshold)
    expected = math.inf if point.d is None else point.interpolated
    assert bootstrap_d_int(ds, agreed, threshold, n_boot=20) == (expected, expected)


@settings(NUMPY)
@given(
    st.integers(2, 1000),
    st.sets(st.integers(1, 1000), min_size=1, max_size=6),
    st.integers(1, 6),
)
def test_search_finds_a_step_exactly(d_star, coarse, k):
    coarse = sorted(coarse | {1, 1000})  # 1 misses and 1000 reaches: there is a bracket
    trained = []

    def train(dims):
        trained.extend(dims)
        ds = [d for d in dims for _ in range(2)]
        return ds, [float(d >= d_star) for d in ds]

    result = search(train, coarse, 0.5, k=k, rel_tol=1e-9, max_rounds=50)
    assert result.stopped == "tight" and result.d_int.d == d_star
    assert result.bracket == (d_star - 1, d_star)  # rel_tol this small: adjacent integers
    assert len(trained) == len(set(trained))  # no d is trained twice
