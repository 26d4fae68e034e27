"""The QAT model with conv layers (extension conv2d) == golden, bit for bit.

Hypothesis draws conv networks — one or two conv layers with any kernel, stride, padding and
pool, maybe a dense hidden layer, a current or spiking readout, every neuron mode on every
spiking layer, direct or spike input — and the QAT forward pass must equal
``golden.run_network`` on every spike, exposed membrane, synaptic current, logit and
prediction; ``export_qat`` must give the same network back.
"""

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.snn.qlif import EXTENSIONS
from spikefab.snn.qmlp import QSpikingMLP
from spikefab.spec import ConvSpec, LayerSpec, LIFSpec, NetworkSpec
from test_qat_extensions import _same, neurons
from test_qat_golden import assert_export_gives_back

from conftest import vectors_within


@st.composite
def conv_cases(draw):
    encoding = draw(st.sampled_from(["direct", "spikes"]))
    in_bits = draw(st.integers(1, 8)) if encoding == "direct" else 1
    readout = draw(st.sampled_from(["current", "spikes"]))
    c, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    n_in = c * h * w
    layers, n = [], n_in
    for _ in range(draw(st.integers(1, 2))):
        k = draw(st.integers(1, 3))
        p = draw(st.integers(0, k - 1))
        if k > min(h, w) + 2 * p:
            p = k - 1
        s = draw(st.integers(1, 3))
        oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        conv = ConvSpec(c, h, w, draw(st.integers(1, 3)), k, s, p,
                        pool=draw(st.integers(1, min(3, oh, ow))))
        layers.append(LayerSpec(n, conv.n_out, w_bits=draw(st.integers(2, 8)),
                                b_bits=draw(st.integers(2, 12)), neuron=draw(neurons()),
                                conv=conv))
        c, (h, w), n = conv.out_channels, conv.pooled_hw, conv.n_pooled
    for _ in range(draw(st.integers(0, 1))):
        m = draw(st.integers(1, 5))
        layers.append(LayerSpec(n, m, w_bits=draw(st.integers(2, 8)),
                                b_bits=draw(st.integers(2, 12)), neuron=draw(neurons())))
        n = m
    layers.append(LayerSpec(n, draw(st.integers(1, 4)), w_bits=draw(st.integers(2, 8)),
                            b_bits=draw(st.integers(2, 12)),
                            neuron=draw(neurons()) if readout == "spikes" else None))
    T = draw(st.integers(1, 5))
    spec = NetworkSpec(tuple(layers), timesteps=T, encoding=encoding, in_bits=in_bits,
                       readout=readout)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ws = [rng.integers(-(2 ** (ly.w_bits - 1)), 2 ** (ly.w_bits - 1), ly.weight_shape)
          for ly in layers]
    bs = [rng.integers(-(2 ** (ly.b_bits - 1)), 2 ** (ly.b_bits - 1), ly.bias_shape)
          for ly in layers]
    batch = draw(st.integers(1, 4))
    if encoding == "direct":
        x = rng.integers(0, 2**in_bits, (batch, n_in))
    else:
        x = (rng.random((T, batch, n_in)) < rng.random()).astype(np.int64)
    return QuantizedNetwork(spec, ws, bs), x


@settings(max_examples=150, deadline=None)
@given(conv_cases())
def test_qat_equals_golden_on_random_conv_networks(case):
    net, x = case
    assert "conv2d" in net.spec.semantics
    _same(net, x)


@settings(max_examples=60, deadline=None)
@given(conv_cases())
def test_export_gives_the_conv_network_back(case):
    assert_export_gives_back(case[0])


def test_the_conv_vector_runs_in_qat():
    """The hand-derived conv vector (direct input, pooling, spike readout) is among those
    QAT reproduces (test_qat_golden runs them all); check its spikes here by name too."""
    v = next(v for v in vectors_within("network", EXTENSIONS)
             if v["name"] == "net_conv_pool_spike_readout")
    got = QSpikingMLP.from_ir(v["net"]).forward_int(torch.from_numpy(v["input"]))
    for a, b in zip(got.spikes, v["spikes"], strict=True):
        assert_array_equal(a, b)
    for a, b in zip(got.membranes, v["membranes"], strict=True):
        assert_array_equal(a, b)
    assert_array_equal(got.prediction, v["prediction"])


def test_hidden_spikes_are_pooled_images():
    """``forward(return_hidden=True)`` gives a conv layer's pooled spikes as [T, B, C, H, W]
    (what SAMD and TSSD read from a SpikingCNN), equal to golden's spikes pooled."""
    conv = ConvSpec(1, 6, 6, 2, 3, padding=1, pool=2)
    spec = NetworkSpec((LayerSpec(36, 72, neuron=LIFSpec(v_bits=10, theta=20), conv=conv),
                        LayerSpec(18, 3)), timesteps=3, encoding="direct", in_bits=4)
    rng = np.random.default_rng(3)
    net = QuantizedNetwork(spec, (rng.integers(-20, 20, (2, 1, 3, 3)),
                                  rng.integers(-9, 9, (3, 18))),
                           (rng.integers(-5, 5, 2), rng.integers(-5, 5, 3)))
    x = rng.integers(0, 16, (4, 36))
    _, hidden = QSpikingMLP.from_ir(net)(torch.from_numpy(x), return_hidden=True)
    assert list(hidden[0].shape) == [3, 4, 2, 3, 3]
    spikes = run_network(net, x).spikes[0].reshape(3, 4, 2, 3, 2, 3, 2)
    assert_array_equal(hidden[0].detach().numpy(), spikes.max(axis=(4, 6)))
    assert hidden[0].sum() > 0


def _conv(c=1, h=6, w=6, co=2, pool=2):
    return ConvSpec(c, h, w, co, 3, padding=1, pool=pool)


@pytest.mark.parametrize("sizes, convs, message", [
    ([36, 18, 3], [_conv(), _conv()], "QSpikingMLP layer 1 is a conv layer; the last layer "
     "(the readout) must be dense"),
    ([36, 18], [_conv(), None, None], "QSpikingMLP convs must have one entry (a ConvSpec or "
     "None) per layer (1), not"),
    ([35, 18, 3], [_conv(), None], "QSpikingMLP layer 0: the convolution reads [1, 6, 6] = 36 "
     "inputs, but the layer before passes on 35"),
    ([36, 72, 3], [_conv(), None], "QSpikingMLP layer 0: the convolution passes on [2, 3, 3] = "
     "18 values, not sizes[1] = 72"),
    ([36, 18, 18, 3], [_conv(), _conv(2, 9, 1, 2, 1), None], "QSpikingMLP layer 1: the "
     "convolution reads a [2, 9, 1] input (in_channels, height, width), but layer 0 passes on "
     "[2, 3, 3]"),
])
def test_conv_shapes_that_do_not_chain_are_named(sizes, convs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        QSpikingMLP(sizes, convs=convs)


def test_a_conv_entry_must_be_a_convspec():
    with pytest.raises(TypeError, match=re.escape(
            "QSpikingMLP layer 0: conv must be a ConvSpec or None, not dict")):
        QSpikingMLP([36, 18, 3], convs=[_conv().to_dict(), None])
