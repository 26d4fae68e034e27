"""snn.mlp.SpikingMLP: shapes, encodings, gradients, errors, and equality with golden.

With integer weights, an integer threshold and a leak that needs no rounding (none, or
k = 0), the float equations and the integer semantics coincide, so the float model must
reproduce golden.run_network exactly (every spike, every logit).
"""

import re

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.snn import SpikingMLP
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


def test_shapes_and_hidden_spikes():
    torch.manual_seed(0)
    m = SpikingMLP((6, 5, 4, 3), timesteps=3)
    logits, hidden = m(torch.rand(7, 6), return_hidden=True)
    assert logits.shape == (3, 7, 3)
    assert [h.shape for h in hidden] == [(3, 7, 5), (3, 7, 4)]
    for h in hidden:
        assert set(torch.unique(h).tolist()) <= {0.0, 1.0}
    assert m(torch.rand(3, 7, 6)).shape == (3, 7, 3)
    assert m.predict(torch.rand(7, 6)).shape == (7,)


def test_direct_input_equals_the_same_frame_every_step():
    torch.manual_seed(1)
    m = SpikingMLP((8, 16, 4), timesteps=5, leak_shift=2, theta=0.5)
    x = torch.rand(9, 8)
    a, ha = m(x, return_hidden=True)
    b, hb = m(x.expand(5, 9, 8), return_hidden=True)
    assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert_array_equal(ha[0].detach().numpy(), hb[0].detach().numpy())


def test_no_hidden_layer_is_a_plain_readout():
    m = SpikingMLP((3, 2), timesteps=2)
    x = torch.rand(4, 3)
    out = m(x)
    assert_array_equal(out[0].detach().numpy(), m.fcs[0](x).detach().numpy())
    assert_array_equal(out[1].detach().numpy(), out[0].detach().numpy())


def test_surrogate_gradient_reaches_the_first_layer():
    torch.manual_seed(2)
    m = SpikingMLP((8, 16, 4), timesteps=4)
    torch.nn.functional.cross_entropy(m(torch.rand(10, 8) * 4).mean(0), torch.arange(10) % 4)\
        .backward()
    assert m.fcs[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("leak_shift", [None, 0])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("encoding", ["direct", "spikes"])
def test_integer_valued_float_model_equals_golden(leak_shift, reset, encoding):
    seed = [leak_shift is None, reset == "zero", encoding == "direct"]
    rng = np.random.default_rng(seed)
    sizes, T, theta = (6, 7, 5, 3), 5, 9
    layers, ws, bs = [], [], []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        ws.append(rng.integers(-8, 9, size=(b, a)))
        bs.append(rng.integers(-4, 5, size=b))
        readout = i == len(sizes) - 2
        neuron = None if readout else LIFSpec(v_bits=24, theta=theta, leak_shift=leak_shift,
                                              reset=reset)
        layers.append(LayerSpec(a, b, w_bits=8, b_bits=8, neuron=neuron))
    in_bits = 3 if encoding == "direct" else 1
    net = QuantizedNetwork(NetworkSpec(tuple(layers), T, encoding, in_bits), tuple(ws), tuple(bs))
    model = SpikingMLP(sizes, timesteps=T, leak_shift=leak_shift, theta=float(theta), reset=reset)
    with torch.no_grad():
        for fc, w, b in zip(model.fcs, ws, bs, strict=True):
            fc.weight.copy_(torch.from_numpy(w))
            fc.bias.copy_(torch.from_numpy(b))
    shape = (20, 6) if encoding == "direct" else (T, 20, 6)
    x = rng.integers(0, 8 if encoding == "direct" else 2, size=shape)
    gold = run_network(net, x)
    logits, hidden = model(torch.from_numpy(x.astype(np.float32)), return_hidden=True)
    assert gold.spikes[0].sum() > 0 and gold.spikes[1].sum() > 0  # the test exercises firing
    for g, h in zip(gold.spikes, hidden, strict=True):
        assert_array_equal(h.detach().numpy().astype(np.int64), g)
    assert_array_equal(logits.detach().numpy().astype(np.int64), gold.logits)


def test_bad_arguments():
    with pytest.raises(
        ValueError,
        match=exact("SpikingMLP sizes must be a sequence of >= 2 positive integers, not (64,)"),
    ):
        SpikingMLP((64,))
    with pytest.raises(
        ValueError, match=exact("SpikingMLP timesteps must be an integer in [1, 1024], not 0")
    ):
        SpikingMLP((4, 2), timesteps=0)
    msg = "SpikingMLP theta must be a positive number, not -1"
    with pytest.raises(ValueError, match=exact(msg)):
        SpikingMLP((4, 2), theta=-1)
    m = SpikingMLP((4, 3, 2), timesteps=3)
    with pytest.raises(
        ValueError,
        match=exact("SpikingMLP input must have shape [B, 4] or [3, B, 4], not [2, 5]"),
    ):
        m(torch.zeros(2, 5))
    with pytest.raises(
        TypeError, match=exact("SpikingMLP input must be floating point, not torch.int64")
    ):
        m(torch.zeros(2, 4, dtype=torch.int64))
    with pytest.raises(
        TypeError, match=exact("SpikingMLP input must be a torch.Tensor, not ndarray")
    ):
        m(np.zeros((2, 4)))
