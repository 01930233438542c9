"""The conformance suite every projection passes, then projection-specific checks."""

import functools

import chex
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

import subspace
from subspace.projections.base import check_dims

NAMES = ["dense", "sparse", "fastfood", "fastfood-shared", "kronqr", "kronqr-wide"]
SIZES = [(100, 7), (64, 16), (37, 37), (300, 1)]
# The transformation tests (vmap over keys, jvp, jacobians, Hessians) compile several
# programs per case: they take a padded D with a small d and a square D = d. The other
# sizes (D a power of two, d = 1) are in every other conformance test, the exact
# transpose among them, which is what the derivatives are built from.
TRANSFORM_SIZES = [(100, 7), (37, 37)]


def materialise(proj, state, d):
    """P, column by column: column j = apply(e_j)."""
    return np.asarray(_columns(proj.apply, state, d)).T


@functools.partial(jax.jit, static_argnums=(0, 2))
def _columns(apply, state, d):
    return jax.vmap(apply, in_axes=(None, 0))(state, jnp.eye(d))


def _cases(sizes):
    return [(n, D, d) for n in NAMES for D, d in sizes]


def _case_id(param):
    return f"{param[0]}-D{param[1]}-d{param[2]}"


@pytest.fixture(params=_cases(SIZES), ids=_case_id)
def case(request):
    return (*request.param, *_build(*request.param))


@pytest.fixture(params=_cases(TRANSFORM_SIZES), ids=_case_id)
def transform_case(request):
    return (*request.param, *_build(*request.param))


@functools.cache
def _build(name, D, d):
    # One projection object per case, shared by the tests, so each compiles once.
    proj = factory(name)(D, d)
    return proj, proj.init(jax.random.key(42))


def factory(name):
    if name == "fastfood-shared":
        return functools.partial(subspace.projections.fastfood, shared_input=True)
    if name == "kronqr-wide":  # the first d columns of a wider one, as a sweep's member
        return lambda D, d, **kw: subspace.projections.kronqr(D, d, width=_wider(D, d), **kw)
    return subspace.projections.PROJECTIONS[name]


def _wider(D, d):
    """A width between d and D for valid dims; None (kronqr's own checks) otherwise."""
    valid = all(isinstance(n, int) and not isinstance(n, bool) for n in (D, d)) and 1 <= d <= D
    return min(D, 2 * d + 3) if valid else None


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


def test_vmap_over_keys(transform_case):
    _, D, d, proj, _ = transform_case

    @jax.jit
    def batched(keys, z):
        return jax.vmap(lambda k: proj.apply(proj.init(k), z))(keys)

    deltas = batched(jax.random.split(jax.random.key(0), 3), jnp.ones(d))
    assert deltas.shape == (3, D)
    one = proj.init(jax.random.split(jax.random.key(0), 3)[1])
    np.testing.assert_allclose(deltas[1], proj.apply(one, jnp.ones(d)), rtol=1e-6, atol=1e-6)


# --- forward mode and higher derivatives, against the materialised P --------------------
#
# f(z) = w·sin(y) + ½(u·y)² with y = P z: ∇f = Pᵀ(w∘cos y + u(u·y)) and
# ∇²f = Pᵀ (diag(−w∘sin y) + u uᵀ) P, computed in float64 from the columns P e_j.


def scalar_fn(apply, state, w, u):
    """f(z) = w·sin(P z) + ½(u·P z)², a nonlinear scalar function of P z."""

    def f(z):
        y = apply(state, z)
        return jnp.dot(w, jnp.sin(y)) + 0.5 * jnp.dot(u, y) ** 2

    return f


def expected_derivatives(P, z, w, u):
    """(∇f, ∇²f) of :func:`scalar_fn` at z, in float64 from the matrix P."""
    P, z, w, u = (np.asarray(a, np.float64) for a in (P, z, w, u))
    y = P @ z
    grad = P.T @ (w * np.cos(y) + u * (u @ y))
    hessian = P.T @ (np.diag(-w * np.sin(y)) + np.outer(u, u)) @ P
    return grad, hessian


def hvp(f, z, v):
    """Forward-over-reverse Hessian-vector product ∇²f(z) v."""
    return jax.jvp(jax.grad(f), (z,), (v,))[1]


def ad_inputs(D, d, seed=5):
    z, v = jax.random.normal(jax.random.key(seed), (2, d))
    w, u = jax.random.normal(jax.random.key(seed + 1), (2, D))
    return z, v, w, u


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


def test_jvp_and_linearize_are_P(transform_case):
    _, D, d, proj, state = transform_case
    P = materialise(proj, state, d)
    z, v, _, _ = ad_inputs(D, d)
    apply = functools.partial(proj.apply, state)
    for jvp in (jax.jvp, jax.jit(jax.jvp, static_argnums=0)):
        primal, tangent = jvp(apply, (z,), (v,))
        assert_close(primal, P @ np.asarray(z, np.float64))
        assert_close(tangent, P @ np.asarray(v, np.float64))
    primal, f_jvp = jax.linearize(apply, z)
    assert_close(primal, P @ np.asarray(z, np.float64))
    assert_close(f_jvp(v), P @ np.asarray(v, np.float64))
    assert_close(jax.jit(f_jvp)(2.0 * v), 2.0 * P @ np.asarray(v, np.float64))


def test_jacfwd_and_jacrev_are_P(transform_case):
    _, D, d, proj, state = transform_case
    P = materialise(proj, state, d)
    z = ad_inputs(D, d)[0]
    assert_close(jax.jit(jax.jacfwd(proj.apply, argnums=1))(state, z), P)
    assert_close(jax.jit(jax.jacrev(proj.apply, argnums=1))(state, z), P)
    transpose = jax.linear_transpose(functools.partial(proj.apply, state), z)
    g = ad_inputs(D, d)[2]
    assert_close(transpose(g)[0], P.T @ np.asarray(g, np.float64))


def test_hessian_and_forward_over_reverse_hvp(transform_case):
    _, D, d, proj, state = transform_case
    P = materialise(proj, state, d)
    z, v, w, u = ad_inputs(D, d)
    grad, hessian = expected_derivatives(P, z, w, u)
    f = scalar_fn(proj.apply, state, w, u)
    assert_close(jax.jit(jax.grad(f))(z), grad)
    assert_close(jax.jit(jax.hessian(f))(z), hessian)
    assert_close(jax.jit(hvp, static_argnums=0)(f, z, v), hessian @ np.asarray(v, np.float64))
    # Reverse over forward too: the gradient of a directional derivative.
    rof = jax.grad(lambda z: jax.jvp(f, (z,), (v,))[1])(z)
    assert_close(rof, hessian @ np.asarray(v, np.float64))


def test_forward_mode_under_vmap_over_z_and_over_keys(transform_case):
    _, D, d, proj, state = transform_case
    zs, vs = jax.random.normal(jax.random.key(8), (2, 3, d))
    _, _, w, u = ad_inputs(D, d)
    P = materialise(proj, state, d)

    @jax.jit
    def over_z(zs, vs):  # one state, a batch of points
        f = scalar_fn(proj.apply, state, w, u)
        return jax.vmap(lambda z, v: (jax.jvp(f, (z,), (v,))[1], hvp(f, z, v)))(zs, vs)

    directional, hvps = over_z(zs, vs)
    for i in range(3):
        grad, hessian = expected_derivatives(P, zs[i], w, u)
        assert_close(directional[i], grad @ np.asarray(vs[i], np.float64))
        assert_close(hvps[i], hessian @ np.asarray(vs[i], np.float64))

    keys = jax.random.split(jax.random.key(9), 3)

    @jax.jit
    def over_keys(keys, zs, vs):  # the state batched too: jit∘vmap∘grad as in a sweep
        def one(key, z, v):
            s = proj.init(key)
            f = scalar_fn(proj.apply, s, w, u)
            tangent = jax.jvp(functools.partial(proj.apply, s), (z,), (v,))[1]
            return tangent, jax.grad(f)(z), hvp(f, z, v), jax.jacfwd(proj.apply, 1)(s, z)

        return jax.vmap(one)(keys, zs, vs)

    tangents, grads, hvps, jacobians = over_keys(keys, zs, vs)
    for i, key in enumerate(keys):
        P_i = materialise(proj, proj.init(key), d)
        grad, hessian = expected_derivatives(P_i, zs[i], w, u)
        assert_close(tangents[i], P_i @ np.asarray(vs[i], np.float64))
        assert_close(grads[i], grad)
        assert_close(hvps[i], hessian @ np.asarray(vs[i], np.float64))
        assert_close(jacobians[i], P_i)


@pytest.mark.parametrize("name", NAMES)
def test_forward_mode_in_float64(name):
    with jax.enable_x64(True):
        D, d = 50, 5
        proj = factory(name)(D, d, dtype=jnp.float64)
        state = proj.init(jax.random.key(0))
        P = materialise(proj, state, d)
        z, v = jax.random.normal(jax.random.key(1), (2, d), jnp.float64)
        w, u = jax.random.normal(jax.random.key(2), (2, D), jnp.float64)
        f = scalar_fn(proj.apply, state, w, u)
        grad, hessian = expected_derivatives(P, z, w, u)
        tight = {"rtol": 1e-10, "atol": 1e-12}
        np.testing.assert_allclose(jax.jacfwd(proj.apply, 1)(state, z), P, **tight)
        np.testing.assert_allclose(jax.jit(jax.hessian(f))(z), hessian, **tight)
        np.testing.assert_allclose(jax.jit(hvp, static_argnums=0)(f, z, v), hessian @ v, **tight)
        np.testing.assert_allclose(jax.grad(f)(z), grad, **tight)


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_through_wrap_params(name):
    """jvp, jacfwd, linearize, hessian and HVPs of a loss of ``wrap(...).params(z)``, under
    jit and vmap over keys, against the same loss of θ0 + P z with P materialised."""
    options = {"fastfood-shared": {"shared_input": True}, "kronqr-wide": {"width": 9}}
    options = options.get(name, {})
    kind = name.split("-")[0]
    params = {"w": jax.random.normal(jax.random.key(0), (3, 4)), "b": jnp.full((4,), 0.1)}
    x = jax.random.normal(jax.random.key(1), (6, 3))
    d = 5

    def loss(p):
        return jnp.mean(jnp.tanh(x @ p["w"] + p["b"]) ** 2)

    with jax.enable_x64(True):
        _, unravel = jax.flatten_util.ravel_pytree(  # subspace.flatten.ravel's order
            jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        )

    @jax.jit
    def expected(P, theta0, z, v):
        """The same derivatives of the loss of θ0 + P z with the matrix P (call in float64)."""

        def f(z):
            p = unravel(theta0 + P @ z)
            return jnp.mean(jnp.tanh(x.astype(P.dtype) @ p["w"] + p["b"]) ** 2)

        jvp = jax.jvp(f, (z,), (v,))[1]
        # d(θ0 + P z) along v, by jvp and by linearize, and its Jacobian by jacfwd: P v, P v, P
        return jvp, jax.grad(f)(z), jax.hessian(f)(z), hvp(f, z, v), P @ v, P @ v, P

    def reference(sub, z, v):
        P = np.asarray(jax.vmap(sub.delta)(jnp.eye(d))).T  # float32, column by column
        with jax.enable_x64(True):
            args = (P, sub.theta0, z, v)
            return [np.asarray(a) for a in expected(*(jnp.asarray(a, jnp.float64) for a in args))]

    def derivatives(sub, z, v):
        f = lambda z: loss(sub.params(z))  # noqa: E731
        _, lin = jax.linearize(sub.params, z)
        assert jax.tree.structure(lin(v)) == jax.tree.structure(params)
        assert jax.jacfwd(sub.params)(z)["w"].shape == (3, 4, d)
        return (
            jax.jvp(f, (z,), (v,))[1],
            jax.grad(f)(z),
            jax.hessian(f)(z),
            hvp(f, z, v),
            jax.jvp(sub.flat, (z,), (v,))[1],
            jax.linearize(sub.flat, z)[1](v),
            jax.jacfwd(sub.flat)(z),
        )

    sub = subspace.wrap(params, d, projection=kind, key=jax.random.key(2), **options)
    z, v = jax.random.normal(jax.random.key(3), (2, d))
    got = jax.jit(derivatives)(sub, z, v)
    for a, b in zip(got, reference(sub, z, v), strict=True):
        assert_close(a, b)

    keys = jax.random.split(jax.random.key(4), 2)
    subs = jax.vmap(lambda k: subspace.wrap(params, d, projection=kind, key=k, **options))(keys)
    got = jax.jit(jax.vmap(derivatives, in_axes=(0, None, None)))(subs, z, v)
    for i, key in enumerate(keys):
        one = subspace.wrap(params, d, projection=kind, key=key, **options)
        for a, b in zip(got, reference(one, z, v), strict=True):
            assert_close(a[i], b)


@pytest.mark.parametrize("D,d", [(6, 4), (4, 6), (5, 5)])
def test_linear_map_has_every_derivative_of_its_matrix(D, d):
    """linear_map(forward, transpose) on a weighted selection P z = w ∘ z[idx] (any D, d):
    jvp, jacfwd, grad, hessian and HVP are those of the matrix; reverse mode runs
    ``transpose`` (here deliberately 2× too large, to see which function ran)."""
    from subspace.projections import linear_map

    idx = jnp.arange(D) % d  # row i of P picks z[i mod d]
    weights = jnp.linspace(0.5, 1.5, D)
    P = np.zeros((D, d))
    P[np.arange(D), np.asarray(idx)] = np.asarray(weights)

    def forward(s, z):
        return s[1] * z[s[0]]

    def transpose(s, g):  # Pᵀ g (a scatter-add), doubled: see above
        return 2.0 * jnp.zeros(d, g.dtype).at[s[0]].add(s[1] * g)

    apply = linear_map(forward, transpose)
    state = (idx, weights)
    z, v = jax.random.normal(jax.random.key(0), (2, d))
    _, _, w, u = ad_inputs(D, d)
    f = scalar_fn(apply, state, w, u)
    grad, hessian = expected_derivatives(P, z, w, u)
    assert_close(apply(state, z), P @ np.asarray(z, np.float64))
    assert_close(jax.jvp(functools.partial(apply, state), (z,), (v,))[1], P @ np.asarray(v))
    assert_close(jax.jacfwd(apply, 1)(state, z), P)
    assert_close(jax.jacrev(apply, 1)(state, z), 2.0 * P)  # the given transpose ran
    assert_close(jax.jit(jax.grad(f))(z), 2.0 * grad)
    # Forward mode never calls transpose: the Hessian by forward-over-forward is exact;
    # by forward-over-reverse it is 2x (one reverse pass).
    assert_close(jax.jacfwd(jax.jacfwd(f))(z), hessian)
    assert_close(hvp(f, z, v), 2.0 * hessian @ np.asarray(v, np.float64))
    states = (jnp.stack([idx, idx[::-1]]), jnp.stack([weights, -weights[::-1]]))
    batched = jax.jit(jax.vmap(jax.jacfwd(apply, 1), in_axes=(0, None)))(states, z)
    assert_close(batched[0], P)
    assert_close(batched[1], -P[::-1])


def test_linear_map_checks_the_shapes_of_forward_and_transpose():
    from subspace.projections import linear_map

    z = jnp.ones(3)
    with pytest.raises(ValueError, match=r"transpose must return z's shape \(3,\)"):
        linear_map(lambda s, z: jnp.tile(z, 2), lambda s, g: g)(None, z)
    with pytest.raises(ValueError, match="forward must return a vector"):
        linear_map(lambda s, z: jnp.outer(z, z), lambda s, g: g[0])(None, z)
    with pytest.raises(ValueError, match=r"z must be a vector of shape \(d,\)"):
        linear_map(lambda s, z: z, lambda s, g: g)(None, jnp.ones((2, 3)))


@pytest.mark.parametrize("name", ["fastfood", "fastfood-shared"])
def test_fastfood_grad_is_the_explicit_transpose_without_scatter(name):
    """Reverse mode runs the hand-written Bᵀ H Πᵀ G H c (a gather by Π⁻¹): no scatter in the
    gradient's program, nor in a forward-over-reverse HVP or under vmap over states."""
    D, d = 100, 7
    proj, state = _build(name, D, d)
    z, v, w, u = ad_inputs(D, d)
    f = scalar_fn(proj.apply, state, w, u)
    keys = jax.random.split(jax.random.key(1), 2)
    programs = [  # traced, not compiled
        jax.make_jaxpr(jax.grad(f))(z),
        jax.make_jaxpr(lambda z: hvp(f, z, v))(z),
        jax.make_jaxpr(jax.vmap(lambda k: jax.grad(scalar_fn(proj.apply, proj.init(k), w, u))(z)))(
            keys
        ),
    ]
    for program in programs:
        assert "gather" in str(program)
        assert "scatter" not in str(program)


def test_fastfood_state_gets_a_zero_gradient():
    """P is a constant of the model: the gradient with respect to its state is zero."""
    D, d = 100, 7
    proj, state = _build("fastfood", D, d)
    z, _, w, u = ad_inputs(D, d)
    g = jax.grad(lambda G: scalar_fn(proj.apply, state._replace(G=G), w, u)(z))(state.G)
    np.testing.assert_array_equal(g, np.zeros_like(state.G))


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
        subspace.projections.dense(656_810, 9_000)
    with pytest.raises(ValueError, match="max_bytes = 1,000"):
        subspace.projections.dense(100, 10, max_bytes=1000)
    subspace.projections.dense(100, 10, max_bytes=4000)  # exactly at the budget is fine


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
    proj = subspace.projections.sparse(D, d)
    state = proj.init(jax.random.key(0))
    k = 100  # round(D / sqrt(D))
    assert state.indices.shape == (d, k) and state.values.shape == (d, k)
    P = materialise(proj, state, d)
    assert ((P != 0).sum(axis=0) == k).all()  # distinct rows: one per stratum
    np.testing.assert_allclose(np.abs(P[P != 0]), 1 / np.sqrt(k), rtol=1e-6)
    signs = np.sign(P[P != 0])
    assert 0.4 < (signs > 0).mean() < 0.6
    assert subspace.projections.sparse(D, d, density=0.05).init(
        jax.random.key(0)
    ).indices.shape == (d, 500)


@pytest.mark.parametrize("density", [0.0, -0.1, 1.5])
def test_sparse_bad_density(density):
    with pytest.raises(ValueError, match=r"density must be in \(0, 1\]"):
        subspace.projections.sparse(100, 3, density=density)


# --- fastfood ----------------------------------------------------------------------------


def test_fastfood_matches_its_definition_in_float64():
    """P equals the stacked blocks c_b H G_b Π_b H B_b built as explicit matrices."""
    from tests.test_hadamard import hadamard_matrix

    D, d = 50, 6  # L = 8, 7 blocks, the last cut to 2 rows
    with jax.enable_x64(True):
        proj = subspace.projections.fastfood(D, d, dtype=jnp.float64)
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
        shared = subspace.projections.fastfood(D, d, dtype=jnp.float64, shared_input=True)
        state = shared.init(key)
        P = materialise(shared, state, d)
        plain = subspace.projections.fastfood(D, d, dtype=jnp.float64)
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
    proj = subspace.projections.fastfood(D, d)
    shapes = jax.eval_shape(proj.init, jax.random.key(0))
    assert shapes.B.shape == (195, 1024)  # ceil(D / 1024) blocks of L = 2^ceil(log2 750)
    numbers = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(shapes))
    assert numbers <= 4 * 195 * 1024 + 195  # B, Π, Π⁻¹, G and a scale per block: O(D)
    assert numbers < D * d / 100


def test_fastfood_exact_unit_columns_when_L_divides_D():
    proj = subspace.projections.fastfood(64, 8)
    norms = np.linalg.norm(materialise(proj, proj.init(jax.random.key(0)), 8), axis=0)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


def test_fastfood_block_size_reproduces_a_wider_projection():
    D, key = 300, jax.random.key(5)
    wide = subspace.projections.fastfood(D, 20)  # L = 32
    narrow = subspace.projections.fastfood(D, 6, block_size=32)
    np.testing.assert_array_equal(
        materialise(narrow, narrow.init(key), 6), materialise(wide, wide.init(key), 20)[:, :6]
    )
    for bad in (4, 24, 0):
        with pytest.raises(ValueError, match="block_size must be a power of two >= d = 6"):
            subspace.projections.fastfood(D, 6, block_size=bad)


def test_block_size_for_is_the_next_power_of_two():
    from subspace.projections import block_size_for

    widths = (1, 2, 3, 4, 5, 750, 1024, 1025)
    assert [block_size_for(w) for w in widths] == [1, 2, 4, 4, 8, 1024, 1024, 2048]
    assert block_size_for(np.int64(199_210)) == 2**18
    with pytest.raises(ValueError, match="width must be an integer >= 1; got 0"):
        block_size_for(0)
    with pytest.raises(TypeError, match="width must be an integer"):
        block_size_for(2.0)
    # fastfood's default block is block_size_for(d).
    assert subspace.projections.fastfood(300, 20).init(jax.random.key(0)).B.shape == (10, 32)


def test_fastfood_block_size_is_bounded_by_one_block_for_all_of_D():
    """d <= block_size <= 2^ceil(log2 D): a bigger block only pads zeros (and allocates)."""
    D, d = 300, 6  # 2^ceil(log2 300) = 512
    one_block = subspace.projections.fastfood(
        D, d, block_size=512
    )  # the original code's single block
    assert one_block.init(jax.random.key(0)).B.shape == (1, 512)
    allowed = r"\(allowed: a power of two from 8 to 512 = 2\^ceil\(log2 D\), D = 300\)"
    for bad in (1024, 2**28):  # 2^28 would allocate gigabytes: refused before anything
        with pytest.raises(ValueError, match=rf"block_size must be <= .* = 512 .*{allowed}"):
            subspace.projections.fastfood(D, d, block_size=bad)
    with pytest.raises(ValueError, match=rf"power of two >= d = 6; got 24 {allowed}"):
        subspace.projections.fastfood(D, d, block_size=24)
    subspace.projections.fastfood(5, 5, block_size=8)  # d = D = 5: 8 is both bounds
    with pytest.raises(ValueError, match="from 8 to 8"):
        subspace.projections.fastfood(5, 5, block_size=16)


def test_kronqr_columns_are_orthonormal_and_its_state_is_o_sqrt_dw():
    from subspace.projections.kron import kron_shapes

    for D, W in [(100, 7), (64, 16), (37, 37), (300, 1), (1000, 40), (49, 10)]:
        a, b = kron_shapes(D, W)
        assert a >= b == int(np.sqrt(W)) and D - a * a >= W - b * b >= 0
        proj = subspace.projections.kronqr(D, W)
        P = materialise(proj, proj.init(jax.random.key(1)), W)
        np.testing.assert_allclose(P.T @ P, np.eye(W), atol=2e-6)  # PᵀP = I
    state = jax.eval_shape(subspace.projections.kronqr(199_210, 750).init, jax.random.key(0))
    assert state.Q1.shape == state.Q2.shape == (446, 27) and state.Q3.shape == (294, 21)
    floats = sum(np.prod(s.shape) for s in (state.Q1, state.Q2, state.Q3))
    assert floats < 4 * np.sqrt(199_210 * 750)  # O(√(D W)), not D·d


def test_kronqr_matches_its_definition_in_float64():
    with jax.enable_x64(True):
        D, d, W = 60, 5, 11  # a = 7, b = 3: Q1 ⊗ Q2 on z[:9], Q3 (11 × 2) on z[9:11]
        proj = subspace.projections.kronqr(D, d, width=W, dtype=jnp.float64)
        s = proj.init(jax.random.key(3))
        assert s.Q1.shape == (7, 3) and s.Q3.shape == (11, 2)
        block = np.zeros((D, W))
        block[:49, :9] = np.kron(np.asarray(s.Q1), np.asarray(s.Q2))
        block[49:, 9:] = np.asarray(s.Q3)
        expected = block[np.asarray(s.perm)][:, :d]  # Π, then the first d columns
        np.testing.assert_allclose(materialise(proj, s, d), expected, rtol=1e-12, atol=1e-14)
        wide = subspace.projections.kronqr(D, W, dtype=jnp.float64)
        np.testing.assert_array_equal(
            materialise(wide, wide.init(jax.random.key(3)), W)[:, :d], materialise(proj, s, d)
        )
    for bad in (4, 61):
        with pytest.raises(ValueError, match=r"width must be an integer in \[d = 5, D = 60\]"):
            subspace.projections.kronqr(60, 5, width=bad)
