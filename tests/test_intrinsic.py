import numpy as np
import pytest

from subspace.intrinsic import d_int, mean_by_d


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


def test_bad_shapes():
    with pytest.raises(ValueError, match="same non-zero length"):
        d_int([1, 2], [0.5], 0.9)
