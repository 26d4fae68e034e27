"""NetworkCore on conv networks in amaranth.sim against golden.run_network, exactly: every
spike and membrane of every layer at every step, logits, accumulators, predictions; conv
into conv and into dense layers, pooling, both encodings, every neuron mode, the spiking
readout; cycles between the busiest layer and the bound."""

import re

import pytest
from goldcheck import assert_core_equals_golden
from numpy.testing import assert_array_equal
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.spec import ConvSpec, LayerSpec, LIFSpec, NetworkSpec, SynapseSpec
from spikefab_hdl.core import conv_layer
from spikefab_hdl.core.network import NetworkCore
from spikefab_hdl.sim.bound import event_bound
from spikefab_hdl.sim.pysim import simulate_amaranth
from spikefab_hdl.sim.randnet import make_conv_spec, random_input, random_network

# (id, make_conv_spec arguments, lanes)
CASES = [
    ("spikes-conv-pool-dense-l2", dict(image=(1, 6, 6), convs=[(3, 3, 1, 1, 2)], dense=[4],
                                       timesteps=3, neurons=[LIFSpec(8, 5, 2)]), 2),
    ("direct-stride2-l4", dict(image=(2, 7, 7), convs=[(5, 3, 2, 1, 2)], dense=[4],
                               encoding="direct", in_bits=3, timesteps=3,
                               neurons=[LIFSpec(10, 60, 2)]), 4),
    ("spikes-conv-conv-dense-l3", dict(image=(2, 7, 6), convs=[(3, 3, 1, 1, 2), (4, 2, 1, 0)],
                                       dense=[5, 3], timesteps=3,
                                       neurons=[LIFSpec(8, 6, 2), LIFSpec(8, 10, None, "zero"),
                                                LIFSpec(8, 10, 1)]), 3),
    ("direct-pool3-l1", dict(image=(1, 8, 7), convs=[(2, 2, 1, 1, 3)], dense=[3],
                             encoding="direct", in_bits=2, timesteps=2,
                             neurons=[LIFSpec(9, 12, None, "zero")]), 1),
    # neuron modes on conv layers, and a spiking readout
    ("spikes-modes-readout-spikes-l2", dict(
        image=(1, 6, 5), convs=[(3, 3, 1, 1, 2)], dense=[6, 3], timesteps=4, readout="spikes",
        neurons=[LIFSpec(8, 5, None, "subtract-delayed", threshold="gt", decay=3, decay_bits=2),
                 LIFSpec(8, 6, 1, "zero", synapse=SynapseSpec(7, 1229, 12)),
                 LIFSpec(7, 4, None, decay=205, decay_bits=12)]), 2),
    ("direct-cuba-conv-conv-l4", dict(
        image=(1, 7, 7), convs=[(4, 3, 2, 1), (5, 2, 1, 0, 2)], dense=[3], encoding="direct",
        in_bits=3, timesteps=3,
        neurons=[LIFSpec(10, 40, None, decay=2048, decay_bits=12,
                         synapse=SynapseSpec(9, 3072, 12)),
                 LIFSpec(8, 6, 0, "subtract-delayed")]), 4),
]


def _case(name):
    kwargs, lanes = next((k, lanes) for n, k, lanes in CASES if n == name)
    spec = make_conv_spec(**kwargs)
    seed = [n for n, _, _ in CASES].index(name) + 3
    return random_network(spec, seed), random_input(spec, 3, seed, rate=0.4), lanes


@pytest.mark.parametrize("name", [n for n, _, _ in CASES])
def test_conv_core_matches_golden_under_idle_and_backpressure(name):
    net, x, lanes = _case(name)
    gold = run_network(net, x)
    for s in gold.spikes:
        assert 0 < s.mean() < 1, "a layer never or always spikes"
    res = simulate_amaranth(net, x, lanes=lanes, idle=0.2, stall=0.25, seed=1,
                            max_cycles=400_000)
    assert_core_equals_golden(res, gold)
    assert_array_equal(res["cycles"], res["wall_cycles"])


@pytest.mark.parametrize("name", ["spikes-conv-conv-dense-l3", "direct-stride2-l4"])
def test_conv_cycles_lie_between_the_busiest_layer_and_the_bound(name):
    net, x, lanes = _case(name)
    res = simulate_amaranth(net, x, lanes=lanes, max_cycles=400_000)
    b = event_bound(net, x, lanes=lanes)
    assert (b["lower"] <= res["cycles"]).all() and (res["cycles"] <= 1.2 * b["bound"]).all()



def test_a_conv_spike_queue_shorter_than_a_step_waits_and_stays_exact(monkeypatch):
    """``CONV_QUEUE_DEPTH`` below a step's entries (a busy conv layer into a slow one): the
    pass waits for room, which costs cycles, and every spike and result stays golden's."""
    spec = make_conv_spec((1, 8, 8), [(4, 3, 1, 1), (3, 3, 1, 1, 2)], [3], timesteps=3,
                          neurons=[LIFSpec(8, 5, 2), LIFSpec(8, 6, 2)])
    net, x = random_network(spec, 5), random_input(spec, 3, 5, rate=0.5)
    gold = run_network(net, x)
    whole = simulate_amaranth(net, x, lanes=2, max_cycles=400_000)
    monkeypatch.setattr(conv_layer, "CONV_QUEUE_DEPTH", 8)
    short = simulate_amaranth(net, x, lanes=2, max_cycles=400_000)
    assert_core_equals_golden(short, gold)
    assert (short["cycles"] > whole["cycles"]).all()
    assert_core_equals_golden(simulate_amaranth(net, x, lanes=2, idle=0.2, stall=0.25, seed=3,
                             max_cycles=400_000), gold)


POOLED = [n for n, k, _ in CASES if any(len(c) > 4 and c[4] > 1 for c in k["convs"])]


@pytest.mark.parametrize("name", POOLED)
def test_pool_buffers_read_synchronously_match_golden(name, monkeypatch):
    """``POOL_BRAM_ROWS`` at 1: every pool buffer is the block-RAM form (a synchronous,
    transparent read of the next row), under idle and backpressure."""
    monkeypatch.setattr(conv_layer, "POOL_BRAM_ROWS", 1)
    net, x, lanes = _case(name)
    res = simulate_amaranth(net, x, lanes=lanes, idle=0.2, stall=0.25, seed=4,
                            max_cycles=400_000)
    assert_core_equals_golden(res, run_network(net, x))

def test_the_conv_cases_use_every_mode_pooling_and_both_encodings():
    used, pools, encodings, strides = set(), set(), set(), set()
    for name, _, _ in CASES:
        net, _, _ = _case(name)
        used |= set(net.spec.semantics.split("+")[1:])
        encodings.add(net.spec.encoding)
        for layer in net.spec.layers:
            if layer.conv is not None:
                pools.add(layer.conv.pool)
                strides.add(layer.conv.stride)
    assert used == {"conv2d", "cuba", "decay", "delayed-reset", "gt", "spike-readout"}
    assert pools == {1, 2, 3} and strides == {1, 2} and encodings == {"spikes", "direct"}


def test_a_conv_layer_after_a_dense_layer_is_refused_in_one_line():
    conv = ConvSpec(1, 2, 2, 2, 1)
    spec = NetworkSpec((LayerSpec(3, 4, 4, 4, LIFSpec(6, 2, None)),
                        LayerSpec(4, 8, 4, 4, LIFSpec(6, 2, None), conv),
                        LayerSpec(8, 2, 4, 4, None)), 2, "spikes", 1)
    net = random_network(spec, 0)
    assert isinstance(net, QuantizedNetwork)
    with pytest.raises(ValueError, match="^layer 1 is a conv layer after the dense layer 0: "
                                         "the network core feeds a conv layer only from the "
                                         "input or from another conv layer$"):
        NetworkCore(net=net, lanes=2)


# state memories in single-port RAM (the UP5K's SPRAM): two banks and one, an even
# read-to-write distance (decay: one more stage), cuba synapses, odd channel groups
# (bubbles in the walk)
SPRAM = [
    ("spikes-conv-conv-dense-l3", {0: {"currents": 2, "membranes": 2},
                                   1: {"currents": 1, "membranes": 1}}),
    ("spikes-modes-readout-spikes-l2", {0: {"currents": 1, "membranes": 2}}),
    ("direct-cuba-conv-conv-l4", {0: {"currents": 2, "membranes": 1, "synapses": 2},
                                  1: {"currents": 2, "membranes": 2}}),
]


@pytest.mark.parametrize(("name", "spram"), SPRAM, ids=[f"{n}-{i}" for i, (n, _) in
                                                        enumerate(SPRAM)])
def test_conv_core_with_state_in_single_port_ram_matches_golden(name, spram):
    """Exact although the SPRAM models power up with garbage; cycles within the bound."""
    net, x, lanes = _case(name)
    gold = run_network(net, x)
    res = simulate_amaranth(net, x, lanes=lanes, idle=0.2, stall=0.25, seed=2,
                            max_cycles=600_000, spram=spram)
    assert_core_equals_golden(res, gold)
    clean = simulate_amaranth(net, x, lanes=lanes, max_cycles=600_000, spram=spram)
    b = event_bound(net, x, lanes=lanes, spram=spram)
    assert (b["lower"] <= clean["cycles"]).all() and (clean["cycles"] <= 1.2 * b["bound"]).all()


def test_a_bad_spram_placement_is_refused_in_one_line():
    net, _, _ = _case("spikes-conv-pool-dense-l2")
    for spram, msg in [
        ({1: {"currents": 2}}, r"spram layer must be a conv layer \(\[0\]\), not 1"),
        ({0: {"weights": 2}}, "spram[0] memory must be one of currents, membranes, not 'weights'"),
        ({0: {"synapses": 1}}, "spram[0] memory must be one of currents, membranes, not "
                               "'synapses'"),
        ({0: {"currents": 3}}, "spram[0]['currents'] banks must be 1 or 2, not 3"),
    ]:
        with pytest.raises(ValueError, match="^" + (msg if "\\(" in msg else
                                                    msg.replace("[", r"\[").replace("]", r"\]"))
                           + "$"):
            NetworkCore(net=net, lanes=2, spram=spram)


def test_conv_shapes_that_do_not_chain_are_refused_naming_both():
    """Same size, other shape: the spec (and so every part, the core included) refuses it."""
    a = ConvSpec(1, 4, 4, 2, 1, pool=2)           # out 2x2x2 = 8
    b = ConvSpec(2, 1, 4, 2, 1)                   # in 2x1x4 = 8: same size, other shape
    with pytest.raises(ValueError, match=re.escape(
            "NetworkSpec.layers[1] takes a [2, 1, 4] input (in_channels, height, width), but "
            "layers[0] passes on its pooled output [2, 2, 2]")):
        NetworkSpec((LayerSpec(16, 32, 4, 4, LIFSpec(6, 2, None), a),
                     LayerSpec(8, 8, 4, 4, LIFSpec(6, 2, None), b),
                     LayerSpec(8, 2, 4, 4, None)), 2, "spikes", 1)
