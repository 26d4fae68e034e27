"""spec.py: every field is validated with an exact one-line message; JSON round-trips."""

import re

import pytest
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec


def _net(**kw):
    layers = kw.pop("layers", (LayerSpec(4, 3, neuron=LIFSpec()), LayerSpec(3, 2)))
    return NetworkSpec(layers=layers, **kw)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(v_bits=1), "LIFSpec.v_bits must be an integer in [2, 32], not 1"),
        (dict(v_bits=33), "LIFSpec.v_bits must be an integer in [2, 32], not 33"),
        (dict(v_bits=True), "LIFSpec.v_bits must be an integer in [2, 32], not True"),
        (dict(v_bits=8, theta=128), "LIFSpec.theta must be an integer in [1, 127], not 128"),
        (dict(theta=0), "LIFSpec.theta must be an integer in [1, 32767], not 0"),
        (dict(theta=1.5), "LIFSpec.theta must be an integer in [1, 32767], not 1.5"),
        (dict(leak_shift=-1), "LIFSpec.leak_shift must be None or an integer in [0, 16), not -1"),
        (dict(v_bits=8, leak_shift=8),
         "LIFSpec.leak_shift must be None or an integer in [0, 8), not 8"),
        (dict(reset="hard"),
         "LIFSpec.reset must be one of 'subtract', 'zero', 'subtract-delayed', not 'hard'"),
    ],
)
def test_lif_spec_errors(kwargs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        LIFSpec(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_in=0, n_out=1), "LayerSpec.n_in must be an integer in [1, 65536], not 0"),
        (dict(n_in=1, n_out=70000), "LayerSpec.n_out must be an integer in [1, 65536], not 70000"),
        (dict(n_in=1, n_out=1, w_bits=1), "LayerSpec.w_bits must be an integer in [2, 16], not 1"),
        (dict(n_in=1, n_out=1, b_bits=40),
         "LayerSpec.b_bits must be an integer in [2, 32], not 40"),
    ],
)
def test_layer_spec_errors(kwargs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        LayerSpec(**kwargs)


def test_layer_neuron_type():
    with pytest.raises(TypeError, match=r"^LayerSpec.neuron must be a LIFSpec or None, not dict$"):
        LayerSpec(1, 1, neuron={"v_bits": 8})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(timesteps=0), "NetworkSpec.timesteps must be an integer in [1, 1024], not 0"),
        (dict(encoding="rate"),
         "NetworkSpec.encoding must be one of 'spikes', 'direct', not 'rate'"),
        (dict(encoding="spikes", in_bits=4),
         "NetworkSpec.in_bits must be 1 when encoding is 'spikes', not 4"),
        (dict(in_bits=17), "NetworkSpec.in_bits must be an integer in [1, 16], not 17"),
        (dict(layers=()), "NetworkSpec.layers must be a non-empty sequence of LayerSpec, not ()"),
        (dict(layers=(LayerSpec(4, 3, neuron=LIFSpec()),)),
         "NetworkSpec.layers[0].neuron must be None (the last layer is the readout), not "
         "LIFSpec(v_bits=16, theta=64, leak_shift=3, reset='subtract')"),
        (dict(layers=(LayerSpec(4, 3), LayerSpec(3, 2))),
         "NetworkSpec.layers[0].neuron must be a LIFSpec (only the last layer is the readout), "
         "not None"),
        (dict(layers=(LayerSpec(4, 3, neuron=LIFSpec()), LayerSpec(5, 2))),
         "NetworkSpec.layers[1].n_in must equal layers[0].n_out = 3, not 5"),
    ],
)
def test_network_spec_errors(kwargs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        _net(**kwargs)


def test_json_round_trip_and_frozen():
    spec = _net(timesteps=8, encoding="spikes", in_bits=1)
    again = NetworkSpec.from_json(spec.to_json())
    assert again == spec
    with pytest.raises(AttributeError):
        spec.timesteps = 3  # type: ignore[misc]


def test_from_dict_errors():
    d = _net().to_dict()
    d["bogus"] = 1
    with pytest.raises(ValueError, match=r"^NetworkSpec has no field 'bogus'; allowed: layers, "):
        NetworkSpec.from_dict(d)
    d = _net().to_dict()
    d["semantics"] = "v2"
    with pytest.raises(ValueError,
                       match=r"^NetworkSpec.semantics must be 'v1' with named .*, not 'v2'$"):
        NetworkSpec.from_dict(d)
    d = _net().to_dict()
    del d["layers"][0]["neuron"]["theta"]
    with pytest.raises(ValueError, match=r"^LIFSpec.theta is missing$"):
        NetworkSpec.from_dict(d)


def test_beta():
    assert LIFSpec(leak_shift=3).beta == 0.875
    assert LIFSpec(leak_shift=None).beta == 1.0
