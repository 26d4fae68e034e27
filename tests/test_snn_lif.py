"""snn.surrogate and snn.lif: the float LIF equations against hand computations."""

import re

import pytest
import torch
from numpy.testing import assert_array_equal
from spikefab.snn import LIF, beta_from_leak_shift, lif_step_float, spike


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


def test_spike_forward_is_heaviside_with_threshold_inclusive():
    x = torch.tensor([-0.5, -1e-6, 0.0, 1e-6, 2.0])
    assert_array_equal(spike(x).numpy(), [0, 0, 1, 1, 1])


def test_spike_surrogate_gradient_is_fast_sigmoid():
    x = torch.tensor([0.0, 0.2, -0.2, 1.0], requires_grad=True)
    spike(x, slope=5.0).sum().backward()
    # 1 / (1 + 5|x|)^2 = 1, 1/4, 1/4, 1/36
    torch.testing.assert_close(x.grad, torch.tensor([1.0, 0.25, 0.25, 1 / 36]))
    with pytest.raises(ValueError, match=exact("slope must be a positive number, not 0")):
        spike(x, slope=0)


def test_beta_from_leak_shift():
    assert beta_from_leak_shift(None) == 1.0
    assert beta_from_leak_shift(0) == 0.0
    assert beta_from_leak_shift(3) == 0.875
    msg = "leak_shift must be None or an integer >= 0, not -1"
    with pytest.raises(ValueError, match=exact(msg)):
        beta_from_leak_shift(-1)


def _run(currents, reset, beta=0.875, theta=1.0):
    v = torch.zeros(1)
    out = []
    for i in currents:
        s, v = lif_step_float(torch.tensor([i]), v, beta=beta, theta=theta, reset=reset)
        out.append((float(s), float(v)))
    return out


def test_lif_step_float_subtract_by_hand():
    # dyadic values: every product is exact in float32
    # v1 = 0.625; v2 = 0.875*0.625 + 0.625 = 1.171875 >= 1 -> spike, v = 0.171875
    # v3 = 0.875*0.171875 = 0.150390625; v4 = 0.875*v3 + 1.0 = 1.131591796875 -> 0.131591796875
    assert _run([0.625, 0.625, 0.0, 1.0], "subtract") == [
        (0.0, 0.625), (1.0, 0.171875), (0.0, 0.150390625), (1.0, 0.131591796875)]


def test_lif_step_float_zero_reset_and_no_leak_by_hand():
    assert _run([0.625, 0.625, 0.5], "zero") == [(0.0, 0.625), (1.0, 0.0), (0.0, 0.5)]
    # beta = 1 (IF), theta 2: 1.5, 3.0 -> spike -> 1.0, then -0.5 -> 0.5
    assert _run([1.5, 1.5, -0.5], "subtract", beta=1.0, theta=2.0) == [
        (0.0, 1.5), (1.0, 1.0), (0.0, 0.5)]
    # v exactly at threshold fires (v >= theta)
    assert _run([1.0], "subtract") == [(1.0, 0.0)]


def test_lif_module_wraps_the_function():
    lif = LIF(leak_shift=1, theta=0.5, reset="zero")
    s, v = lif(torch.tensor([0.25, 0.5, 1.0]))
    assert_array_equal(s.numpy(), [0, 1, 1])
    assert_array_equal(v.numpy(), [0.25, 0, 0])
    s, v = lif(torch.tensor([0.25, 0.0, 0.0]), v)  # 0.5 * 0.25 + 0.25 = 0.375
    assert_array_equal(v.numpy(), [0.375, 0, 0])
    assert "leak_shift=1" in repr(lif)


def test_bad_neuron_arguments():
    with pytest.raises(ValueError, match=exact("LIF theta must be a positive number, not 0")):
        LIF(theta=0)
    with pytest.raises(
        ValueError, match=exact("LIF reset must be one of 'subtract', 'zero', "
                                "'subtract-delayed', not 'hard'")
    ):
        LIF(reset="hard")
    with pytest.raises(
        ValueError, match=exact("LIF leak_shift must be None or an integer >= 0, not 1.5")
    ):
        LIF(leak_shift=1.5)
    with pytest.raises(
        ValueError,
        match=exact("lif_step_float reset must be one of 'subtract', 'zero', not 'none'"),
    ):
        lif_step_float(torch.zeros(1), torch.zeros(1), beta=1.0, theta=1.0, reset="none")
