"""ReadoutLayer (per-step logits on trace, accumulators out) and SpikingReadout (spikes,
membranes, synaptic currents on trace, spike counts out) against golden, exactly."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator
from spikefab.golden import run_network
from spikefab.spec import LIFSpec, SynapseSpec
from spikefab_hdl.build.verilog import layout_fields
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.core.readout import ReadoutLayer
from spikefab_hdl.core.spike_readout import SpikingReadout
from spikefab_hdl.sim.beats import field
from spikefab_hdl.sim.pysim import EventSource, layer_events
from spikefab_hdl.sim.randnet import make_spec, random_input, random_network


def _run(lp, steps, xs, *, idle, stall, seed, cls=ReadoutLayer):
    dut = cls(layer=lp, timesteps=steps)
    rng = random.Random(seed)
    batch = xs.shape[1]
    src = EventSource(dut.i_events, layer_events(lp.repeat, xs), rng=rng, idle=idle,
                      value_bits=lp.value_bits)
    accs, traces = [], []
    tf = layout_fields(dut.trace.payload.shape())

    async def bench(ctx):
        while len(accs) < batch * lp.n_out:
            src.drive(ctx)
            take = rng.random() >= stall
            ctx.set(dut.o_acc.ready, take)
            src.sample(ctx)
            if take and ctx.get(dut.o_acc.valid):
                accs.append((ctx.get(dut.o_acc.payload.data), ctx.get(dut.o_acc.payload.last)))
            if ctx.get(dut.trace.valid):
                traces.append(ctx.get(dut.trace.payload.as_value()))
            await ctx.tick()
        for _ in range(10):  # drain: nothing more comes out
            ctx.set(dut.o_acc.ready, 1)
            assert not ctx.get(dut.o_acc.valid)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return accs, traces, tf


@pytest.mark.parametrize(
    "encoding,lanes,steps", [("spikes", 1, 3), ("spikes", 4, 2), ("direct", 3, 4), ("direct", 8, 1)]
)
def test_readout_matches_golden(encoding, lanes, steps):
    """A readout-only network: logits every step, accumulators after the last."""
    spec = make_spec((9, 7), timesteps=steps, encoding=encoding, in_bits=4, w_bits=8)
    net = random_network(spec, seed=lanes)
    lp = plan_core(net, lanes=lanes).layers[0]
    x = random_input(spec, 3, seed=steps, rate=0.5)
    gold = run_network(net, x)
    xs = np.broadcast_to(x, (steps, *x.shape)) if encoding == "direct" else x
    accs, traces, tf = _run(lp, steps, xs, idle=0.3, stall=0.4, seed=lanes)

    batch = xs.shape[1]
    got = np.array([a for a, _ in accs], np.int64).reshape(batch, lp.n_out)
    lasts = np.array([last for _, last in accs]).reshape(batch, lp.n_out)
    np.testing.assert_array_equal(got, gold.acc)
    np.testing.assert_array_equal(lasts[:, -1], 1)
    np.testing.assert_array_equal(lasts[:, :-1], 0)
    logits = np.zeros((steps, batch, lp.groups * lanes), np.int64)
    assert len(traces) == batch * steps * lp.groups
    for k, raw in enumerate(traces):
        b, t, g = k // (steps * lp.groups), (k // lp.groups) % steps, k % lp.groups
        assert (field(raw, tf["step"]), field(raw, tf["group"])) == (t, g)
        logits[t, b, g * lanes:(g + 1) * lanes] = field(raw, tf["values"])
    np.testing.assert_array_equal(logits[:, :, : lp.n_out], gold.logits)


def test_hidden_plan_is_refused():
    spec = make_spec((4, 5, 3), timesteps=2)
    lp = plan_core(random_network(spec, 0), lanes=2).layers[0]
    with pytest.raises(ValueError, match=r"^layer 0 is a hidden layer, not the readout$"):
        ReadoutLayer(layer=lp, timesteps=2)


SPIKING = [
    # (encoding, neuron, lanes, steps)
    ("spikes", LIFSpec(8, 12, 2), 1, 4),
    ("spikes", LIFSpec(7, 10, None, "subtract-delayed", decay=100, decay_bits=8,
                       threshold="gt"), 4, 5),
    ("direct", LIFSpec(9, 30, None, "zero", synapse=SynapseSpec(8, 3, 2)), 3, 4),
    ("direct", LIFSpec(10, 60, 1, threshold="gt", synapse=SynapseSpec(12, 4000, 12)), 8, 1),
]


@pytest.mark.parametrize("encoding,neuron,lanes,steps", SPIKING,
                         ids=[f"{c[0]}-{c[1].reset}-l{c[2]}-T{c[3]}" for c in SPIKING])
def test_spiking_readout_matches_golden(encoding, neuron, lanes, steps):
    """A spiking-readout-only network: spikes, membranes (and synaptic currents) every step,
    the spike counts after the last."""
    spec = make_spec((9, 7), timesteps=steps, encoding=encoding, in_bits=4, w_bits=6,
                     readout="spikes", neurons=[neuron])
    net = random_network(spec, seed=lanes)
    lp = plan_core(net, lanes=lanes).layers[0]
    x = random_input(spec, 3, seed=steps, rate=0.5)
    gold = run_network(net, x)
    assert 0 < gold.spikes[0].mean() < 1, "the case must both spike and stay silent"
    xs = np.broadcast_to(x, (steps, *x.shape)) if encoding == "direct" else x
    accs, traces, tf = _run(lp, steps, xs, idle=0.3, stall=0.4, seed=lanes, cls=SpikingReadout)

    batch = xs.shape[1]
    got = np.array([a for a, _ in accs], np.int64).reshape(batch, lp.n_out)
    np.testing.assert_array_equal(got, gold.acc)
    assert [last for _, last in accs][lp.n_out - 1::lp.n_out] == [1] * batch
    width = lp.groups * lanes
    spikes = np.zeros((steps, batch, width), np.int64)
    values = np.zeros((steps, batch, width), np.int64)
    syn = np.zeros((steps, batch, width), np.int64)
    assert len(traces) == batch * steps * lp.groups
    for k, raw in enumerate(traces):
        b, t, g = k // (steps * lp.groups), (k // lp.groups) % steps, k % lp.groups
        assert (field(raw, tf["step"]), field(raw, tf["group"])) == (t, g)
        lanes_of = slice(g * lanes, (g + 1) * lanes)
        bits = field(raw, tf["spikes"])
        spikes[t, b, lanes_of] = [(bits >> j) & 1 for j in range(lanes)]
        values[t, b, lanes_of] = field(raw, tf["values"])
        if neuron.synapse is not None:
            syn[t, b, lanes_of] = field(raw, tf["synapses"])
    np.testing.assert_array_equal(spikes[:, :, : lp.n_out], gold.spikes[0])
    np.testing.assert_array_equal(spikes[:, :, : lp.n_out], gold.logits)
    np.testing.assert_array_equal(values[:, :, : lp.n_out], gold.membranes[0])
    if neuron.synapse is not None:
        np.testing.assert_array_equal(syn[:, :, : lp.n_out], gold.synapses[0])


def test_spiking_readout_refuses_other_plans():
    spec = make_spec((4, 5, 3), timesteps=2)
    for lp in plan_core(random_network(spec, 0), lanes=2).layers:
        with pytest.raises(ValueError, match=rf"^layer {lp.index} is not a spiking readout$"):
            SpikingReadout(layer=lp, timesteps=2)
