"""The conformance suite every projection passes, then projection-specific checks."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subspace
from subspace.projections.base import check_dims

NAMES = ["dense", "sparse", "fastfood", "fastfood-shared"]
SIZES = [(100, 7), (64, 16), (37, 37), (300, 1)]


def materialise(proj, state, d):
    """P, column by column: column j = apply(e_j)."""
    return np.asarray(_columns(proj.apply, state, d)).T


@functools.partial(jax.jit, static_argnums=(0, 2))
def _columns(apply, state, d):
    return jax.vmap(apply, in_axes=(None, 0))(state, jnp.eye(d))


@pytest.fixture(
    params=[(n, D, d) for n in NAMES for D, d in SIZES], ids=lambda p: f"{p[0]}-D{p[1]}-d{p[2]}"
)
def case(request):
    name, D, d = request.param
    return (name, D, d, *_build(name, D, d))


@functools.cache
def _build(name, D, d):
    # One projection object per case, shared by the tests, so each compiles once.
    proj = factory(name)(D, d)
    return proj, proj.init(jax.random.key(42))


def factory(name):
    if name == "fastfood-shared":
        return functools.partial(subspace.fastfood, shared_input=True)
    return subspace.PROJECTIONS[name]


def test_output_shape_and_dtype(case):
    _, D, d, proj, state = case
    delta = proj.apply(state, jnp.ones(d))
    assert delta.shape == (D,) and delta.dtype == jnp.float32


def test_zero_maps_to_zero(case):
    _, D, d, proj, state = case
    np.testing.assert_array_equal(proj.apply(state, jnp.zeros(d)), np.zeros(D))


def test_linearity(case):
    _, _, d, proj, state = case
    z1, z2 = jax.random.normal(jax.random.key(1), (2, d))
    lhs = proj.apply(state, 2.0 * z1 - 3.0 * z2)
    rhs = 2.0 * proj.apply(state, z1) - 3.0 * proj.apply(state, z2)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5, atol=1e-5)


def test_vjp_is_the_explicit_transpose(case):
    _, D, d, proj, state = case
    P = materialise(proj, state, d)
    g = jax.random.normal(jax.random.key(2), (D,))
    z = jax.random.normal(jax.random.key(3), (d,))
    _, vjp = jax.vjp(lambda z: proj.apply(state, z), z)
    np.testing.assert_allclose(vjp(g)[0], P.T @ np.asarray(g), rtol=1e-4, atol=1e-5)
    # And the forward pass is the same matrix applied to z.
    np.testing.assert_allclose(proj.apply(state, z), P @ np.asarray(z), rtol=1e-4, atol=1e-5)


def test_column_norms(case):
    name, D, d, proj, state = case
    norms = np.linalg.norm(materialise(proj, state, d), axis=0)
    if name.startswith("fastfood"):
        assert abs(np.mean(norms**2) - 1.0) < 0.05
    else:
        np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


def test_same_key_same_delta_other_key_other_P(case):
    name, D, d, proj, state = case
    z = jax.random.normal(jax.random.key(4), (d,))
    again = proj.init(jax.random.key(42))
    np.testing.assert_array_equal(proj.apply(again, z), proj.apply(state, z))  # bitwise
    other = proj.init(jax.random.key(43))
    assert not np.array_equal(materialise(proj, other, d), materialise(proj, state, d))


def test_no_retrace_on_second_call(case):
    _, _, d, proj, state = case
    chex.clear_trace_counter()  # the counter is per function definition, across cases
    other_state = proj.init(jax.random.key(7))  # another key: same pytree structure

    @jax.jit
    @chex.assert_max_traces(n=1)
    def apply(state, z):
        return proj.apply(state, z)

    apply(state, jnp.ones(d))
    apply(other_state, 2 * jnp.ones(d))
    before = proj.apply._cache_size()
    proj.apply(other_state, 3 * jnp.ones(d))
    proj.apply(state, 4 * jnp.ones(d))
    assert proj.apply._cache_size() == max(before, 1)


def test_vmap_over_keys(case):
    _, D, d, proj, _ = case

    @jax.jit
    def batched(keys, z):
        return jax.vmap(lambda k: proj.apply(proj.init(k), z))(keys)

    deltas = batched(jax.random.split(jax.random.key(0), 3), jnp.ones(d))
    assert deltas.shape == (3, D)
    one = proj.init(jax.random.split(jax.random.key(0), 3)[1])
    np.testing.assert_allclose(deltas[1], proj.apply(one, jnp.ones(d)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_float64(name):
    with jax.enable_x64(True):
        proj = factory(name)(50, 5, dtype=jnp.float64)
        state = proj.init(jax.random.key(0))
        norms = np.linalg.norm(materialise(proj, state, 5), axis=0)
        assert proj.apply(state, jnp.ones(5, jnp.float64)).dtype == jnp.float64
        if not name.startswith("fastfood"):
            np.testing.assert_allclose(norms, 1.0, rtol=1e-12)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "D,d,exc,match",
    [
        (10, 0, ValueError, r"d \(subspace dimension\) must be an integer in \[1, D=10\]"),
        (10, 11, ValueError, r"\[1, D=10\]"),
        (10, 2.5, TypeError, "d must be an integer"),
        (10, "3", TypeError, "d must be an integer"),
        (10, True, TypeError, "d must be an integer"),
        (0, 1, ValueError, "D .* >= 1"),
    ],
)
def test_bad_dims(name, D, d, exc, match):
    with pytest.raises(exc, match=match):
        factory(name)(D, d)


@pytest.mark.parametrize("name", NAMES)
def test_bad_z_and_key(name):
    proj = factory(name)(20, 4)
    state = proj.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"z must have shape \(4,\)"):
        proj.apply(state, jnp.ones(5))
    with pytest.raises(ValueError, match=r"z must have shape \(4,\)"):
        proj.apply(state, jnp.ones((1, 4)))  # no broadcasting
    with pytest.raises(TypeError, match="z must have dtype float32"):
        proj.apply(state, jnp.ones(4, jnp.int32))
    with pytest.raises(TypeError, match="z must be an array"):
        proj.apply(state, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TypeError, match="key is required"):
        proj.init(None)
    with pytest.raises(TypeError, match="single PRNG key"):
        proj.init(jax.random.split(jax.random.key(0), 2))
    with pytest.raises(TypeError, match="floating-point dtype"):
        factory(name)(20, 4, dtype=jnp.int32)


def test_check_dims_accepts_numpy_integers():
    assert check_dims(np.int64(10), np.int32(3)) == (10, 3)


# --- dense -------------------------------------------------------------------------------


def test_dense_refuses_a_matrix_over_budget_before_allocating():
    # 656,810 x 9,000 float32 = 23.6 GB: refused at construction, instantly.
    with pytest.raises(ValueError, match="fastfood.*sparse"):
        subspace.dense(656_810, 9_000)
    with pytest.raises(ValueError, match="max_bytes = 1,000"):
        subspace.dense(100, 10, max_bytes=1000)
    subspace.dense(100, 10, max_bytes=4000)  # exactly at the budget is fine


@pytest.mark.parametrize("name", ["dense", "sparse"])
def test_columns_do_not_depend_on_d(name):
    narrow = factory(name)(200, 5)
    wide = factory(name)(200, 12)
    key = jax.random.key(7)
    np.testing.assert_array_equal(
        materialise(narrow, narrow.init(key), 5), materialise(wide, wide.init(key), 12)[:, :5]
    )


# --- sparse ------------------------------------------------------------------------------


def test_sparse_state_and_density():
    D, d = 10_000, 30
    proj = subspace.sparse(D, d)
    state = proj.init(jax.random.key(0))
    k = 100  # round(D / sqrt(D))
    assert state.indices.shape == (d, k) and state.values.shape == (d, k)
    P = materialise(proj, state, d)
    assert ((P != 0).sum(axis=0) == k).all()  # distinct rows: one per stratum
    np.testing.assert_allclose(np.abs(P[P != 0]), 1 / np.sqrt(k), rtol=1e-6)
    signs = np.sign(P[P != 0])
    assert 0.4 < (signs > 0).mean() < 0.6
    assert subspace.sparse(D, d, density=0.05).init(jax.random.key(0)).indices.shape == (d, 500)


@pytest.mark.parametrize("density", [0.0, -0.1, 1.5])
def test_sparse_bad_density(density):
    with pytest.raises(ValueError, match=r"density must be in \(0, 1\]"):
        subspace.sparse(100, 3, density=density)


# --- fastfood ----------------------------------------------------------------------------


def test_fastfood_matches_its_definition_in_float64():
    """P equals the stacked blocks c_b H G_b Π_b H B_b built as explicit matrices."""
    from tests.test_hadamard import hadamard_matrix

    D, d = 50, 6  # L = 8, 7 blocks, the last cut to 2 rows
    with jax.enable_x64(True):
        proj = subspace.fastfood(D, d, dtype=jnp.float64)
        state = proj.init(jax.random.key(3))
        P = materialise(proj, state, d)
    L, H = 8, hadamard_matrix(8)
    blocks = []
    for b in range(7):
        Pi = np.eye(L)[np.asarray(state.perm[b])]  # (Π x)_i = x[perm_i]
        V = H @ np.diag(state.G[b]) @ Pi @ H @ np.diag(state.B[b])
        c = 1 / np.sqrt(L * np.sum(np.asarray(state.G[b]) ** 2) * D / L)
        blocks.append(c * V)
    expected = np.concatenate(blocks)[:D, :d]
    np.testing.assert_allclose(P, expected, rtol=1e-10, atol=1e-12)


def test_fastfood_shared_input_matches_its_definition_in_float64():
    """V_b = c_b H G_b Π_b H B with one B (block 0's) for every block."""
    from tests.test_hadamard import hadamard_matrix

    D, d = 50, 6
    with jax.enable_x64(True):
        key = jax.random.key(3)
        shared = subspace.fastfood(D, d, dtype=jnp.float64, shared_input=True)
        state = shared.init(key)
        P = materialise(shared, state, d)
        plain = subspace.fastfood(D, d, dtype=jnp.float64)
        default = plain.init(key)
        P_default = materialise(plain, default, d)
    assert state.B.shape == (1, 8)
    np.testing.assert_array_equal(state.B[0], default.B[0])  # same key: same draws
    np.testing.assert_array_equal(state.G, default.G)
    L, H = 8, hadamard_matrix(8)
    blocks = []
    for b in range(7):
        Pi = np.eye(L)[np.asarray(state.perm[b])]
        V = H @ np.diag(state.G[b]) @ Pi @ H @ np.diag(state.B[0])
        blocks.append(V / np.sqrt(L * np.sum(np.asarray(state.G[b]) ** 2) * D / L))
    np.testing.assert_allclose(P, np.concatenate(blocks)[:D, :d], rtol=1e-10, atol=1e-12)
    assert not np.allclose(P, P_default)  # another P than the default for the same key


def test_fastfood_state_is_O_D_and_block_size():
    D, d = 199_210, 750
    proj = subspace.fastfood(D, d)
    shapes = jax.eval_shape(proj.init, jax.random.key(0))
    assert shapes.B.shape == (195, 1024)  # ceil(D / 1024) blocks of L = 2^ceil(log2 750)
    numbers = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(shapes))
    assert numbers <= 4 * 195 * 1024 + 195  # B, Π, Π⁻¹, G and a scale per block: O(D)
    assert numbers < D * d / 100


def test_fastfood_exact_unit_columns_when_L_divides_D():
    proj = subspace.fastfood(64, 8)
    norms = np.linalg.norm(materialise(proj, proj.init(jax.random.key(0)), 8), axis=0)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


def test_fastfood_block_size_reproduces_a_wider_projection():
    D, key = 300, jax.random.key(5)
    wide = subspace.fastfood(D, 20)  # L = 32
    narrow = subspace.fastfood(D, 6, block_size=32)
    np.testing.assert_array_equal(
        materialise(narrow, narrow.init(key), 6), materialise(wide, wide.init(key), 20)[:, :6]
    )
    for bad in (4, 24, 0):
        with pytest.raises(ValueError, match="block_size must be a power of two >= d = 6"):
            subspace.fastfood(D, 6, block_size=bad)
