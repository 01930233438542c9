import numpy as np
import pytest

from subspace import intrinsic
from subspace.intrinsic import bootstrap_d_int, d_int, mean_by_d
from subspace.search import bracket, refine_dims, search


def test_first_grid_d_whose_mean_reaches_and_interpolation():
    ds = [10, 10, 20, 20, 40, 40]
    acc = [0.5, 0.7, 0.8, 0.84, 0.95, 0.93]  # means 0.6, 0.82, 0.94
    r = d_int(ds, acc, 0.9)
    assert r.d == 40
    assert r.interpolated == pytest.approx(20 + (0.9 - 0.82) / (0.94 - 0.82) * 20)
    assert d_int(ds, acc, 0.5).d == 10 and d_int(ds, acc, 0.5).interpolated == 10
    assert d_int(ds, acc, 0.99).d is None


def test_lower_is_better_and_diverged_members():
    ds = [1, 1, 2, 2, 3, 3]
    loss = [1.0, 1.0, 1e-9, np.nan, 1e-9, 1e-10]
    r = d_int(ds, loss, 1e-7, higher_is_better=False)
    assert r.d == 3  # d = 2 has a diverged seed: its mean is NaN, it does not count
    grid, mean = mean_by_d(ds, loss)
    np.testing.assert_array_equal(grid, [1, 2, 3])
    assert np.isnan(mean[1])


def test_no_interpolation_from_a_diverged_grid_point():
    # d = 2 misses only because a seed diverged: there is no finite value to interpolate
    # from, so the interpolated d_int is the grid value, in d_int and in every resample.
    ds = [1, 1, 2, 2, 3, 3]
    loss = [1.0, 1.0, np.nan, np.nan, 1e-9, 1e-10]
    assert d_int(ds, loss, 1e-7, higher_is_better=False) == (3, 3.0, 1e-7)
    assert bootstrap_d_int(ds, loss, 1e-7, higher_is_better=False) == (3.0, 3.0)


def test_bad_shapes():
    with pytest.raises(ValueError, match="same non-zero length"):
        d_int([1, 2], [0.5], 0.9)


# --- bootstrap over seeds ---


def _noisy_sweep(seeds=5):
    """Accuracy rising with d, seed noise of 0.02; the mean crosses 0.9 between 20 and 40."""
    rng = np.random.default_rng(123)
    grid = np.array([5, 10, 20, 40, 80])
    level = np.array([0.3, 0.6, 0.85, 0.95, 0.97])
    ds = np.repeat(grid, seeds)
    values = np.repeat(level, seeds) + 0.02 * rng.standard_normal(ds.size)
    return ds, values


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_bootstrap_replicates_equal_d_int_of_each_resample(higher_is_better):
    ds, values = _noisy_sweep(seeds=3)
    if not higher_is_better:
        values = 1.0 - values
    values[4] = np.nan  # a diverged member at d = 10: resamples that keep it miss there
    threshold = 0.9 if higher_is_better else 0.1
    n_boot = 200
    got = intrinsic._bootstrap_replicates(
        ds, values, threshold, higher_is_better=higher_is_better, n_boot=n_boot, seed=7
    )
    # Slow reference: the same index draws, then d_int of each resampled sweep.
    rng = np.random.default_rng(7)
    grid = np.unique(ds)
    draws = [values[ds == d][rng.integers(0, 3, size=(n_boot, 3))] for d in grid]
    want = []
    for b in range(n_boot):
        r = d_int(
            np.repeat(grid, 3),
            np.concatenate([v[b] for v in draws]),
            threshold,
            higher_is_better=higher_is_better,
        )
        want.append(np.inf if r.interpolated is None else r.interpolated)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.unique(got).size > 5  # the resamples really differ


def test_bootstrap_is_deterministic_for_a_seed():
    ds, values = _noisy_sweep()
    a = bootstrap_d_int(ds, values, 0.9, seed=3)
    assert a == bootstrap_d_int(ds, values, 0.9, seed=3)
    assert a != bootstrap_d_int(ds, values, 0.9, seed=4)


def test_bootstrap_interval_contains_the_point_estimate():
    ds, values = _noisy_sweep()
    point = d_int(ds, values, 0.9).interpolated
    lo, hi = bootstrap_d_int(ds, values, 0.9, n_boot=2000, level=0.9)
    assert 20 < lo < point < hi < 40
    lo50, hi50 = bootstrap_d_int(ds, values, 0.9, n_boot=2000, level=0.5)
    assert lo <= lo50 <= point <= hi50 <= hi and hi50 - lo50 < hi - lo


def test_bootstrap_without_seed_variance_collapses_to_the_point():
    ds = [1, 1, 1, 2, 2, 2, 4, 4, 4]
    acc = [0.2] * 3 + [0.6] * 3 + [1.0] * 3
    point = d_int(ds, acc, 0.9).interpolated
    assert point == pytest.approx(2 + (0.9 - 0.6) / 0.4 * 2)
    assert bootstrap_d_int(ds, acc, 0.9) == (point, point)


def test_bootstrap_resamples_that_never_reach_make_the_upper_end_infinite():
    # Only d = 2 reaches (mean 2/3 >= 0.6); a resample with <= 1 of its 3 seeds at 1.0
    # (probability 7/27) never reaches, which is more than the 5% above the interval.
    ds = [1, 1, 1, 2, 2, 2]
    acc = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    assert d_int(ds, acc, 0.6).interpolated == pytest.approx(1.9)
    lo, hi = bootstrap_d_int(ds, acc, 0.6)
    assert hi == np.inf
    assert lo == pytest.approx(1.6)  # all three seeds at 1.0: 1 + 0.6 / 1.0
    # Nothing ever reaches: the whole interval is infinite.
    assert bootstrap_d_int(ds, acc, 1.5) == (np.inf, np.inf)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_boot=0), ValueError, "n_boot must be an integer >= 1"),
        (dict(n_boot=10.0), TypeError, "n_boot"),
        (dict(level=1.0), ValueError, r"level must be in \(0, 1\)"),
        (dict(threshold=np.nan), ValueError, "threshold must be a finite"),
    ],
)
def test_bootstrap_argument_checks(kwargs, error, match):
    args = dict(threshold=0.5) | kwargs
    with pytest.raises(error, match=match):
        bootstrap_d_int([1, 2], [0.0, 1.0], **args)


# --- K-section refinement ---


@pytest.mark.parametrize(
    "lo, hi, k, want",
    [
        (8, 16, 4, [10, 11, 13, 14]),  # 9.6, 11.2, 12.8, 14.4
        (8, 16, 1, [12]),  # bisection
        (8, 10, 4, [9]),  # fewer integers inside than k
        (32, 38, 4, [33, 34, 36, 37]),
        (9, 10, 4, []),  # adjacent
        (1, 6, 4, [2, 3, 4, 5]),  # exactly k inside
    ],
)
def test_refine_dims(lo, hi, k, want):
    assert refine_dims(lo, hi, k) == want


def test_refine_dims_points_are_unique_inside_and_as_many_as_possible():
    for lo in range(1, 30):
        for hi in range(lo + 1, 80):
            for k in (1, 2, 3, 4, 7):
                got = refine_dims(lo, hi, k)
                assert got == sorted(set(got))
                assert all(lo < d < hi for d in got)
                assert len(got) == min(k, hi - lo - 1)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((8, 16, 0), ValueError, "k must be an integer >= 1"),
        ((8, 16, 2.0), TypeError, "k must be an integer"),
        ((16, 8, 2), ValueError, "need lo < hi"),
        ((0, 8, 2), ValueError, "lo must be an integer >= 1"),
    ],
)
def test_refine_dims_argument_checks(args, error, match):
    with pytest.raises(error, match=match):
        refine_dims(*args)


def test_bracket():
    ds = [2, 2, 4, 4, 8, 8, 16, 16]
    acc = [0.1, 0.1, 0.3, 0.5, 0.8, 1.0, 1.0, 1.0]  # means 0.1, 0.4, 0.9, 1.0
    assert bracket(ds, acc, 0.85) == (4, 8)
    assert bracket(ds, acc, 0.95) == (8, 16)
    assert bracket(ds, acc, 0.05) is None  # the smallest d already reaches
    assert bracket(ds, acc, 1.01) is None  # nothing reaches
    loss = [1.0 - a for a in acc]
    assert bracket(ds, loss, 0.15, higher_is_better=False) == (4, 8)
    # A diverged seed makes d = 8 miss; the bracket moves up.
    assert bracket(ds, [*acc[:4], np.nan, *acc[5:]], 0.85) == (8, 16)


# --- search ---


class _Recorder:
    """A fake ``train``: the metric of each d for every seed; fails on any d seen before."""

    def __init__(self, metric, seeds=2):
        self.metric, self.seeds, self.calls = metric, seeds, []

    def __call__(self, dims):
        seen = {d for call in self.calls for d in call}
        assert not seen.intersection(dims), f"retrained {sorted(seen.intersection(dims))}"
        self.calls.append(list(dims))
        ds = [d for d in dims for _ in range(self.seeds)]
        return ds, [self.metric(d, s) for d, s in zip(ds, range(len(ds)), strict=True)]


def test_search_step_metric_lands_exactly_on_the_step():
    train = _Recorder(lambda d, s: 1.0 if d >= 10 else 0.0)
    r = search(train, [2, 4, 8, 16, 32], 0.5)
    assert r.d_int.d == 10 and r.bracket == (9, 10) and r.stopped == "tight"
    assert r.d_int.interpolated == pytest.approx(9.5)
    assert r.rounds == ((2, 4, 8, 16, 32), (10, 11, 13, 14), (9,))
    assert [list(x) for x in r.rounds] == train.calls
    np.testing.assert_array_equal(np.unique(r.ds), [2, 4, 8, 9, 10, 11, 13, 14, 16, 32])
    assert r.ds.size == r.values.size == 2 * 10  # every member of every round, two seeds


def test_search_lower_is_better():
    train = _Recorder(lambda d, s: 1.0 if d < 37 else 1e-9)
    r = search(train, [2, 4, 8, 16, 32, 64], 1e-7, higher_is_better=False)
    assert r.d_int.d == 37 and r.bracket == (36, 37) and r.stopped == "tight"
    assert r.rounds[1:] == ((38, 45, 51, 58), (33, 34, 36, 37))


@pytest.mark.parametrize("k", [1, 2, 4, 9])
def test_search_finds_the_step_for_any_k(k):
    r = search(_Recorder(lambda d, s: float(d >= 23)), [1, 1000], 0.5, k=k)
    assert r.d_int.d == 23 and r.bracket == (22, 23)


def test_search_smooth_metric_stops_on_the_relative_rule():
    # Mean accuracy 1 - exp(-d / 50) (seeds ±0.001) crosses 0.9 at d = 50 ln 10 ≈ 115.13.
    train = _Recorder(lambda d, s: 1 - np.exp(-d / 50) + (0.001 if s % 2 else -0.001))
    r = search(train, [2, 4, 8, 16, 32, 64, 128, 256], 0.9)
    lo, hi = r.bracket
    assert r.stopped == "tight" and r.rounds[1:] == ((77, 90, 102, 115), (118, 120, 123, 125))
    assert (lo, hi) == (115, 118) and r.d_int.d == 118
    assert 1 < hi - lo <= 0.05 * hi  # stopped on the 5% rule, not on adjacent integers
    assert lo < 50 * np.log(10) < hi
    assert r.d_int.interpolated == pytest.approx(50 * np.log(10), abs=0.1)
    # The bracket before the last round was not yet tight.
    assert not 128 - 115 <= 0.05 * 128
    # A looser tolerance stops a round earlier.
    assert len(search(_Recorder(train.metric), train.calls[0], 0.9, rel_tol=0.15).rounds) == 2


def test_search_without_a_bracket_stops_after_the_coarse_round():
    never = search(_Recorder(lambda d, s: 0.0), [2, 4, 8], 0.5)
    assert never.d_int.d is None and never.bracket is None and never.stopped == "no_bracket"
    assert len(never.rounds) == 1
    first = search(_Recorder(lambda d, s: 1.0), [2, 4, 8], 0.5)
    assert first.d_int.d == 2 and first.bracket is None and first.stopped == "no_bracket"


def test_search_stops_at_max_rounds():
    train = _Recorder(lambda d, s: float(d >= 10))
    r = search(train, [2, 4, 8, 16, 32], 0.5, max_rounds=2)
    assert r.stopped == "max_rounds" and len(train.calls) == 2
    assert r.bracket == (8, 10) and r.d_int.d == 10


def test_search_sorts_and_deduplicates_coarse_dims():
    train = _Recorder(lambda d, s: float(d >= 10))
    assert search(train, [32, 2, 8, 8, 16, 4], 0.5).rounds[0] == (2, 4, 8, 16, 32)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(k=0), ValueError, "k must be an integer >= 1"),
        (dict(rel_tol=0.0), ValueError, r"rel_tol must be in \(0, 1\)"),
        (dict(rel_tol=1.0), ValueError, r"rel_tol must be in \(0, 1\)"),
        (dict(threshold=np.inf), ValueError, "threshold must be a finite"),
        (dict(threshold="0.5"), TypeError, "threshold must be a finite"),
        (dict(max_rounds=0), ValueError, "max_rounds must be an integer >= 1"),
        (dict(coarse_dims=[]), ValueError, "coarse_dims must be a non-empty"),
        (dict(coarse_dims=[2, 0]), ValueError, "coarse_dims must hold positive integers"),
        (dict(coarse_dims=[2, 4.0]), TypeError, "coarse_dims must hold positive integers"),
        (dict(coarse_dims=8), TypeError, "coarse_dims must be a sequence"),
        (dict(higher_is_better=None), TypeError, "higher_is_better must be a bool"),
    ],
)
def test_search_argument_checks_come_before_any_training(kwargs, error, match):
    train = _Recorder(lambda d, s: 1.0)
    args = dict(coarse_dims=[2, 4, 8], threshold=0.5) | kwargs
    with pytest.raises(error, match=match):
        search(train, **args)
    assert train.calls == []


def test_search_refuses_a_train_that_returns_other_dims():
    with pytest.raises(ValueError, match="exactly the requested dims"):
        search(lambda dims: ([d + 1 for d in dims], [1.0] * len(dims)), [2, 4], 0.5)
    with pytest.raises(TypeError, match="train must be callable"):
        search(None, [2, 4], 0.5)
