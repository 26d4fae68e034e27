"""Bad QAT configurations and inputs fail with one exact line naming the layer or field."""

import re

import pytest
import torch
from spikefab.quant.qat import qat_from_float
from spikefab.snn import SpikingMLP
from spikefab.snn.qmlp import QSpikingMLP

BAD_CONFIG = [
    ({"w_bits": 1}, "QSpikingMLP layer 0: w_bits must be an integer in [2, 16], not 1"),
    ({"w_bits": [8, 17]}, "QSpikingMLP layer 1: w_bits must be an integer in [2, 16], not 17"),
    ({"w_bits": [8, 8, 8]},
     "QSpikingMLP w_bits must have one entry per layer (2), not [8, 8, 8]"),
    ({"v_bits": 33}, "QSpikingMLP layer 0: v_bits must be an integer in [2, 32], not 33"),
    ({"v_bits": 7.5}, "QSpikingMLP layer 0: v_bits must be an integer in [2, 32], not 7.5"),
    ({"b_bits": [16, 1]}, "QSpikingMLP layer 1: b_bits must be an integer in [2, 32], not 1"),
    ({"leak_shift": 12, "v_bits": 10},
     "QSpikingMLP layer 0: leak_shift must be below v_bits=10, not 12"),
    ({"leak_shift": -1},
     "QSpikingMLP layer 0: leak_shift must be None or an integer >= 0, not -1"),
    ({"theta": 0.0}, "QSpikingMLP layer 0: theta must be a positive number, not 0.0"),
    ({"reset": "hold"},
     "QSpikingMLP layer 0: reset must be one of 'subtract', 'zero', 'subtract-delayed', "
     "not 'hold'"),
    # scales that overflow (or underflow) the membrane of a layer
    ({"scales": [5000.0, 1.0], "v_bits": 10},
     "QSpikingMLP layer 0: scale 5000 puts theta at 5000 LSBs, outside [1, 511] for "
     "v_bits=10; lower the scale or raise v_bits"),
    ({"scales": [0.1, 1.0]},
     "QSpikingMLP layer 0: scale 0.1 puts theta at 0 LSBs, outside [1, 32767] for "
     "v_bits=16; lower the scale or raise v_bits"),
    ({"scales": [-1.0, 1.0]},
     "QSpikingMLP layer 0: scale must be a positive finite number, not -1.0"),
    ({"v_bits": 2, "leak_shift": None},
     "QSpikingMLP layer 0: v_bits=2 with headroom 2 leaves no integer threshold (theta "
     "would be 0 LSBs); raise v_bits"),
    ({"encoding": "rate"},
     "QSpikingMLP encoding must be one of 'spikes', 'direct', not 'rate'"),
    ({"encoding": "spikes", "in_bits": 4},
     "QSpikingMLP in_bits must be an integer in [1, 1] for encoding 'spikes', not 4"),
    ({"in_bits": 17},
     "QSpikingMLP in_bits must be an integer in [1, 16] for encoding 'direct', not 17"),
    ({"scale_mode": "x"}, "QSpikingMLP scale_mode must be one of 'learned', 'fixed', not 'x'"),
    ({"headroom": 0.5}, "QSpikingMLP headroom must be a number >= 1, not 0.5"),
    ({"timesteps": 0}, "QSpikingMLP timesteps must be an integer in [1, 1024], not 0"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_CONFIG)
def test_bad_config_message(kwargs, message):
    with pytest.raises((ValueError, TypeError), match="^" + re.escape(message) + "$"):
        QSpikingMLP([4, 3, 2], **kwargs)


def test_second_hidden_layer_is_named():
    msg = ("QSpikingMLP layer 1: scale 300 puts theta at 300 LSBs, outside [1, 255] for "
           "v_bits=9; lower the scale or raise v_bits")
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        QSpikingMLP([4, 3, 3, 2], v_bits=[16, 9], scales=[300.0, 300.0, 1.0])


def test_from_float_checks_bits_per_layer():
    msg = "QSpikingMLP layer 2: w_bits must be an integer in [2, 16], not 0"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        qat_from_float(SpikingMLP([4, 3, 3, 2]), w_bits=[8, 8, 0])


@pytest.mark.parametrize("sizes", [[4], (4, 0), "ab"])
def test_bad_sizes(sizes):
    msg = f"QSpikingMLP sizes must be a sequence of >= 2 positive integers, not {sizes!r}"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        QSpikingMLP(sizes)


BAD_DIRECT_INPUT = [
    (torch.zeros(2, 5), "QSpikingMLP input must have shape [B, 4] (encoding 'direct'), "
                        "not [2, 5]"),
    (torch.zeros(3, 2, 4), "QSpikingMLP input must have shape [B, 4] (encoding 'direct'), "
                           "not [3, 2, 4]"),
    (torch.full((2, 4), 1.5), "QSpikingMLP float input must lie in [0, 1] (x_int / 15), "
                              "not [1.5, 1.5]"),
    (torch.full((2, 4), 16, dtype=torch.int64),
     "QSpikingMLP integer input must lie in [0, 15], not [16, 16]"),
]


@pytest.mark.parametrize(("x", "message"), BAD_DIRECT_INPUT)
def test_bad_direct_input(x, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        QSpikingMLP([4, 3, 2])(x)


def test_bad_spike_input_and_types():
    q = QSpikingMLP([4, 3, 2], encoding="spikes", in_bits=1)
    msg = "QSpikingMLP input must have shape [4, B, 4] (encoding 'spikes'), not [2, 4]"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        q(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="^QSpikingMLP spike input values must be 0 or 1$"):
        q(torch.full((4, 2, 4), 2.0))
    with pytest.raises(TypeError, match="^QSpikingMLP input must be a torch.Tensor, not list$"):
        q([1])
    with pytest.raises(TypeError, match="^qat_from_float model must be a SpikingMLP or a "
                                        "SpikingCNN, not QSpikingMLP$"):
        qat_from_float(q)
    with pytest.raises(TypeError, match="^from_ir net must be a QuantizedNetwork, not "
                                        "QSpikingMLP$"):
        QSpikingMLP.from_ir(q)
