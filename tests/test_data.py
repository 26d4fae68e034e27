"""data/: datasets, splits and input encoders."""

import re

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from spikefab.data import (
    decode_direct,
    encode_direct,
    encode_rate,
    from_arrays,
    load_dataset,
    quantize_input,
)


def exact(message: str) -> str:
    """Regex matching exactly ``message`` (the whole one-line error)."""
    return "^" + re.escape(message) + "$"


def test_digits_split_sizes_ranges_and_stratification():
    ds = load_dataset("digits")
    assert ds.x_train.shape == (1437, 64) and ds.x_test.shape == (360, 64)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert ds.meta["n_classes"] == 10 and ds.meta["image_shape"] == [8, 8]
    # stratified: every class keeps ~20% of its samples in the test half
    counts = np.bincount(ds.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    # sklearn digits pixels are 0..16: every train value is a multiple of 1/16
    assert_array_equal(ds.x_train * 16, np.round(ds.x_train * 16))


def test_digits_split_is_deterministic_and_depends_on_seed():
    a, b, c = load_dataset("digits"), load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    assert_array_equal(a.x_train, b.x_train)
    assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_test, c.y_test)


def test_mnist5k_is_shuffled_with_a_fixed_seed():
    ds = load_dataset("mnist5k")
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() == 1.0
    # the raw file is sorted by class; after the shuffle the first 50 labels are mixed
    assert len(set(ds.y_train[:50].tolist())) >= 8
    assert np.bincount(ds.y_test, minlength=10).min() >= 70
    assert_array_equal(ds.y_train, load_dataset("mnist5k", seed=0).y_train)


def test_bad_dataset_arguments():
    with pytest.raises(
        ValueError,
        match=exact("dataset name must be one of 'digits', 'mnist5k', not 'cifar'"),
    ):
        load_dataset("cifar")
    with pytest.raises(ValueError, match=exact("seed must be a non-negative integer, not -1")):
        load_dataset("digits", seed=-1)


def test_encode_direct_exact_integers_and_ties_to_even():
    # 4 bits: x * 15; 1/30 * 15 = 0.5 -> 0, 0.1 * 15 = 1.5 -> 2, 1 -> 15
    x = np.array([[0.0, 1 / 30, 0.1, 0.5, 1.0]])
    assert_array_equal(encode_direct(x, 4), [[0, 0, 2, 8, 15]])
    assert encode_direct(x, 4).dtype == np.int64
    assert_array_equal(encode_direct(np.array([0.0, 1.0]), 1), [0, 1])


def test_decode_direct_is_what_the_float_model_sees():
    x_int = np.arange(16)
    assert_array_equal(decode_direct(x_int, 4), (np.arange(16) / 15).astype(np.float32))
    x = load_dataset("digits").x_test
    q = quantize_input(x, 4)
    assert_array_equal(encode_direct(q, 4), encode_direct(x, 4))  # idempotent round trip
    assert q.dtype == np.float32


def test_encoder_errors():
    with pytest.raises(ValueError, match=exact("in_bits must be an integer in [1, 16], not 0")):
        encode_direct(np.zeros(3), 0)
    with pytest.raises(ValueError, match=exact("x values must lie in [0, 1], not [0.0, 2.0]")):
        encode_direct(np.array([0.0, 2.0]), 4)
    with pytest.raises(TypeError, match=exact("x_int must hold integers, not dtype float64")):
        decode_direct(np.zeros(2), 4)
    msg = "x_int values must lie in [0, 15], not [0, 16]"
    with pytest.raises(ValueError, match=exact(msg)):
        decode_direct(np.array([0, 16]), 4)
    with pytest.raises(ValueError, match=exact("timesteps must be an integer in [1, 1024], not 0")):
        encode_rate(np.zeros((2, 3)), 0)
    with pytest.raises(ValueError, match=exact("x must have shape [B, n_in], not [3]")):
        encode_rate(np.zeros(3), 4)


def test_encode_rate_seeded_bernoulli():
    x = np.tile(np.array([0.0, 0.25, 1.0]), (2000, 1))
    s = encode_rate(x, 4, seed=3)
    assert s.shape == (4, 2000, 3) and s.dtype == np.uint8
    assert_array_equal(s, encode_rate(x, 4, seed=3))
    assert not np.array_equal(s, encode_rate(x, 4, seed=4))
    assert s[..., 0].sum() == 0 and s[..., 2].min() == 1
    assert abs(s[..., 1].mean() - 0.25) < 0.02  # 8000 draws: std 0.005


def test_from_arrays_split_and_errors():
    rng = np.random.default_rng(0)
    x, y = rng.random((50, 4)), np.repeat(np.arange(5), 10)
    ds = from_arrays(x, y, seed=1)
    assert ds.x_train.shape == (40, 4) and ds.x_test.shape == (10, 4)
    assert_array_equal(np.bincount(ds.y_test), [2] * 5)
    assert ds.meta["name"] == "user"
    with pytest.raises(ValueError, match=exact("y must have shape [50], not [49]")):
        from_arrays(x, y[:49])
    with pytest.raises(ValueError, match=exact("x values must lie in [0, 1], not [0.0, 3.0]")):
        from_arrays(np.array([[0.0], [3.0]]), np.array([0, 1]))
    with pytest.raises(ValueError, match=exact("test_fraction must be a float in (0, 1), not 1.5")):
        from_arrays(x, y, test_fraction=1.5)
