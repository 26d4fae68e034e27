"""QSpikingMLP with every named neuron extension and the spike readout == golden, bit for bit.

Hypothesis draws dense networks whose spiking layers each pick a leak (none, shift, decay),
a threshold (ge, gt), a reset (subtract, zero, subtract-delayed) and maybe a cuba synapse,
and a current or spiking readout; the QAT forward pass must equal ``golden.run_network`` on
every spike, exposed membrane, synaptic current, logit, accumulator and prediction, and
``export_qat`` must give the same network back. The float model's modes become these
integer modes through ``qat_from_float``.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.quant.qat import qat_from_float
from spikefab.quant.qat_export import export_qat
from spikefab.snn import SpikingMLP
from spikefab.snn.qmlp import QSpikingMLP
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec, SynapseSpec
from test_qat_golden import assert_runs_equal


@st.composite
def neurons(draw, big=False):
    v_bits = draw(st.integers(20, 32) if big else st.integers(3, 14))
    gt = draw(st.booleans())
    leak = draw(st.sampled_from(["none", "shift", "decay"]))
    bits = draw(st.integers(1, 16)) if leak == "decay" else 12  # decay_bits only with decay
    syn = None
    if draw(st.booleans()):
        sb = draw(st.integers(1, 16))
        syn = SynapseSpec(i_bits=draw(st.integers(2, 32) if big else st.integers(2, 14)),
                          decay=draw(st.integers(0, 2**sb)), decay_bits=sb)
    return LIFSpec(
        v_bits=v_bits,
        theta=draw(st.integers(1, 2 ** (v_bits - 1) - 1 - gt)),
        leak_shift=draw(st.integers(0, v_bits - 1)) if leak == "shift" else None,
        reset=draw(st.sampled_from(["subtract", "zero", "subtract-delayed"])),
        decay=draw(st.integers(0, 2**bits)) if leak == "decay" else None,
        decay_bits=bits,
        threshold="gt" if gt else "ge",
        synapse=syn,
    )


@st.composite
def cases(draw, big=False):
    encoding = draw(st.sampled_from(["direct", "spikes"]))
    in_bits = (draw(st.integers(8, 16)) if big else draw(st.integers(1, 8))) if (
        encoding == "direct") else 1
    readout = draw(st.sampled_from(["current", "spikes"]))
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    layers = []
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        neuron = None if last and readout == "current" else draw(neurons(big))
        layers.append(LayerSpec(sizes[i], sizes[i + 1],
                                w_bits=draw(st.integers(10, 16) if big else st.integers(2, 8)),
                                b_bits=draw(st.integers(20, 32) if big else st.integers(2, 12)),
                                neuron=neuron))
    T = draw(st.integers(1, 6))
    spec = NetworkSpec(tuple(layers), timesteps=T, encoding=encoding, in_bits=in_bits,
                       readout=readout)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ws = [rng.integers(-(2 ** (ly.w_bits - 1)), 2 ** (ly.w_bits - 1), (ly.n_out, ly.n_in))
          for ly in layers]
    bs = [rng.integers(-(2 ** (ly.b_bits - 1)), 2 ** (ly.b_bits - 1), ly.n_out) for ly in layers]
    batch = draw(st.integers(1, 5))
    if encoding == "direct":
        x = rng.integers(0, 2**in_bits, (batch, sizes[0]))
    else:
        x = (rng.random((T, batch, sizes[0])) < rng.random()).astype(np.int64)
    return QuantizedNetwork(spec, ws, bs), x


def _same(net, x):
    got = QSpikingMLP.from_ir(net).forward_int(torch.from_numpy(np.asarray(x, np.int64)))
    want = run_network(net, x)
    assert_runs_equal(got, want)
    for a, b in zip(got.synapses, want.synapses, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert_array_equal(a, b)
    return want


@settings(max_examples=200, deadline=None)
@given(cases())
def test_qat_equals_golden_in_every_mode(case):
    _same(*case)


@settings(max_examples=50, deadline=None)
@given(cases(big=True))
def test_qat_equals_golden_in_every_mode_beyond_float32(case):
    _same(*case)


@settings(max_examples=60, deadline=None)
@given(cases())
def test_export_copies_every_mode_back(case):
    net, _ = case
    out = export_qat(QSpikingMLP.from_ir(net))
    assert out.spec == net.spec and out.spec.semantics == net.spec.semantics
    for a, b in zip(out.weights + out.biases, net.weights + net.biases, strict=True):
        assert_array_equal(a, b)


def test_spike_readout_counts_and_ties():
    """Two output neurons with identical weights fire together: the count ties and the
    prediction is the lower index, as golden (and torch.argmax) say."""
    neuron = LIFSpec(v_bits=8, theta=3, leak_shift=None, reset="subtract-delayed",
                     threshold="gt")
    spec = NetworkSpec((LayerSpec(2, 3, neuron=neuron), LayerSpec(3, 2, neuron=neuron)),
                       timesteps=6, encoding="direct", in_bits=2, readout="spikes")
    net = QuantizedNetwork(spec, (np.full((3, 2), 2), np.ones((2, 3), np.int64)),
                           (np.zeros(3, np.int64), np.zeros(2, np.int64)))
    want = _same(net, np.array([[3, 3], [0, 0]]))
    assert want.acc[0, 0] == want.acc[0, 1] > 0 and want.prediction[0] == 0
    assert want.acc[1].tolist() == [0, 0] and want.prediction[1] == 0


def test_float_modes_become_integer_modes():
    torch.manual_seed(0)
    m = SpikingMLP((6, 5, 3), timesteps=4, leak_shift=None, beta=0.9, threshold="gt",
                   reset="subtract-delayed", alpha=0.8, readout="spikes")
    q = qat_from_float(m, v_bits=12, w_bits=6, decay_bits=12, i_bits=10)
    spec = export_qat(q).spec
    assert spec.semantics == "v1+cuba+decay+delayed-reset+gt+spike-readout"
    for layer in spec.layers:
        n = layer.neuron
        assert (n.decay, n.decay_bits, n.threshold, n.reset) == (410, 12, "gt", "subtract-delayed")
        assert n.synapse == SynapseSpec(i_bits=10, decay=819, decay_bits=12)
    shift = qat_from_float(SpikingMLP((6, 5, 3), leak_shift=None, beta=0.875), v_bits=12)
    assert export_qat(shift).spec.semantics == "v1"  # 1 - 2**-3 is v1's shift leak
    assert export_qat(shift).spec.layers[0].neuron.leak_shift == 3


def test_qat_trains_through_every_mode():
    """Gradients reach the first layer through delayed resets, synapses and a spike readout."""
    torch.manual_seed(1)
    m = SpikingMLP((6, 8, 3), timesteps=5, leak_shift=None, beta=0.9, threshold="gt",
                   reset="subtract-delayed", alpha=0.5, readout="spikes")
    with torch.no_grad():
        m.fcs[0].weight.mul_(4)
        m.fcs[1].weight.mul_(4)
    q = qat_from_float(m, v_bits=14, w_bits=8)
    logits = q(torch.rand(16, 6))
    assert set(torch.unique(logits).tolist()) <= {0.0, 1.0}
    torch.nn.functional.cross_entropy(logits.mean(0), torch.arange(16) % 3).backward()
    assert float(q.fcs[0].weight.grad.abs().sum()) > 0
    assert q.log_scale.grad is not None


@pytest.mark.parametrize("mode", ["threshold", "decay", "readout"])
def test_bad_extension_arguments(mode):
    kwargs = {"threshold": {"threshold": ">"}, "decay": {"decay": 5},
              "readout": {"readout": "votes"}}[mode]
    msg = {"threshold": "QSpikingMLP layer 0: threshold must be one of 'ge', 'gt', not '>'",
           "decay": "QSpikingMLP layer 0: decay must be None when leak_shift is set (one leak "
                    "per neuron), not 5",
           "readout": "QSpikingMLP readout must be one of 'current', 'spikes', not 'votes'"}[mode]
    with pytest.raises(ValueError) as e:
        QSpikingMLP([4, 3, 2], **kwargs)
    assert str(e.value) == msg
