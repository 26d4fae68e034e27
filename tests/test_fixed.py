"""fixed.py: saturation, floor shift, rounding and widths."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from spikefab.fixed import (
    dense_bounds,
    floor_shift,
    quantize,
    round_half_even,
    sat,
    signed_width,
    smax,
    smin,
    unsigned_width,
)


def test_ranges():
    assert (smin(8), smax(8)) == (-128, 127)
    assert (smin(2), smax(2)) == (-2, 1)


def test_sat_both_rails_and_scalars():
    assert_array_equal(sat(np.array([-200, -128, 0, 127, 300]), 8), [-128, -128, 0, 127, 127])
    assert sat(1000, 4) == 7 and sat(-1000, 4) == -8
    assert sat(np.int64(9), 4) == 7


def test_floor_shift_rounds_toward_minus_infinity():
    assert_array_equal(floor_shift(np.array([-5, -4, -3, -1, 0, 1, 3, 5]), 1),
                       [-3, -2, -2, -1, 0, 0, 1, 2])
    assert floor_shift(-1, 4) == -1


def test_round_half_even_and_quantize():
    assert_array_equal(round_half_even(np.array([0.5, 1.5, 2.5, -0.5, -1.5])), [0, 2, 2, 0, -2])
    assert_array_equal(quantize(np.array([0.1, -3.0, 2.0]), 100.0, 8), [10, -128, 127])


def test_widths():
    assert signed_width(-128, 127) == 8
    assert signed_width(-129, 0) == 9
    assert signed_width(0, 128) == 9
    assert signed_width(0, 0) == 1
    assert unsigned_width(15) == 4 and unsigned_width(0) == 1
    with pytest.raises(ValueError, match=r"^signed_width range is empty: lo=2 > hi=1$"):
        signed_width(2, 1)


def test_dense_bounds_exact():
    w = np.array([[1, -2, 3], [-4, 0, 5]])
    b = np.array([1, -1])
    lo, hi = dense_bounds(w, b, 3)
    # Brute force over every input in [0, 3]^3.
    grid = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3)
    currents = grid @ w.T + b
    assert (lo, hi) == (currents.min(), currents.max())
