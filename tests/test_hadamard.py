import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from subspace.hadamard import METHODS, _factors, fwht


def hadamard_matrix(n):
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", [1, 2, 8, 64, 1024, 2048])
def test_matches_explicit_hadamard_matrix_in_float64(n, method):
    with jax.enable_x64(True):
        x = np.random.default_rng(n).normal(size=(3, n))
        y = fwht(jnp.asarray(x, jnp.float64), method=method)
        assert y.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(y), x @ hadamard_matrix(n).T, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("n", [2**15, 2**16])
def test_methods_agree_on_many_kronecker_factors(n):
    # 2^15 = 32·32·32 and 2^16 = 32·32·16·... : three and four factors.
    assert len(_factors(n)) >= 3
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(n).normal(size=(2, n)), jnp.float64)
        np.testing.assert_allclose(fwht(x), fwht(x, method="butterfly"), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize(
    "n,factors",
    [
        (1, (1,)),
        (32, (32,)),
        (64, (8, 8)),
        (1024, (32, 32)),
        (2**14, (32, 32, 16)),
        (2**20, (32, 32, 32, 32)),
    ],
)
def test_kronecker_factors_are_at_most_32_and_multiply_to_n(n, factors):
    assert _factors(n) == factors and int(np.prod(factors)) == n


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype,tol", [(jnp.float32, 1e-5), (jnp.bfloat16, 3e-2)])
def test_involution_up_to_n(dtype, tol, method):
    n = 256
    x = jax.random.normal(jax.random.key(0), (2, 5, n)).astype(dtype)
    y = fwht(fwht(x, method=method), method=method)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(
        np.asarray(y, np.float32) / n, np.asarray(x, np.float32), atol=tol, rtol=tol
    )


@pytest.mark.parametrize("method", METHODS)
def test_batched_over_leading_axes_and_jittable(method):
    x = jax.random.normal(jax.random.key(1), (4, 3, 64))
    rows = jnp.stack([fwht(r, method=method) for r in x.reshape(12, 64)]).reshape(4, 3, 64)
    np.testing.assert_allclose(jax.jit(fwht)(x), rows, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.vmap(fwht)(x), rows, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_gradient_is_the_transform_itself(method):
    # H is symmetric, so d/dx <g, Hx> = H g.
    g = jax.random.normal(jax.random.key(2), (64,))
    x = jax.random.normal(jax.random.key(3), (64,))
    grad = jax.grad(lambda x: jnp.vdot(g, fwht(x, method=method)))(x)
    np.testing.assert_allclose(grad, fwht(g), rtol=1e-5, atol=1e-5)


def test_no_retrace_on_second_call():
    f = jax.jit(chex.assert_max_traces(fwht, n=1))
    f(jnp.ones(8))
    f(jnp.zeros(8))


@pytest.mark.parametrize("shape", [(3,), (2, 12), (0,)])
def test_not_a_power_of_two_is_refused(shape):
    with pytest.raises(ValueError, match="power of two"):
        fwht(jnp.ones(shape))


def test_unknown_method_is_refused():
    message = r"method must be one of \('kronecker', 'butterfly'\); got 'fft'"
    with pytest.raises(ValueError, match=message):
        fwht(jnp.ones(4), method="fft")


def test_scalar_and_integer_inputs_are_refused():
    with pytest.raises(ValueError, match="at least one axis"):
        fwht(jnp.float32(1.0))
    with pytest.raises(TypeError, match="floating point"):
        fwht(jnp.arange(8))
