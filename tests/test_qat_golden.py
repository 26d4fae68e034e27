"""QSpikingMLP forward == golden.run_network on every spike, membrane and logit, exactly.

Networks come from the committed vectors and from hypothesis (widths up to the spec's
limits, leaks including None and 0, both resets, both encodings, saturating membranes),
loaded into the QAT model with ``QSpikingMLP.from_ir``.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.quant.qat_export import export_qat
from spikefab.snn.qlif import EXTENSIONS
from spikefab.snn.qmlp import QSpikingMLP
from spikefab.spec import EXTENSIONS as SPEC_EXTENSIONS
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec

from conftest import vectors_beyond, vectors_within


def assert_same_run(q: QSpikingMLP, net: QuantizedNetwork, x: np.ndarray):
    """QAT on ``x`` equals golden on ``x``; returns golden's run."""
    want = run_network(net, x)
    assert_runs_equal(q.forward_int(torch.from_numpy(np.asarray(x, dtype=np.int64))), want)
    return want


def assert_runs_equal(got, want):
    """Every spike, membrane, logit, accumulator and prediction equal."""
    assert len(got.spikes) == len(want.spikes)
    for a, b in zip(got.spikes, want.spikes, strict=True):
        assert_array_equal(a, b)
    for a, b in zip(got.membranes, want.membranes, strict=True):
        assert_array_equal(a, b)
    assert_array_equal(got.logits, want.logits)
    assert_array_equal(got.acc, want.acc)
    assert_array_equal(got.prediction, want.prediction)


@pytest.mark.parametrize("v", vectors_within("network", EXTENSIONS), ids=lambda v: v["name"])
def test_qat_reproduces_every_network_vector(v):
    q = QSpikingMLP.from_ir(v["net"])
    assert_same_run(q, v["net"], v["input"])
    got = q.forward_int(torch.from_numpy(v["input"]))
    for a, b in zip(got.spikes, v["spikes"], strict=True):
        assert_array_equal(a, b)
    assert_array_equal(got.logits, v["logits"])
    assert_array_equal(got.prediction, v["prediction"])


def test_qat_implements_every_extension():
    """QAT implements every named extension (so every network vector runs above), and the
    refusal for one it did not would be the spec's one line."""
    assert set(EXTENSIONS) == set(SPEC_EXTENSIONS)
    assert not vectors_beyond("network", EXTENSIONS)
    conv = next(v for v in vectors_within("network", EXTENSIONS)
                if "conv2d" in v["net"].spec.semantics)
    with pytest.raises(ValueError, match="^QSpikingMLP does not implement the extension "
                                         "conv2d of this network"):
        conv["net"].spec.require("QSpikingMLP", [n for n in EXTENSIONS if n != "conv2d"])


@st.composite
def cases(draw, big=False):
    """A random integer network and a batch of inputs. ``big``: widths near the limits."""
    encoding = draw(st.sampled_from(["direct", "spikes"]))
    in_bits = (draw(st.integers(8, 16)) if big else draw(st.integers(1, 8))) if (
        encoding == "direct") else 1
    sizes = draw(st.lists(st.integers(1, 7), min_size=2, max_size=4))
    layers = []
    for i in range(len(sizes) - 1):
        neuron = None
        if i < len(sizes) - 2:
            v_bits = draw(st.integers(20, 32) if big else st.integers(2, 14))
            neuron = LIFSpec(
                v_bits=v_bits,
                theta=draw(st.integers(1, 2 ** (v_bits - 1) - 1)),
                leak_shift=draw(st.none() | st.integers(0, v_bits - 1)),
                reset=draw(st.sampled_from(["subtract", "zero"])),
            )
        w_bits = draw(st.integers(10, 16) if big else st.integers(2, 8))
        b_bits = draw(st.integers(20, 32) if big else st.integers(2, 12))
        layers.append(LayerSpec(sizes[i], sizes[i + 1], w_bits=w_bits, b_bits=b_bits,
                                neuron=neuron))
    T = draw(st.integers(1, 6))
    spec = NetworkSpec(tuple(layers), timesteps=T, encoding=encoding, in_bits=in_bits)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ws = [rng.integers(-(2 ** (ly.w_bits - 1)), 2 ** (ly.w_bits - 1), (ly.n_out, ly.n_in))
          for ly in layers]
    bs = [rng.integers(-(2 ** (ly.b_bits - 1)), 2 ** (ly.b_bits - 1), ly.n_out) for ly in layers]
    net = QuantizedNetwork(spec, ws, bs)
    batch = draw(st.integers(1, 5))
    if encoding == "direct":
        x = rng.integers(0, 2**in_bits, (batch, sizes[0]))
    else:
        x = (rng.random((T, batch, sizes[0])) < rng.random()).astype(np.int64)
    return net, x


@settings(max_examples=150, deadline=None)
@given(cases())
def test_qat_equals_golden_on_random_networks(case):
    net, x = case
    assert_same_run(QSpikingMLP.from_ir(net), net, x)


@settings(max_examples=60, deadline=None)
@given(cases(big=True))
def test_qat_equals_golden_on_wide_networks_beyond_float32(case):
    """Weights to 16 bits, membranes to 32 bits, inputs to 16 bits: past 2**24."""
    net, x = case
    assert_same_run(QSpikingMLP.from_ir(net), net, x)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_from_ir_then_export_copies_every_integer(case):
    assert_export_gives_back(case[0])


def assert_export_gives_back(net):
    """``export_qat(QSpikingMLP.from_ir(net))`` is ``net``: spec, shapes and integers."""
    out = export_qat(QSpikingMLP.from_ir(net))
    assert out.spec == net.spec
    for a, b in zip(out.weights + out.biases, net.weights + net.biases, strict=True):
        assert a.shape == b.shape
        assert_array_equal(a, b)


def test_a_wide_network_really_exceeds_float32():
    """One fixed wide case: its membranes and currents pass 2**24, and it still matches."""
    spec = NetworkSpec(
        (
            LayerSpec(3, 2, w_bits=16, b_bits=32,
                      neuron=LIFSpec(v_bits=32, theta=2**30 + 7, leak_shift=4, reset="subtract")),
            LayerSpec(2, 2, w_bits=16, b_bits=32, neuron=None),
        ),
        timesteps=5, encoding="direct", in_bits=16,
    )
    w0 = np.array([[32767, 32767, 32767], [-32768, 12345, 32767]])
    b0 = np.array([2**31 - 1, -(2**30) + 3])
    w1 = np.array([[32767, -32768], [1, 2]])
    b1 = np.array([2**31 - 1, -(2**31)])
    net = QuantizedNetwork(spec, (w0, w1), (b0, b1))
    x = np.array([[65535, 65535, 65535], [1, 65534, 3]])
    want = assert_same_run(QSpikingMLP.from_ir(net), net, x)
    assert np.abs(want.membranes[0]).max() > 2**24
    assert np.abs(want.logits).max() > 2**24
    assert want.spikes[0].any() and not want.spikes[0].all()
