"""Tests for models/: exact parameter counts D from the paper, shapes, modes, checks."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import FC, MODELS, BasicBlock, LeNet, ResNet20, UntiedLeNet, get_model

MNIST = (2, 28, 28, 1)
CIFAR = (2, 32, 32, 3)


def _num_params(model: nn.Module, shape: tuple[int, ...]) -> int:
    # eval_shape traces init without running it: exact shapes, no compilation.
    variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros(shape))
    return sum(leaf.size for leaf in jax.tree.leaves(variables["params"]))


def _variables(model: nn.Module, x: jax.Array, seed: int = 0, **kwargs) -> dict:
    """Random variables of the right structure, without running `init`.

    On CPU, compiling flax's truncated-normal initialisers costs about 0.3 s per distinct
    shape; `eval_shape` traces `init` (so every shape is checked) and numpy fills in
    fan-in-scaled normal values.
    """
    shapes = jax.eval_shape(functools.partial(model.init, **kwargs), jax.random.key(0), x)
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        name = jax.tree_util.keystr(path)
        if "batch_stats" in name:
            return jnp.ones(leaf.shape) if "var" in name else jnp.zeros(leaf.shape)
        fan_in = max(1, leaf.size // leaf.shape[-1])
        return jnp.asarray(rng.normal(0.0, fan_in**-0.5, leaf.shape), dtype=leaf.dtype)

    return jax.tree_util.tree_map_with_path(fill, shapes)


@pytest.mark.parametrize(
    "model, shape, expected",
    [
        (FC(), MNIST, 199_210),
        (LeNet(), MNIST, 44_426),
        (FC(), CIFAR, 656_810),
        (LeNet(), CIFAR, 62_006),
        (FC(width=400, depth=5), MNIST, 959_610),
        (ResNet20(), CIFAR, 269_722),
    ],
    ids=["mnist-fc", "mnist-lenet", "cifar-fc", "cifar-lenet", "mnist-fc-5x400", "resnet20"],
)
def test_parameter_count_matches_paper(model, shape, expected):
    assert _num_params(model, shape) == expected


def test_untied_lenet_parameter_count_matches_formula():
    # Locally connected: one 5x5 filter and bias per output position and channel.
    conv1 = 24 * 24 * (5 * 5 * 1 * 6 + 6)
    conv2 = 8 * 8 * (5 * 5 * 6 * 16 + 16)
    dense = (256 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert _num_params(UntiedLeNet(), MNIST) == conv1 + conv2 + dense == 286_334


def test_fc_layer_shapes():
    params = jax.eval_shape(
        FC(width=7, depth=3, num_classes=4).init, jax.random.key(0), jnp.zeros(MNIST)
    )["params"]
    shapes = [params[f"Dense_{i}"]["kernel"].shape for i in range(4)]
    assert shapes == [(784, 7), (7, 7), (7, 7), (7, 4)]


def test_fc_depth_zero_is_logistic_regression():
    params = jax.eval_shape(FC(depth=0).init, jax.random.key(0), jnp.zeros(MNIST))["params"]
    assert list(params) == ["Dense_0"]
    assert params["Dense_0"]["kernel"].shape == (784, 10)


def test_lenet_is_conv_pool_conv_pool_dense():
    params = jax.eval_shape(LeNet().init, jax.random.key(0), jnp.zeros(CIFAR))["params"]
    assert params["Conv_0"]["kernel"].shape == (5, 5, 3, 6)
    assert params["Conv_1"]["kernel"].shape == (5, 5, 6, 16)
    # 32 -> 28 (valid) -> 14 (pool) -> 10 (valid) -> 5 (pool): 5 * 5 * 16 inputs.
    assert params["Dense_0"]["kernel"].shape == (400, 120)
    assert params["Dense_1"]["kernel"].shape == (120, 84)
    assert params["Dense_2"]["kernel"].shape == (84, 10)


def test_fc_relu_is_applied():
    # With ReLU, f(x) + f(-x) != f(0) + f(0) in general; a linear net would be equal.
    model = FC(width=16, depth=1)
    x = jax.random.normal(jax.random.key(1), MNIST)
    params = _variables(model, x)
    apply = jax.jit(model.apply)
    lhs = apply(params, x) + apply(params, -x)
    rhs = 2 * apply(params, jnp.zeros_like(x))
    assert not np.allclose(lhs, rhs, atol=1e-3)


@pytest.mark.parametrize(
    "name, shape",
    [
        pytest.param("fc", MNIST, id="fc-mnist"),
        pytest.param("fc", CIFAR, id="fc-cifar"),
        pytest.param("lenet", MNIST, id="lenet-mnist"),
        pytest.param("lenet", CIFAR, id="lenet-cifar"),
        pytest.param("untied_lenet", MNIST, id="untied_lenet-mnist"),
        pytest.param("resnet20", CIFAR, id="resnet20-cifar"),
    ],
)
def test_logits_shape_dtype_and_jit(name, shape):
    model = get_model(name, num_classes=7)
    x = jax.random.uniform(jax.random.key(1), shape)

    @jax.jit
    def run(variables, x):
        return model.apply(variables, x), model.apply(variables, x[:1])

    logits, logits_one = run(_variables(model, x), x)
    assert logits.shape == (shape[0], 7)
    assert logits.dtype == jnp.float32
    assert np.all(np.isfinite(logits))
    # Examples are independent in eval mode: a batch of one gives the same logits.
    np.testing.assert_allclose(logits_one, logits[:1], rtol=1e-5, atol=1e-5)


def test_resnet20_batch_stats_train_vs_eval():
    model = ResNet20()
    x = jax.random.uniform(jax.random.key(1), (4, 32, 32, 3))
    variables = _variables(model, x)
    assert "batch_stats" in variables and "batch_stats" not in variables["params"]
    apply_train = jax.jit(functools.partial(model.apply, train=True, mutable=["batch_stats"]))
    logits_train, updates = apply_train(variables, x)
    logits_eval = jax.jit(model.apply)(variables, x)
    assert logits_train.shape == logits_eval.shape == (4, 10)
    # Train mode normalises with batch statistics, eval mode with the running ones.
    assert not np.allclose(logits_train, logits_eval, atol=1e-4)
    old = jax.tree.leaves(variables["batch_stats"])
    new = jax.tree.leaves(updates["batch_stats"])
    assert len(old) == 2 * 19  # mean and var of 19 BatchNorm layers
    assert all(not np.allclose(a, b) for a, b in zip(old, new, strict=True))


def test_resnet20_stages_then_global_average_pool():
    model = ResNet20()
    x = jax.random.uniform(jax.random.key(1), CIFAR)
    variables = _variables(model, x)
    capture = functools.partial(
        model.apply, capture_intermediates=lambda m, _: isinstance(m, BasicBlock)
    )
    logits, state = jax.jit(capture)(variables, x)
    blocks = [v["__call__"][0] for _, v in sorted(state["intermediates"].items())]
    shapes = [b.shape for b in blocks]
    assert shapes == [(2, 32, 32, 16)] * 3 + [(2, 16, 16, 32)] * 3 + [(2, 8, 8, 64)] * 3
    dense = variables["params"]["Dense_0"]
    pooled = blocks[-1].mean(axis=(1, 2))
    np.testing.assert_allclose(
        logits, pooled @ dense["kernel"] + dense["bias"], rtol=1e-5, atol=1e-5
    )


def test_basic_block_zero_pads_shortcut():
    block = BasicBlock(features=8, strides=2)
    x = jax.random.normal(jax.random.key(0), (1, 4, 4, 4))
    variables = _variables(block, x, train=False)
    apply = jax.jit(functools.partial(block.apply, train=False))
    # Silence the residual branch (last BatchNorm's scale and bias 0): out = relu(shortcut).
    params = dict(variables["params"])
    params["BatchNorm_1"] = jax.tree.map(jnp.zeros_like, params["BatchNorm_1"])
    out = apply({**variables, "params": params}, x)
    expected = jnp.pad(x[:, ::2, ::2, :], ((0, 0), (0, 0), (0, 0), (2, 2)))
    np.testing.assert_array_equal(out, nn.relu(expected))
    # With the branch active the output differs: the branch is really added.
    assert not np.allclose(apply(variables, x), out)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: FC(width=0), ValueError),
        (lambda: FC(depth=-1), ValueError),
        (lambda: FC(width=2.5), TypeError),
        (lambda: FC(num_classes=True), TypeError),
        (lambda: LeNet(num_classes=0), ValueError),
        (lambda: UntiedLeNet(num_classes=0), ValueError),
        (lambda: ResNet20(num_classes=0), ValueError),
        (lambda: BasicBlock(features=16, strides=3), ValueError),
    ],
)
def test_bad_hyperparameters_are_refused_at_construction(make, error):
    with pytest.raises(error, match="width|depth|num_classes|strides"):
        make()


@pytest.mark.parametrize("name", ["lenet", "untied_lenet", "resnet20"])
def test_conv_models_refuse_unbatched_images(name):
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        jax.eval_shape(get_model(name).init, jax.random.key(0), jnp.zeros((28, 28, 1)))


def test_fc_refuses_unbatched_vector():
    with pytest.raises(ValueError, match="rank >= 2"):
        jax.eval_shape(FC().init, jax.random.key(0), jnp.zeros((784,)))


def test_get_model_passes_kwargs_and_refuses_unknown_names():
    model = get_model("fc", width=400, depth=5)
    assert isinstance(model, FC) and (model.width, model.depth) == (400, 5)
    assert set(MODELS) == {"fc", "lenet", "untied_lenet", "resnet20", "mlp_policy", "conv_policy"}
    with pytest.raises(ValueError, match="fc.*lenet.*resnet20"):
        get_model("vgg")
