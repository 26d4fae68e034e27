"""The hand-derived vectors (tests/vectors/) through the gateware, exactly.

Every single-neuron vector runs through the combinational :class:`LIFLanes` step by step
and, as a one-neuron network, through the whole core in amaranth.sim: once as a hidden
layer (followed by a summing readout of weight 1, whose logits are then its spikes) and
once as a spiking readout. Its currents ``I[t]`` become the weights of a one-hot spike
input (input ``t`` fires at step ``t`` only). Every network vector (the conv one included)
runs through the core: the core implements every named extension.
"""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from spikefab.fixed import signed_width
from spikefab.ir import QuantizedNetwork
from spikefab.spec import LayerSpec, NetworkSpec
from spikefab_hdl.core.plan import EXTENSIONS
from spikefab_hdl.sim.pysim import simulate_amaranth
from test_hdl_lif import run_lanes

from conftest import vectors_beyond, vectors_within

LIF = vectors_within("lif", EXTENSIONS)
NETWORKS = vectors_within("network", EXTENSIONS)
BEYOND = vectors_beyond("network", EXTENSIONS)


def _ids(vectors):
    return [v["name"] for v in vectors]


def test_every_lif_vector_is_within_the_core():
    assert LIF and len(LIF) == len(vectors_within("lif", set(EXTENSIONS) | {"conv2d"}))


@pytest.mark.parametrize("vec", LIF, ids=_ids(LIF))
def test_lif_vector_through_lif_lanes(vec):
    spec, current = vec["spec"], vec["current"]
    cur_bits = signed_width(int(current.min()), int(current.max()))
    v = np.zeros(1, np.int64)
    syn = None if vec["i"] is None else np.zeros(1, np.int64)
    spikes, vs, syns = [], [], []
    for c in current:
        s, v, i = run_lanes(spec, cur_bits, v, np.array([c]), syn, lanes=1)
        syn = None if syn is None else i
        spikes.append(int(s[0]))
        vs.append(int(v[0]))
        syns.append(None if syn is None else int(syn[0]))
    assert_array_equal(spikes, vec["spikes"])
    assert_array_equal(vs, vec["v"])
    if vec["i"] is not None:
        assert_array_equal(syns, vec["i"])


def _one_neuron_net(vec, readout: str) -> tuple[QuantizedNetwork, np.ndarray]:
    current = vec["current"]
    steps = len(current)
    w_bits = max(2, signed_width(int(current.min()), int(current.max())))
    neuron = LayerSpec(steps, 1, w_bits, 2, vec["spec"])
    if readout == "spikes":
        layers, weights, biases = (neuron,), (current[None, :],), (np.zeros(1),)
    else:
        layers = (neuron, LayerSpec(1, 1, 2, 2, None))
        weights, biases = (current[None, :], np.ones((1, 1))), (np.zeros(1), np.zeros(1))
    spec = NetworkSpec(layers, steps, "spikes", 1, readout=readout)
    net = QuantizedNetwork(spec, tuple(w.astype(np.int64) for w in weights),
                           tuple(b.astype(np.int64) for b in biases))
    x = np.eye(steps, dtype=np.int64)[:, None, :]  # input t fires at step t
    return net, x


@pytest.mark.parametrize("readout", ["current", "spikes"])
@pytest.mark.parametrize("vec", LIF, ids=_ids(LIF))
def test_lif_vector_through_the_core(vec, readout):
    net, x = _one_neuron_net(vec, readout)
    res = simulate_amaranth(net, x, lanes=1, idle=0.2, stall=0.2, seed=3)
    assert_array_equal(res["spikes"][0][:, 0, 0], vec["spikes"])
    assert_array_equal(res["membranes"][0][:, 0, 0], vec["v"])
    if vec["i"] is not None:
        assert_array_equal(res["synapses"][0][:, 0, 0], vec["i"])
    else:
        assert res["synapses"][0] is None
    assert_array_equal(res["logits"][:, 0, 0], vec["spikes"])
    assert_array_equal(res["acc"], [[int(vec["spikes"].sum())]])


@pytest.mark.parametrize("vec", NETWORKS, ids=_ids(NETWORKS))
def test_network_vector_through_the_core(vec):
    res = simulate_amaranth(vec["net"], vec["input"], lanes=2, idle=0.2, stall=0.2, seed=1)
    assert len(res["spikes"]) == len(vec["spikes"])
    for got, want in zip(res["spikes"], vec["spikes"], strict=True):
        assert_array_equal(got, want)
    for got, want in zip(res["membranes"], vec["membranes"], strict=True):
        assert_array_equal(got, want)
    for got, want in zip(res["synapses"], vec["synapses"], strict=True):
        assert (got is None) == (want is None)
        if want is not None:
            assert_array_equal(got, want)
    for key in ("logits", "acc", "prediction"):
        assert_array_equal(res[key], vec[key])


def test_every_network_vector_is_within_the_core():
    assert NETWORKS and not BEYOND
    assert any("conv2d" in v["net"].spec.semantics for v in NETWORKS)
