"""NetworkCore (the whole network) in amaranth.sim against golden.run_network, exactly:
semantics v1 and every neuron mode and readout the core implements."""

import numpy as np
import pytest
from goldcheck import assert_core_equals_golden
from spikefab.golden import run_network
from spikefab.spec import LIFSpec, SynapseSpec
from spikefab_hdl.core.network import NetworkCore
from spikefab_hdl.core.plan import EXTENSIONS
from spikefab_hdl.sim.bound import event_bound
from spikefab_hdl.sim.pysim import simulate_amaranth
from spikefab_hdl.sim.randnet import (
    NEURON_MODES,
    make_spec,
    random_input,
    random_network,
    random_neuron,
)

# (id, spec arguments, lanes): widths, leaks (None, 0, k), both resets, both encodings,
# readout-only networks, one group (n_out <= lanes) and ragged last groups.
CASES = [
    ("spikes-2hidden-l2", dict(sizes=(6, 9, 5, 3), timesteps=3,
                               neurons=[LIFSpec(8, 20, 2), LIFSpec(6, 9, 0, "zero")]), 2),
    ("direct-zero-noleak-l3", dict(sizes=(7, 10, 4), encoding="direct", in_bits=3,
                                   neurons=[LIFSpec(8, 25, None, "zero")]), 3),
    ("direct-sat-l1", dict(sizes=(5, 6, 2), encoding="direct", in_bits=4, w_bits=8,
                           neurons=[LIFSpec(5, 9, 1)]), 1),
    ("spikes-readout-only-l8", dict(sizes=(9, 3), timesteps=2), 8),
    ("direct-readout-only-l4", dict(sizes=(9, 6), encoding="direct", in_bits=2), 4),
    ("spikes-T1-l16", dict(sizes=(4, 13, 2), timesteps=1, neurons=[LIFSpec(4, 1, None)]), 16),
    # neuron modes and the spiking readout
    ("spikes-decay-gt-l2", dict(sizes=(6, 9, 5, 3), timesteps=3, neurons=[
        LIFSpec(8, 20, None, decay=410, decay_bits=12),
        LIFSpec(6, 9, 0, "zero", threshold="gt")]), 2),
    ("direct-delayed-cuba-l3", dict(sizes=(7, 10, 4), encoding="direct", in_bits=3, neurons=[
        LIFSpec(8, 25, None, "subtract-delayed", decay=3, decay_bits=4,
                synapse=SynapseSpec(7, 1229, 12))]), 3),
    ("spikes-spike-readout-l2", dict(sizes=(6, 9, 4), timesteps=4, readout="spikes", neurons=[
        LIFSpec(9, 20, 2, "subtract-delayed", threshold="gt"),
        LIFSpec(8, 10, 1, synapse=SynapseSpec(9, 2048, 12))]), 2),
    ("direct-spike-readout-only-l4", dict(sizes=(9, 6), encoding="direct", in_bits=2,
                                          readout="spikes", neurons=[
        LIFSpec(7, 12, None, "zero", decay=1, decay_bits=1, threshold="gt")]), 4),
]


@pytest.mark.parametrize("name,kwargs,lanes", CASES, ids=[c[0] for c in CASES])
def test_core_matches_golden_under_idle_and_backpressure(name, kwargs, lanes):
    spec = make_spec(**kwargs)
    net = random_network(spec, seed=len(name))
    x = random_input(spec, 4, seed=lanes)
    gold = run_network(net, x)
    res = simulate_amaranth(net, x, lanes=lanes, idle=0.3, stall=0.3, seed=lanes)
    assert_core_equals_golden(res, gold)
    np.testing.assert_array_equal(res["cycles"], res["wall_cycles"])


def _random_mode_case(seed: int):
    """A random network whose spiking layers draw random subsets of the neuron modes, with
    a random readout, encoding, sizes, T and lanes: ``(net, x, lanes)``."""
    rng = np.random.default_rng(100 + seed)
    readout = "spikes" if seed % 2 else "current"
    sizes = [int(rng.integers(3, 10)) for _ in range(int(rng.integers(2, 4)))] + [3]
    spiking = len(sizes) - 2 + (readout == "spikes")
    neurons = []
    for _ in range(spiking):
        modes = [m for m in NEURON_MODES if rng.random() < 0.5]
        neurons.append(random_neuron(rng, modes=modes, v_bits=int(rng.integers(5, 12)),
                                     theta_max=40))
    encoding = "direct" if seed % 4 < 2 else "spikes"
    spec = make_spec(sizes, timesteps=int(rng.integers(2, 7)), encoding=encoding, in_bits=3,
                     neurons=neurons, readout=readout)
    net = random_network(spec, seed=seed)
    return net, random_input(spec, 3, seed=seed, rate=0.5), int(rng.integers(1, 5))


RANDOM_SEEDS = range(8)


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_core_matches_golden_on_random_neuron_modes(seed):
    """Every spike, membrane, synaptic current and logit exact."""
    net, x, lanes = _random_mode_case(seed)
    res = simulate_amaranth(net, x, lanes=lanes, idle=0.2, stall=0.2, seed=seed)
    assert_core_equals_golden(res, run_network(net, x))


def test_random_neuron_mode_cases_cover_every_extension():
    """The random dense cases use every neuron extension the core implements (conv2d has its
    own random cases, tests/test_hdl_conv_core.py), and their layers spike."""
    used = set()
    for seed in RANDOM_SEEDS:
        net, x, _ = _random_mode_case(seed)
        used |= set(net.spec.semantics.split("+")[1:])
        assert any(0 < s.mean() < 1 for s in run_network(net, x).spikes), seed
    assert used == set(EXTENSIONS) - {"conv2d"}


def test_saturation_and_both_spike_states_occur_in_the_cases():
    """The random cases really saturate membranes and both fire and stay silent."""
    spec = make_spec(**CASES[2][1])
    net = random_network(spec, seed=len(CASES[2][0]))
    gold = run_network(net, random_input(spec, 4, seed=CASES[2][2]))
    v = gold.membranes[0]
    assert v.min() == -16  # sat at -2**(v_bits-1), v_bits 5
    assert 0 < gold.spikes[0].mean() < 1


def test_cycles_lie_between_the_busiest_layer_and_the_bound():
    """Event-driven timing: never below the busiest layer's work, within 1.2x of the bound."""
    spec = make_spec((16, 24, 10), encoding="spikes", timesteps=3, neurons=[LIFSpec(10, 30, 2)])
    net = random_network(spec, seed=3)
    x = random_input(spec, 3, seed=3)
    for lanes in (1, 4):
        res = simulate_amaranth(net, x, lanes=lanes, trace=False)
        b = event_bound(net, x, lanes=lanes)
        assert (res["cycles"] >= b["lower"]).all(), (res["cycles"], b["lower"])
        assert (res["cycles"] <= 1.2 * b["bound"]).all(), (res["cycles"], b["bound"])
        np.testing.assert_array_equal(res["cycles"], res["wall_cycles"])


def test_work_follows_the_events_not_the_dense_size():
    """A silent input costs only the per-step passes; a busy one costs its events."""
    spec = make_spec((32, 8, 4), encoding="spikes", timesteps=2, neurons=[LIFSpec(10, 30, 2)])
    net = random_network(spec, seed=0)
    silent = np.zeros((2, 1, 32), np.int64)
    busy = np.ones((2, 1, 32), np.int64)
    cyc = simulate_amaranth(net, np.concatenate([silent, busy], axis=1), lanes=4, trace=False)
    groups = 2 + 1  # ceil(8/4) + ceil(4/4)
    # passes, the hidden pass's two pipeline stages, the spike queue's input register, plus
    # a few handshake cycles (an eos entry that meets a busy expander goes through the
    # queue's FIFO) and the argmax's fold cycle (no skid buffer: not an ECP5 core)
    assert cyc["cycles"][0] <= 2 * (groups + 4 + 7)
    assert cyc["cycles"][1] >= 2 * 32 * 2  # 32 input spikes x 2 groups, both steps


def test_reset_in_the_middle_of_a_sample_leaves_no_state():
    spec = make_spec((6, 9, 3), timesteps=3, neurons=[LIFSpec(8, 12, 1)])
    net = random_network(spec, seed=5)
    x = random_input(spec, 2, seed=5, rate=0.6)
    gold = run_network(net, x)
    assert_core_equals_golden(simulate_amaranth(net, x, lanes=2, abort_after=23), gold)


def test_bad_arguments_are_refused_with_one_line_errors():
    net = random_network(make_spec((4, 3)), seed=0)
    with pytest.raises(ValueError, match=r"^lanes must be an integer in \[1, 128\], not 0$"):
        NetworkCore(net=net, lanes=0)
    with pytest.raises(ValueError, match=r"^lanes must be an integer in \[1, 128\], not 2.0$"):
        NetworkCore(net=net, lanes=2.0)
    with pytest.raises(TypeError, match=r"^trace must be a bool, not str$"):
        NetworkCore(net=net, lanes=2, trace="yes")
    with pytest.raises(TypeError, match=r"^net must be a QuantizedNetwork, not dict$"):
        NetworkCore(net={}, lanes=2)
