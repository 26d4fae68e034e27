"""HiddenLayer (integrate events, LIF pass, spike events out, trace) against golden, exactly."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator
from spikefab.golden import lif_init, lif_step
from spikefab.spec import LIFSpec, SynapseSpec
from spikefab_hdl.build.verilog import layout_fields
from spikefab_hdl.core.layer import HiddenLayer
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.sim.beats import field
from spikefab_hdl.sim.pysim import EventSource, layer_events
from spikefab_hdl.sim.randnet import make_spec, random_input, random_network


def _golden_layer(lp, xs, *, synapses=False):
    """xs [T, B, n_in] -> spikes, membranes [T, B, n_out] of one LIF layer (and its
    synaptic currents, ``cuba``, with ``synapses``)."""
    steps, batch = xs.shape[:2]
    state = lif_init((batch, lp.n_out), lp.neuron)
    spikes, membranes, syn = [], [], []
    for t in range(steps):
        s, state = lif_step(xs[t] @ lp.weights.T + lp.biases, state, lp.neuron)
        spikes.append(s)
        membranes.append(state.v)
        syn.append(state.i)
    out = np.stack(spikes), np.stack(membranes)
    return (*out, np.stack(syn) if lp.neuron.synapse is not None else None) if synapses else out


def _run_layer(lp, steps, xs, *, idle, stall, seed):
    """Drive one sample after another; return the spike events per step and trace beats."""
    dut = HiddenLayer(layer=lp, timesteps=steps)
    rng = random.Random(seed)
    batch = xs.shape[1]
    src = EventSource(dut.i_events, layer_events(lp.repeat, xs, rng=rng), rng=rng, idle=idle,
                      value_bits=lp.value_bits)
    events, traces = [[]], []
    tf = layout_fields(dut.trace.payload.shape())

    async def bench(ctx):
        while len(events) <= steps * batch:
            src.drive(ctx)
            take = rng.random() >= stall
            ctx.set(dut.o_events.ready, take)
            src.sample(ctx)
            if take and ctx.get(dut.o_events.valid):
                if ctx.get(dut.o_events.payload.eos):
                    events.append([])
                else:
                    events[-1].append(ctx.get(dut.o_events.payload.index))
            if ctx.get(dut.trace.valid):
                traces.append(ctx.get(dut.trace.payload.as_value()))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return events[:-1], traces, tf


CASES = [
    # (sizes, encoding, neuron, lanes, steps)
    ((6, 9, 2), "spikes", LIFSpec(8, 20, 2, "subtract"), 2, 3),
    ((6, 9, 2), "spikes", LIFSpec(6, 5, 0, "zero"), 4, 4),
    ((5, 3, 2), "spikes", LIFSpec(10, 1, None, "subtract"), 8, 2),
    ((7, 10, 2), "direct", LIFSpec(9, 60, 1, "zero"), 3, 3),
    ((7, 10, 2), "direct", LIFSpec(12, 30, None, "subtract"), 1, 1),
    # neuron modes
    ((6, 9, 2), "spikes", LIFSpec(8, 20, None, decay=410, decay_bits=12), 2, 3),
    ((6, 9, 2), "spikes", LIFSpec(6, 5, 0, "zero", threshold="gt"), 4, 4),
    ((6, 9, 2), "spikes", LIFSpec(7, 20, 2, "subtract-delayed"), 3, 4),
    ((7, 10, 2), "direct", LIFSpec(9, 40, None, "subtract-delayed", decay=7, decay_bits=3,
                                   threshold="gt", synapse=SynapseSpec(8, 1, 2)), 3, 3),
    ((6, 9, 2), "spikes", LIFSpec(10, 25, 1, synapse=SynapseSpec(7, 0, 4)), 2, 4),
]


def _case_id(c):
    n = c[2]
    modes = "".join(f"-{m}" for m in sorted(n.extensions()))
    return f"{c[1]}-{n.reset}-k{n.leak_shift}{modes}-l{c[3]}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_hidden_layer_matches_golden(case):
    _check_layer(case)


#: Layers built for ECP5 (``bram_outreg``): reads every cycle (``LayerStepper.free_read``),
#: the biases rewritten a cycle late; at 16 lanes the stage enables from copies per 8 lanes
#: (``NeuronPass.enable_copies``), and a one-group layer's state and current rows written
#: per 8 lanes. A slow reader (stall 0.6) fills the queue, so the pass stalls.
ECP5_CASES = [
    ((6, 16, 2), "spikes", LIFSpec(8, 20, 2, "subtract"), 16, 3),  # one group
    ((6, 30, 2), "spikes", LIFSpec(6, 5, 0, "zero"), 16, 3),  # two groups
    ((6, 16, 2), "spikes", LIFSpec(10, 25, 1, synapse=SynapseSpec(7, 0, 4)), 16, 4),
    ((6, 9, 2), "spikes", LIFSpec(8, 20, 2, "subtract"), 3, 3),  # no copies, three groups
]


@pytest.mark.parametrize("case", ECP5_CASES, ids=_case_id)
def test_hidden_layer_ecp5_matches_golden(case):
    _check_layer(case, bram_outreg="always", stall=0.6)


@pytest.mark.parametrize("n_out", [16, 40])
def test_hidden_layer_ecp5_repeat_matches_golden(n_out):
    """A direct (repeat) first layer of one group and of three: its currents kept between
    passes and rewritten late after the last (products in logic: ``dsp=0``, no MULT18X18D
    model). Its passes run back to back, so the slow reader fills the queue: the pass
    stalls with groups in flight (at three groups, one held at stage 1 and re-read)."""
    case = ((7, n_out, 2), "direct", LIFSpec(9, 60, 1, "zero"), 16, 4)
    _check_layer(case, bram_outreg="always", dsp=0, stall=0.8)


def _check_layer(case, *, stall=0.3, **plan):
    sizes, encoding, neuron, lanes, steps = case
    spec = make_spec(sizes, timesteps=steps, encoding=encoding, in_bits=3, neurons=[neuron])
    net = random_network(spec, seed=lanes)
    lp = plan_core(net, lanes=lanes, **plan).layers[0]
    assert bool(lp.bram_outreg) == bool(plan)
    x = random_input(spec, 3, seed=lanes, rate=0.5)
    xs = np.broadcast_to(x, (steps, *x.shape)) if encoding == "direct" else x
    want_s, want_v, want_i = _golden_layer(lp, xs, synapses=True)
    assert 0 < want_s.mean() < 1, "the case must both spike and stay silent"
    events, traces, tf = _run_layer(lp, steps, xs, idle=0.3, stall=stall, seed=lanes)

    batch = xs.shape[1]
    for b in range(batch):
        for t in range(steps):
            want = list(np.flatnonzero(want_s[t, b]))
            assert events[b * steps + t] == want, f"sample {b} step {t}: spike events"
    got_v = np.zeros((steps, batch, lp.groups * lanes), np.int64)
    got_s = np.zeros_like(got_v)
    got_i = np.zeros_like(got_v)
    assert ("synapses" in tf) == (want_i is not None)
    assert len(traces) == batch * steps * lp.groups
    for k, raw in enumerate(traces):
        b, t, g = k // (steps * lp.groups), (k // lp.groups) % steps, k % lp.groups
        assert (field(raw, tf["step"]), field(raw, tf["group"])) == (t, g)
        got_v[t, b, g * lanes:(g + 1) * lanes] = field(raw, tf["values"])
        if want_i is not None:
            got_i[t, b, g * lanes:(g + 1) * lanes] = field(raw, tf["synapses"])
        bits = field(raw, tf["spikes"])
        got_s[t, b, g * lanes:(g + 1) * lanes] = [(bits >> j) & 1 for j in range(lanes)]
    np.testing.assert_array_equal(got_v[:, :, : lp.n_out], want_v)
    np.testing.assert_array_equal(got_s[:, :, : lp.n_out], want_s)
    if want_i is not None:
        np.testing.assert_array_equal(got_i[:, :, : lp.n_out], want_i)


@pytest.mark.parametrize("readout", ["current", "spikes"])
def test_readout_plan_is_refused(readout):
    spec = make_spec((4, 3), timesteps=2, readout=readout,
                     neurons=[LIFSpec()] if readout == "spikes" else None)
    lp = plan_core(random_network(spec, 0), lanes=2).layers[0]
    with pytest.raises(ValueError, match=r"^layer 0 is the readout, not a hidden layer$"):
        HiddenLayer(layer=lp, timesteps=2)


def test_pass_does_not_wait_for_the_next_layer():
    """Pipelining: with the next layer taking nothing, the layer still finishes its pass of
    step 0 in G cycles (all groups traced, spikes queued) and takes step 1's events."""
    neuron = LIFSpec(8, 1, None, "subtract")  # theta 1: many spikes
    spec = make_spec((6, 12, 2), timesteps=2, neurons=[neuron])
    net = random_network(spec, seed=2)
    lp = plan_core(net, lanes=2).layers[0]
    x = np.zeros((2, 1, 6), np.int64)
    x[:, 0, :4] = 1
    want_s, _ = _golden_layer(lp, x)
    assert want_s[0].sum() >= lp.groups, "the case must queue many spikes"
    dut = HiddenLayer(layer=lp, timesteps=2)
    src = EventSource(dut.i_events, layer_events(False, x), rng=random.Random(0), idle=0.0,
                      value_bits=0)
    seen = {"trace": [], "step1_taken": None}

    async def bench(ctx):
        for cycle in range(200):
            src.drive(ctx)
            ctx.set(dut.o_events.ready, 0)  # the next layer is busy the whole time
            pos = src.pos
            src.sample(ctx)
            if pos == 5 and src.pos == 6 and seen["step1_taken"] is None:
                seen["step1_taken"] = cycle  # step 1's first event (after 4 events + eos)
            if ctx.get(dut.trace.valid):
                seen["trace"].append(cycle)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    step0 = seen["trace"][: lp.groups]
    assert len(step0) == lp.groups
    assert step0 == list(range(step0[0], step0[0] + lp.groups)), "one group per cycle"
    assert seen["step1_taken"] is not None and seen["step1_taken"] <= step0[-1] + 3
