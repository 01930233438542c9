import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import subspace


def _tree(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "conv": {"kernel": jax.random.normal(k1, (3, 3, 1, 4)), "bias": jnp.zeros(4)},
        "dense": [jax.random.normal(k2, (5, 2)), jax.random.normal(k3, (2,))],
    }


def test_round_trip_is_bitwise_and_table_describes_the_leaves():
    tree = _tree(jax.random.key(0))
    flat, unravel = subspace.flatten.ravel(tree)
    assert flat.shape == (36 + 4 + 10 + 2,)
    assert unravel.D == flat.size
    back = unravel(flat)
    chex.assert_trees_all_equal(back, tree)  # exact, zero tolerance
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(tree)
    # The table's offsets/shapes index the flat vector.
    leaves = jax.tree_util.tree_leaves(tree)
    for leaf, x in zip(unravel.leaves, leaves, strict=True):
        np.testing.assert_array_equal(
            flat[leaf.offset : leaf.offset + leaf.size].reshape(leaf.shape), x
        )
    assert unravel.leaves[0].name == "['conv']['bias']"
    assert "['dense'][0]" in unravel.table() and "D = 52" in unravel.table()


def test_unravel_is_hashable_by_value_and_does_not_retrace():
    _, u1 = subspace.flatten.ravel(_tree(jax.random.key(0)))
    flat2, u2 = subspace.flatten.ravel(_tree(jax.random.key(1)))
    assert u1 == u2 and hash(u1) == hash(u2)

    @chex.assert_max_traces(n=1)
    def f(flat, unravel):
        return jax.tree_util.tree_map(jnp.sum, unravel(flat))

    g = jax.jit(f, static_argnums=1)
    g(flat2, u1)
    g(flat2 + 1, u2)  # another unravel object of the same structure: cache hit


def test_mixed_dtypes_promote_and_round_trip_exactly():
    tree = {"a": jnp.arange(4, dtype=jnp.bfloat16) / 3, "b": jnp.ones(3, jnp.float32) / 7}
    flat, unravel = subspace.flatten.ravel(tree)
    assert flat.dtype == jnp.float32  # promoted dtype represents every leaf exactly
    back = unravel(flat)
    assert back["a"].dtype == jnp.bfloat16 and back["b"].dtype == jnp.float32
    chex.assert_trees_all_equal(back, tree)
    # A float32 value not representable in bfloat16 is rounded on the way back.
    moved = unravel(flat.at[0].set(1.0 + 2.0**-10))
    assert moved["a"][0] == jnp.bfloat16(1.0)


def test_single_dtype_unravel_keeps_leaf_dtype():
    tree = {"w": jnp.ones(3, jnp.bfloat16)}
    flat, unravel = subspace.flatten.ravel(tree)
    assert flat.dtype == jnp.bfloat16
    assert unravel(flat)["w"].dtype == jnp.bfloat16


def test_unravel_refuses_wrong_shape_and_dtype():
    flat, unravel = subspace.flatten.ravel(_tree(jax.random.key(0)))
    with pytest.raises(ValueError, match=r"shape \(52,\)"):
        unravel(flat[:-1])
    with pytest.raises(ValueError, match="shape"):
        unravel(flat[None])  # no silent broadcasting
    with pytest.raises(TypeError, match="dtype float32"):
        unravel(flat.astype(jnp.bfloat16))


@pytest.mark.parametrize("leaf", [jnp.arange(3), jnp.array([True, False]), jnp.ones(2, jnp.uint8)])
def test_non_float_leaves_are_refused(leaf):
    with pytest.raises(TypeError, match=r"leaf \['bad'\].*floating-point"):
        subspace.flatten.ravel({"good": jnp.ones(2), "bad": leaf})


@pytest.mark.parametrize("tree", [{}, [], None, {"a": {}}])
def test_empty_tree_is_refused(tree):
    with pytest.raises(ValueError, match="no leaves"):
        subspace.flatten.ravel(tree)


def test_ravel_is_jittable_and_works_on_nnx_state():
    model = nnx.Linear(3, 4, rngs=nnx.Rngs(0))
    _, params, _ = nnx.split(model, nnx.Param, ...)
    flat, unravel = (
        jax.jit(lambda p: subspace.flatten.ravel(p)[0])(params),
        subspace.flatten.ravel(params)[1],
    )
    assert flat.shape == (16,)
    back = unravel(flat)
    assert type(back) is type(params)
    chex.assert_trees_all_equal(back, params)
