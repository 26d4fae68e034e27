"""export.export_ptq: exact integers for known weights, membrane bounds, errors, and the
honest accuracy report on a trained model."""

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from spikefab.data import encode_direct, encode_rate
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.quant.ptq import export_ptq, membrane_bounds
from spikefab.snn import SpikingMLP
from spikefab.spec import LIFSpec
from spikefab.train import TrainConfig, fit


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


def known_model() -> SpikingMLP:
    """Dyadic weights: every product export computes is exact, so ties are real ties."""
    m = SpikingMLP((4, 3, 2), timesteps=3, leak_shift=2, theta=1.0)
    w0 = 3 / 256 * torch.tensor([[254, 1, 3, -5], [-254, 0, 2, 7], [10, -1, -3, 20]])
    b0 = torch.tensor([0.5, -0.25, 1 / 256])
    w1 = torch.tensor([[127 / 64, -1 / 128, 3 / 128], [1.0, -1.0, 5 / 128]])
    b1 = torch.tensor([1000.0, -2.0])
    with torch.no_grad():
        for fc, w, b in zip(m.fcs, (w0, w1), (b0, b1), strict=True):
            fc.weight.copy_(w)
            fc.bias.copy_(b)
    return m


def test_known_weights_give_exact_integers():
    # layer 0: direct in_bits=2 -> W_eff = W / 3, max |W_eff| = 127/128 -> scale 128
    #   W_eff * 128 = [[127, .5, 1.5, -2.5], [-127, 0, 1, 3.5], [5, -.5, -1.5, 10]] (ties to even)
    # layer 1 (readout): max |W| = 127/64 -> scale 64; bias 64000 saturates at 8 bits
    net = export_ptq(known_model(), w_bits=8, b_bits=8, v_bits=None, in_bits=2)
    assert_array_equal(net.weights[0], [[127, 0, 2, -2], [-127, 0, 1, 4], [5, 0, -2, 10]])
    assert_array_equal(net.biases[0], [64, -32, 0])
    assert_array_equal(net.weights[1], [[127, 0, 2], [64, -64, 2]])
    assert_array_equal(net.biases[1], [127, -128])
    neuron = net.spec.layers[0].neuron
    assert (neuron.theta, neuron.leak_shift, neuron.reset) == (128, 2, "subtract")
    # currents in [-413, 451]; by hand over 3 steps the membrane reaches [-954, 876]: 11 bits
    assert net.current_bounds(0) == (-413, 451)
    assert net.meta["membrane_bounds"] == [[-954, 876]] and neuron.v_bits == 11
    assert net.meta["scales"] == [128.0, 64.0]
    assert net.meta["bias_clipped"] == [0, 1]
    assert (net.spec.encoding, net.spec.in_bits, net.spec.timesteps) == ("direct", 2, 3)
    assert net.spec.layers[1].neuron is None


def test_membrane_width_is_checked_and_named():
    msg = ("export_ptq layer 0 membrane can reach [-954, 876] in 3 steps, which needs "
           "v_bits >= 11, not 10 (raise v_bits or lower w_bits)")
    with pytest.raises(ValueError, match=exact(msg)):
        export_ptq(known_model(), b_bits=8, v_bits=10, in_bits=2)
    net = export_ptq(known_model(), b_bits=8, v_bits=10, in_bits=2, allow_saturation=True)
    assert net.spec.layers[0].neuron.v_bits == 10 and net.meta["v_bits_needed"] == [11]
    msg = ("export_ptq layer 0 threshold round(1.0 * 128) = 128 does not fit v_bits=8 "
           "(allowed [1, 127])")
    with pytest.raises(ValueError, match=exact(msg)):
        export_ptq(known_model(), b_bits=8, v_bits=8, in_bits=2)


def test_membrane_bounds_single_step_is_the_current_range():
    spec = LIFSpec(v_bits=32, theta=5, leak_shift=1)
    assert membrane_bounds(-7, 9, spec, 1) == (-7, 9)


@settings(max_examples=60, deadline=None)
@given(
    lo=st.integers(-300, 0), hi=st.integers(0, 300), theta=st.integers(1, 200),
    leak=st.one_of(st.none(), st.integers(0, 5)), reset=st.sampled_from(["subtract", "zero"]),
    T=st.integers(1, 8), seed=st.integers(0, 2**32 - 1),
)
def test_membrane_bounds_hold_for_any_current_sequence(lo, hi, theta, leak, reset, T, seed):
    spec = LIFSpec(v_bits=32, theta=theta, leak_shift=leak, reset=reset)
    m_lo, m_hi = membrane_bounds(lo, hi, spec, T)
    rng = np.random.default_rng(seed)
    # extremes and random currents, 64 sequences at once
    cur = rng.choice([lo, hi, 0], size=(T, 64))
    cur[:, 32:] = rng.integers(lo, hi + 1, size=(T, 32))
    v = np.zeros(64, np.int64)
    for t in range(T):
        v = v - (0 if leak is None else v >> leak) + cur[t]
        assert v.min() >= m_lo and v.max() <= m_hi
        s = v >= theta
        v = v - theta * s if reset == "subtract" else np.where(s, 0, v)


@pytest.fixture(scope="module")
def trained():
    return fit(TrainConfig(hidden=(48,), epochs=10))


def test_trained_export_reports_accuracy_honestly(trained, tmp_path):
    ds = trained.dataset
    net = export_ptq(trained.model, v_bits=None, calib_x=ds.x_test, calib_y=ds.y_test)
    meta = net.meta
    # float accuracy in meta is the fit's own test accuracy (same quantised inputs)
    assert meta["float_acc"] == trained.float_acc and meta["n_calib"] == 360
    # golden accuracy recomputed independently from the saved IR
    loaded = QuantizedNetwork.load(net.save(tmp_path / "ptq"))
    pred = run_network(loaded, encode_direct(ds.x_test, 4)).prediction
    assert meta["golden_acc"] == float((pred == ds.y_test).mean())
    assert abs(meta["golden_acc"] - meta["float_acc"]) <= 0.03
    assert meta["agreement"] >= 0.95
    assert trained.float_acc > 0.9


def test_few_bits_lose_accuracy_and_say_so(trained):
    ds = trained.dataset
    net = export_ptq(trained.model, w_bits=2, v_bits=None, calib_x=ds.x_test, calib_y=ds.y_test)
    assert int(np.abs(net.weights[0]).max()) == 1  # 2-bit weights: -2..1, largest magnitude 1
    pred = run_network(net, encode_direct(ds.x_test, 4)).prediction
    assert net.meta["golden_acc"] == float((pred == ds.y_test).mean())
    assert net.meta["golden_acc"] < net.meta["float_acc"]


def test_spike_encoding_export_and_calibration():
    torch.manual_seed(0)
    model = SpikingMLP((6, 5, 3), timesteps=4)
    rng = np.random.default_rng(0)
    x = encode_rate(rng.random((30, 6)), 4, seed=1)
    y = rng.integers(0, 3, 30)
    net = export_ptq(model, encoding="spikes", v_bits=24, calib_x=x, calib_y=y)
    assert (net.spec.encoding, net.spec.in_bits) == ("spikes", 1)
    assert int(np.abs(net.weights[0]).max()) == 127
    pred = run_network(net, x).prediction
    assert net.meta["golden_acc"] == float((pred == y).mean())
    float_pred = model(torch.from_numpy(x.astype(np.float32))).sum(0).argmax(1).numpy()
    assert net.meta["agreement"] == float((float_pred == pred).mean())
    with pytest.raises(ValueError, match=exact("export_ptq calib_x spikes must be 0 or 1")):
        export_ptq(model, encoding="spikes", v_bits=24, calib_x=x * 2)


def test_bad_arguments():
    m = known_model()
    cases = [
        (dict(w_bits=1), "export_ptq w_bits must be an integer in [2, 16], not 1"),
        (dict(b_bits=40), "export_ptq b_bits must be an integer in [2, 32], not 40"),
        (dict(v_bits=True), "export_ptq v_bits must be an integer in [2, 32], not True"),
        (dict(in_bits=0), "export_ptq in_bits must be an integer in [1, 16], not 0"),
        (dict(encoding="rate"),
         "export_ptq encoding must be one of 'spikes', 'direct', not 'rate'"),
        (dict(encoding="spikes", in_bits=4),
         "export_ptq in_bits must be 1 when encoding is 'spikes', not 4"),
        (dict(calib_y=[0]), "export_ptq calib_y needs calib_x"),
        (dict(calib_x=np.zeros((2, 5))), "export_ptq calib_x must have shape [N, 4], not [2, 5]"),
        (dict(calib_x=np.zeros((2, 4)), calib_y=np.zeros(3, int)),
         "export_ptq calib_y must be [2] integer labels, not [3]"),
    ]
    for kwargs, msg in cases:
        with pytest.raises(ValueError, match=exact(msg)):
            export_ptq(m, **{"v_bits": None, **kwargs})
    with pytest.raises(TypeError, match=exact("export_ptq model must be a SpikingMLP or a "
                                              "SpikingCNN, not Linear")):
        export_ptq(torch.nn.Linear(2, 2))
    with torch.no_grad():
        m.fcs[1].weight.zero_()
    msg = "export_ptq layer 1 has all-zero weights; no scale can be chosen"
    with pytest.raises(ValueError, match=exact(msg)):
        export_ptq(m, v_bits=None, in_bits=2)
    with torch.no_grad():
        m.fcs[0].bias[0] = float("nan")
    with pytest.raises(
        ValueError, match=exact("export_ptq layer 0 has non-finite weights or biases")
    ):
        export_ptq(m)
