"""Named extensions in the spec: names, JSON round trips, v1 unchanged, one-line errors."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from spikefab.ir import QuantizedNetwork
from spikefab.spec import ConvSpec, LayerSpec, LIFSpec, NetworkSpec, SynapseSpec

VECTORS = Path(__file__).parent / "vectors"


def _conv_net(readout="current", neuron=None):
    conv = ConvSpec(1, 6, 6, 3, 3, stride=1, padding=1, pool=2)
    n = neuron or LIFSpec(10, 20, None, "subtract-delayed", decay=410, decay_bits=12,
                          threshold="gt", synapse=SynapseSpec(12, 819))
    last = LIFSpec(8, 5, 2, "zero") if readout == "spikes" else None
    return NetworkSpec((LayerSpec(36, 108, 6, 8, n, conv), LayerSpec(27, 4, 6, 8, last)),
                       timesteps=3, encoding="direct", in_bits=3, readout=readout)


def test_semantics_names_every_extension_in_use():
    assert _conv_net().semantics == "v1+conv2d+cuba+decay+delayed-reset+gt"
    assert _conv_net("spikes", LIFSpec(8, 4)).semantics == "v1+conv2d+spike-readout"
    v1 = NetworkSpec((LayerSpec(4, 3, 8, 8, LIFSpec()), LayerSpec(3, 2)))
    assert v1.semantics == "v1" and v1.to_dict()["semantics"] == "v1"


@pytest.mark.parametrize("readout", ["current", "spikes"])
def test_extended_spec_round_trips(readout):
    spec = _conv_net(readout)
    assert NetworkSpec.from_json(spec.to_json()) == spec


def test_v1_json_is_unchanged():
    """The committed v1 vectors' specs write back exactly as they are stored (no new keys)."""
    for name in ("net_direct_ties.json", "net_spikes_zero_saturate.json"):
        stored = json.loads((VECTORS / name).read_text())["spec"]
        assert NetworkSpec.from_dict(stored).to_dict() == stored
    assert LIFSpec().to_dict() == {"v_bits": 16, "theta": 64, "leak_shift": 3,
                                   "reset": "subtract"}


def test_semantics_must_match_the_layers():
    d = _conv_net().to_dict()
    d["semantics"] = "v1+conv2d"
    with pytest.raises(ValueError, match=re.escape(
            "NetworkSpec.semantics is 'v1+conv2d' but the layers use "
            "'v1+conv2d+cuba+decay+delayed-reset+gt'")):
        NetworkSpec.from_dict(d)
    d["semantics"] = "v1+conv3d"
    with pytest.raises(ValueError, match="^NetworkSpec.semantics must be 'v1' with named"):
        NetworkSpec.from_dict(d)


def test_require_names_what_is_missing():
    with pytest.raises(ValueError, match=re.escape(
            "the network core does not implement the extensions conv2d, cuba of this network "
            "(semantics 'v1+conv2d+cuba+decay'); it implements v1+decay")):
        _conv_net(neuron=LIFSpec(10, 20, None, decay=3, synapse=SynapseSpec(8, 1))).require(
            "the network core", ("decay",))
    NetworkSpec((LayerSpec(2, 2),)).require("anyone")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(threshold="gt", theta=127), "LIFSpec.theta must be an integer in [1, 126], not 127"),
        (dict(decay=3), "LIFSpec.decay must be None when leak_shift is set"),
        (dict(leak_shift=None, decay=5000), "LIFSpec.decay must be an integer in [0, 4096]"),
        (dict(leak_shift=None, decay=1, decay_bits=17),
         "LIFSpec.decay_bits must be an integer in [1, 16], not 17"),
        (dict(threshold=">"), "LIFSpec.threshold must be one of 'ge', 'gt', not '>'"),
        (dict(synapse=3), "LIFSpec.synapse must be a SynapseSpec or None, not int"),
    ],
)
def test_neuron_mode_errors(kwargs, message):
    base = dict(v_bits=8, theta=10)
    with pytest.raises((ValueError, TypeError), match="^" + re.escape(message)):
        LIFSpec(**{**base, **kwargs})


def test_synapse_errors():
    with pytest.raises(ValueError, match=re.escape("SynapseSpec.i_bits must be an integer in "
                                                   "[2, 32], not 40")):
        SynapseSpec(40, 1)
    with pytest.raises(ValueError, match=re.escape("SynapseSpec.decay must be an integer in "
                                                   "[0, 4], not 5")):
        SynapseSpec(8, 5, decay_bits=2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kernel=9), "ConvSpec.kernel 9 is larger than the padded input height 8"),
        (dict(padding=3), "ConvSpec.padding must be an integer in [0, 2], not 3"),
        (dict(pool=7), "ConvSpec.pool must be an integer in [1, 6], not 7"),
        (dict(stride=0), "ConvSpec.stride must be an integer in [1, 8], not 0"),
    ],
)
def test_conv_errors(kwargs, message):
    base = dict(in_channels=1, height=6, width=6, out_channels=2, kernel=3, padding=1)
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        ConvSpec(**{**base, **kwargs})


def test_layer_and_chain_errors():
    conv = ConvSpec(1, 6, 6, 2, 3, padding=1, pool=2)
    with pytest.raises(ValueError, match=re.escape(
            "LayerSpec.n_out must equal the convolution's n_out 72, not 70")):
        LayerSpec(36, 70, neuron=LIFSpec(), conv=conv)
    with pytest.raises(ValueError, match=re.escape("LayerSpec.neuron must be a LIFSpec for a "
                                                   "conv layer")):
        LayerSpec(36, 72, conv=conv)
    first = LayerSpec(36, 72, neuron=LIFSpec(), conv=conv)
    with pytest.raises(ValueError, match=re.escape(
            "NetworkSpec.layers[1].n_in must equal layers[0].pooled outputs = 18, not 72")):
        NetworkSpec((first, LayerSpec(72, 3)))
    with pytest.raises(ValueError, match=re.escape(
            "NetworkSpec.layers[1].neuron must be a LIFSpec (readout 'spikes'), not None")):
        NetworkSpec((first, LayerSpec(18, 3)), readout="spikes")
    with pytest.raises(ValueError, match=re.escape(
            "NetworkSpec.layers[0] is a conv layer; the last layer (the readout) must be dense")):
        NetworkSpec((first,), readout="spikes")


def test_conv_after_conv_must_chain_in_shape():
    """Same count, other shape: [2, 3, 3] passed on, [2, 9, 1] expected (18 values each)."""
    first = LayerSpec(36, 72, neuron=LIFSpec(), conv=ConvSpec(1, 6, 6, 2, 3, padding=1, pool=2))
    second = ConvSpec(2, 9, 1, 1, 1)
    with pytest.raises(ValueError, match="^" + re.escape(
            "NetworkSpec.layers[1] takes a [2, 9, 1] input (in_channels, height, width), but "
            "layers[0] passes on its pooled output [2, 3, 3]") + "$"):
        NetworkSpec((first, LayerSpec(18, 9, neuron=LIFSpec(), conv=second), LayerSpec(9, 2)))
    ok = ConvSpec(2, 3, 3, 1, 1)
    NetworkSpec((first, LayerSpec(18, 9, neuron=LIFSpec(), conv=ok), LayerSpec(9, 2)))


def test_ir_round_trips_a_conv_network(tmp_path):
    spec = _conv_net("spikes")
    rng = np.random.default_rng(0)
    ws = [rng.integers(-32, 32, ly.weight_shape) for ly in spec.layers]
    bs = [rng.integers(-128, 128, ly.bias_shape) for ly in spec.layers]
    net = QuantizedNetwork(spec, ws, bs)
    back = QuantizedNetwork.load(net.save(tmp_path / "conv"))
    assert back.spec == spec and back.weights[0].shape == (3, 1, 3, 3)
    for a, b in zip(net.weights + net.biases, back.weights + back.biases, strict=True):
        assert_array_equal(a, b)
    assert net.acc_bounds() == (0, 3)
    with pytest.raises(ValueError, match=re.escape("weights[0] must have shape (3, 1, 3, 3)")):
        QuantizedNetwork(spec, [ws[0].reshape(3, 9), ws[1]], bs)


def test_parts_without_an_extension_refuse_it_in_one_line():
    """A part that lacks an extension says so, naming it (no silent v1 run); today every
    part implements every extension of the spec."""
    from spikefab.nirgraph.quantized import EXPORTS
    from spikefab.snn.qmlp import EXTENSIONS as QAT
    from spikefab.spec import EXTENSIONS
    from spikefab_hdl.core.plan import EXTENSIONS as CORE

    spec = _conv_net("spikes")
    semantics = spec.semantics
    missing = semantics.split("+")[1:]
    assert "conv2d" in missing
    with pytest.raises(ValueError) as err:
        spec.require("a v1 part", ())
    assert str(err.value) == (f"a v1 part does not implement the extensions {', '.join(missing)} "
                              f"of this network (semantics {semantics!r}); it implements v1")
    with pytest.raises(ValueError, match=r"^a dense part does not implement the extension "
                                         r"conv2d of this network "):
        spec.require("a dense part", [n for n in missing if n != "conv2d"])
    spec.require("every part", EXTENSIONS)
    for part in (EXPORTS, QAT, CORE):
        assert sorted(part) == sorted(EXTENSIONS)
