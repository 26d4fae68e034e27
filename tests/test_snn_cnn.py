"""SpikingCNN: shapes, spikes, direct == repeated spikes input, input checks, gradients."""

import re

import numpy as np
import pytest
import torch
from spikefab.snn.cnn import SpikingCNN
from spikefab.snn.lif import lif_step_float


def _model(**kw):
    torch.manual_seed(0)
    return SpikingCNN((1, 8, 8), (4, 6), 10, timesteps=3, theta=0.5, **kw)


def test_shapes_and_binary_feature_spikes():
    m = _model()
    x = torch.rand(5, 64)
    z, hidden = m(x, return_hidden=True)
    assert z.shape == (3, 5, 10)
    assert [tuple(h.shape) for h in hidden] == [(3, 5, 4, 4, 4), (3, 5, 6, 2, 2)]
    for h in hidden:
        assert set(np.unique(h.detach().numpy())) <= {0.0, 1.0}
    assert float(hidden[0].detach().sum()) > 0
    np.testing.assert_array_equal(m(x.view(5, 1, 8, 8)).detach().numpy(), z.detach().numpy())


def test_direct_input_equals_the_same_input_every_step():
    m = _model()
    x = torch.rand(5, 64)
    steps = x.unsqueeze(0).expand(3, 5, 64).contiguous()
    np.testing.assert_array_equal(m(steps).detach().numpy(), m(x).detach().numpy())


def test_matches_a_hand_written_loop():
    m = _model(reset="zero")
    x = torch.rand(2, 1, 8, 8)
    v1 = v2 = torch.zeros(())
    out = []
    for _ in range(3):
        s1, v1 = lif_step_float(m.convs[0](x), v1, beta=1 - 2**-3, theta=0.5, reset="zero")
        h1 = torch.nn.functional.max_pool2d(s1, 2)
        s2, v2 = lif_step_float(m.convs[1](h1), v2, beta=1 - 2**-3, theta=0.5, reset="zero")
        out.append(m.readout(torch.nn.functional.max_pool2d(s2, 2).flatten(1)))
    np.testing.assert_array_equal(torch.stack(out).detach().numpy(), m(x).detach().numpy())


def test_gradients_reach_every_parameter():
    m = _model()
    m(torch.rand(8, 64) * 2).sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


def test_bad_input_and_arguments():
    m = _model()
    msg = ("SpikingCNN input must have shape [B, 64], [B, 1, 8, 8] or the same with a leading "
           "T=3, not [5, 63]")
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        m(torch.rand(5, 63))
    with pytest.raises(TypeError, match="^SpikingCNN input must be floating point, not "
                       "torch.int64$"):
        m(torch.zeros(5, 64, dtype=torch.long))
    with pytest.raises(ValueError, match=re.escape(
            "SpikingCNN channels has 4 stages, too many for image_shape [1, 8, 8] (each stage "
            "halves H and W)")):
        SpikingCNN((1, 8, 8), (2, 2, 2, 2))
    with pytest.raises(ValueError, match=r"^SpikingCNN timesteps must be an integer in "
                       r"\[1, 1024\], not 0$"):
        SpikingCNN(timesteps=0)
    with pytest.raises(ValueError, match=r"^SpikingCNN image_shape must be 3 positive "
                       r"integers, not \(28, 28\)$"):
        SpikingCNN((28, 28))
