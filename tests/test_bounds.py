"""Certified generalisation bounds (subspace.bounds): the coder, the PAC-Bayes bound, the
quantisation and the batched read-out of a measurement."""

import json
import math
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subspace
from subspace import arithmetic_code, bounds, pac_bayes, quantise
from tests.test_study import CNN_TASK, _images

# --- the coder ---------------------------------------------------------------------------


@pytest.mark.parametrize("levels, d, seed", [(7, 5000, 0), (3, 17, 1), (50, 2000, 2), (2, 1, 3)])
def test_the_coder_gives_the_symbols_back_in_about_their_entropy(levels, d, seed):
    rng = np.random.default_rng(seed)
    symbols = rng.choice(levels, size=d, p=rng.dirichlet(np.ones(levels)))
    message = arithmetic_code.encode(symbols, levels, codebook_bits=16)
    back = arithmetic_code.decode(message.words, message.counts, d)
    np.testing.assert_array_equal(back, symbols)
    counts = np.bincount(symbols, minlength=levels)
    p = counts[counts > 0] / d
    entropy = -(counts[counts > 0] * np.log2(p)).sum()
    assert entropy <= message.symbol_bits <= entropy + 64 + 0.01 * entropy  # whole words
    assert message.codebook_bits == 16 * levels
    assert message.count_bits == levels * math.ceil(math.log2(d + 1))
    assert message.bits == message.symbol_bits + message.codebook_bits + message.count_bits


def test_one_level_in_use_costs_no_symbol_bits():
    message = arithmetic_code.encode(np.full(40, 2), 4)
    assert message.symbol_bits == 0 and len(message.words) == 0
    np.testing.assert_array_equal(arithmetic_code.decode(message.words, message.counts, 40), 2)


def test_a_corrupt_message_is_refused():
    symbols = np.random.default_rng(0).integers(0, 5, 300)
    message = arithmetic_code.encode(symbols, 5)
    with pytest.raises(ValueError, match="sum to d = 300"):
        arithmetic_code.decode(message.words, message.counts + 1, 300)
    with pytest.raises(ValueError, match="uint32"):
        arithmetic_code.decode(message.words.astype(np.int64), message.counts, 300)
    counts = np.roll(message.counts, 1)  # the right total, the wrong frequencies
    with pytest.raises(ValueError, match="do not decode to the counts"):
        arithmetic_code.decode(message.words, counts, 300)


# --- the bound ---------------------------------------------------------------------------


def test_error_bound_gives_the_published_check_value():
    # Zhou et al. (2019)'s ImageNet bound as Lotfi et al.'s code computes it: 96.54%.
    assert pac_bayes.error_bound(0.35, 2_867_200, 1_281_167) == pytest.approx(0.9654, abs=5e-5)


def test_error_bound_is_monotone_at_least_the_train_error_and_at_most_1():
    errors = np.linspace(0, 1, 11)
    for bits in (0, 1e3, 1e5):
        values = [pac_bayes.error_bound(e, bits, 60_000) for e in errors]
        assert all(a <= b + 1e-12 for a, b in zip(values, values[1:], strict=False))
        assert all(e <= v <= 1.0 for e, v in zip(errors, values, strict=True))
    by_bits = [pac_bayes.error_bound(0.05, b, 60_000) for b in (0, 1e2, 1e3, 1e4, 1e5, 1e6)]
    assert all(a < b for a, b in zip(by_bits, by_bits[1:-1], strict=False))
    assert by_bits[-1] > 0.9999  # many more bits than examples: vacuous
    assert pac_bayes.error_bound(0.5, 1e9, 100) == 1.0  # never above 1
    assert pac_bayes.error_bound(0.05, 1e3, 10**6) < pac_bayes.error_bound(0.05, 1e3, 10**4)


def test_prefix_free_length_and_choice_bits():
    assert pac_bayes.prefix_free_bits(1024) == 1024 + 20
    assert all(pac_bayes.prefix_free_bits(b) > b for b in (2, 10, 1e6))
    assert pac_bayes.choice_bits(8, 4, 1) == 5.0


# --- quantisation ------------------------------------------------------------------------


def test_kmeans_finds_clusters_and_ignores_padding():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(c, 0.01, 30) for c in (-1.0, 0.5, 2.0)]).astype(np.float32)
    padded = np.concatenate([z, np.full(10, 100.0, np.float32)])
    mask = np.concatenate([np.ones(90), np.zeros(10)]).astype(np.float32)
    book = np.asarray(quantise.kmeans_codebook(jnp.asarray(padded), 3, jnp.asarray(mask)))
    np.testing.assert_allclose(book, [-1.0, 0.5, 2.0], atol=0.01)
    uniform = np.asarray(quantise.uniform_codebook(jnp.asarray(padded), 3, jnp.asarray(mask)))
    np.testing.assert_allclose(uniform, [z.min(), (z.min() + z.max()) / 2, z.max()], rtol=1e-6)


def test_straight_through_value_and_gradients():
    z = jnp.array([-0.9, 0.1, 0.2, 1.2])
    book = jnp.array([-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(quantise.straight_through(z, book), [-1.0, 0.0, 0.0, 1.0])
    w = jnp.array([1.0, 2.0, 3.0, 4.0])
    gz, gc = jax.grad(lambda z, c: jnp.sum(w * quantise.straight_through(z, c)), (0, 1))(z, book)
    np.testing.assert_array_equal(gz, w)  # straight through to z
    np.testing.assert_array_equal(gc, [1.0, 5.0, 4.0])  # summed over each level's coordinates


# --- bounds over a measurement -------------------------------------------------------------

DATA = _images()


@pytest.fixture(scope="module")
def measured():
    return subspace.measure(
        CNN_TASK,
        data=DATA,
        dims=[8, 16],
        seeds=2,
        steps=60,
        batch_size=50,
        optimizer=subspace.Optimizer("adam", 0.05),
        projections="fastfood",
        metric="test_accuracy",
        baseline=None,
        threshold=0.6,
        progress=False,
    )


def test_the_bound_of_every_member_in_one_pass(measured, capsys):
    q = bounds.Quantisation(levels=(3, 5), steps=10, batch_size=50)
    records = bounds.bound_members(measured, CNN_TASK, DATA, quantisation=q, progress=True)
    assert len(records) == 8 and all(r["finite"] for r in records)
    said = capsys.readouterr().out.splitlines()  # finished work, group by group
    assert said[-1].startswith("bounds: fastfood, d <= 16, L = 5: 4 members in ")
    assert said[-1].endswith("(8 of 8 records done)") and "(4 of 8 records done)" in said[-2]
    for r in records:
        assert r["choice_bits"] == 3.0  # 4 members x 2 levels looked at
        assert r["prefix_free_bits"] > r["message_bits"]
        assert r["kl"] == pytest.approx((r["prefix_free_bits"] + 3.0) * math.log(2))
        assert r["train_error"] <= r["bound"] <= 1.0
        assert r["bound"] == pac_bayes.error_bound(r["train_error"], r["kl"] / math.log(2), 500)
    # one member alone gives the same network (only b differs): the batch is exact
    alone = bounds.bound_members(
        _only(measured, 16, 1),
        CNN_TASK,
        DATA,
        quantisation=bounds.Quantisation(5, steps=10, batch_size=50),
    )
    (batched,) = [r for r in records if (r["d"], r["seed"], r["levels"]) == (16, 1, 5)]
    assert alone[0]["train_error"] == batched["train_error"]
    assert alone[0]["message_bits"] == batched["message_bits"]


def test_with_a_level_per_coordinate_the_bound_reads_the_measured_network(measured):
    # L = d levels at 32 bits: k-means puts every coordinate on its own level, so the
    # quantised network is the measured one and ê is its measured training error
    q = bounds.Quantisation(levels=(8,), codebook_bits=32)
    (r,) = bounds.bound_members(_only(measured, 8, 0), CNN_TASK, DATA, quantisation=q)
    (member,) = [m for m in measured.members if (m["d"], m["seed"]) == (8, 0)]
    assert r["train_error"] == pytest.approx(1 - member["train_accuracy"], abs=1e-6)
    assert r["test_error"] == pytest.approx(1 - member["test_accuracy"], abs=1e-6)


def test_after_fine_tuning_the_network_is_on_its_codebook(measured):
    member = measured.member(CNN_TASK, 16, 0)
    book = quantise.kmeans_codebook(member.z, 4)
    symbols, rounded, zq = bounds.quantise_member(member.z, book, 16)
    assert set(np.unique(zq)) <= set(rounded) and len(set(rounded)) <= 4
    np.testing.assert_array_equal(rounded, rounded.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(zq, rounded[symbols])


def test_bad_bound_requests_are_refused_before_any_work(measured):
    with pytest.raises(ValueError, match=r"levels must be at most the largest d \(16\); got 17"):
        bounds.bound_members(measured, CNN_TASK, DATA, quantisation=bounds.Quantisation(17))
    # L = 9 bounds the d = 16 members only, and pays for those two choices
    records = bounds.bound_members(measured, CNN_TASK, DATA, quantisation=bounds.Quantisation(9))
    assert sorted((r["d"], r["seed"]) for r in records) == [(16, 0), (16, 1)]
    assert all(r["choice_bits"] == 1.0 for r in records)
    with pytest.raises(ValueError, match="error_metric must be one of the task's metrics"):
        bounds.bound_members(measured, CNN_TASK, DATA, error_metric="acc")
    with pytest.raises(ValueError, match="codebook must have 2 to d = 3 levels"):
        bounds.quantise_member(np.zeros(3), np.arange(4.0))
    with pytest.raises(ValueError, match="delta"):
        bounds.bound_members(measured, CNN_TASK, DATA, delta=1.5)


def _only(result, d, seed):
    import dataclasses

    members = [m for m in result.members if (m["d"], m["seed"]) == (d, seed)]
    return dataclasses.replace(result, members=members)


def test_the_message_is_the_file_and_reloads_to_the_same_errors(measured, tmp_path):
    q = bounds.Quantisation(levels=(4,), steps=5, batch_size=50)
    records = bounds.bound_members(
        _only(measured, 16, 0), CNN_TASK, DATA, quantisation=q, out=tmp_path
    )
    (r,) = records
    path = tmp_path / r["file"]
    assert r["file"] == "fastfood/d16-s0-L4.npz" and r["file_bytes"] == path.stat().st_size
    header = subspace.compress.compressed_header(path)
    assert header["quantised"]["levels"] == 4 and header["extra"]["bound"]["bound"] == r["bound"]
    like = measured.member(CNN_TASK, 16, 0).model_state
    back = subspace.load_compressed(path, init=lambda k: CNN_TASK.init(k)[0], model_state_like=like)
    assert len(np.unique(np.asarray(back.z))) <= 4
    for split, x, y in (("train", DATA.train_x, DATA.train_y), ("test", DATA.test_x, DATA.test_y)):
        out = CNN_TASK.eval_fn(back.params, back.model_state, (x, y))
        assert 1 - float(np.mean(np.asarray(out["accuracy"]))) == pytest.approx(
            r[f"{split}_error"], abs=1e-6
        )


DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.mark.skipif(
    not (DATASETS / "mnist").is_dir(),
    reason="the offline MNIST files (../shared/datasets/mnist) are absent",
)
@pytest.mark.parametrize("prior, n", [("data", 256)])  # the random θ0's path: in-memory tests
def test_the_bounds_command_smoke_run_on_real_files(tmp_path, capsys, prior, n):
    from experiments import bounds as command

    argv = ["mnist_fc", "--smoke", "--data-dir", str(DATASETS), "--out", str(tmp_path)]
    command.main([*argv, "--prior", prior])
    written = json.loads((tmp_path / "bounds.json").read_text())
    assert written["n"] == n and written["prior"] == prior and written["best"]["levels"] == 3
    assert written["best"]["choice_bits"] == pytest.approx(math.log2(4) + 1)  # 4 members, 1 extra
    assert (tmp_path / "bounds.png").stat().st_size > 0
    best = subspace.compress.compressed_header(tmp_path / "bound_best.npz")
    assert best["quantised"]["levels"] == 3
    assert capsys.readouterr().out.splitlines()[-1].startswith("mnist_fc: error <= ")


@pytest.mark.parametrize(
    "argv, match",
    [
        (
            ["toy"],
            r"error: config must be one of "
            r"\['cifar_fc', 'cifar_lenet', 'mnist_fc', 'mnist_lenet'\]",
        ),
        (["mnist_fc", "--out", "{tmp}"], "no measurement; run python -m experiments.run mnist_fc"),
        (["mnist_fc", "--levels"], "error: unrecognized arguments: --levels"),
    ],
)
def test_the_bounds_command_says_one_error_line(argv, match, tmp_path, capsys):
    from experiments import bounds as command

    with pytest.raises(SystemExit) as exit_:
        command.main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and re.search(match, err)
