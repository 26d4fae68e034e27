"""The conv blocks against golden, exactly: ConvIntegrator (every tap, padding, stride and
border) and ConvLayer (membranes, spikes, OR pooling, the events it sends on)."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator
from integrator_drive import integrate
from numpy.testing import assert_array_equal
from spikefab.golden import lif_init, lif_step
from spikefab.golden.layers import conv_current, pass_on
from spikefab.spec import LIFSpec
from spikefab_hdl.build.verilog import layout_fields
from spikefab_hdl.core.conv_geometry import ConvGeometry, taps
from spikefab_hdl.core.conv_integrator import ConvIntegrator
from spikefab_hdl.core.conv_layer import ConvLayer
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.sim.beats import field, golden_order
from spikefab_hdl.sim.pysim import EventSource
from spikefab_hdl.sim.randnet import make_conv_spec, random_network

# (image (C, H, W), conv (C_out, k, stride, padding[, pool])): padding and stride at the
# borders, kernels that skip inputs (stride > k), 1x1 kernels, ragged channel groups
SHAPES = [
    ((2, 5, 6), (3, 3, 1, 1)),
    ((1, 7, 7), (4, 3, 2, 1)),
    ((3, 6, 5), (5, 2, 2, 0)),
    ((2, 5, 5), (2, 4, 3, 2)),
    ((1, 7, 6), (3, 1, 2, 0)),
]


def _plan(image, conv, lanes, encoding, *, dense=(3,), seed=0, neurons=None):
    spec = make_conv_spec(image, [conv], list(dense), encoding=encoding, in_bits=3, w_bits=6,
                          neurons=neurons)
    net = random_network(spec, seed)
    return net, plan_core(net, lanes=lanes)


def _events(geo, x, encoding, rng):
    """``[(packed, value)]`` of one input vector: all inputs (direct) or the spikes, shuffled."""
    idx = list(range(x.size)) if encoding == "direct" else [int(i) for i in np.flatnonzero(x)]
    if encoding == "spikes":
        rng.shuffle(idx)
    c, y, xx = geo.unpack_flat(np.array(idx, np.int64))
    return list(zip(geo.pack(c, y, xx).tolist(), [int(x[i]) for i in idx], strict=True))


def _integrate(lp, events, *, idle, seed):
    return integrate(ConvIntegrator(layer=lp), lp, events, idle=idle, seed=seed)


def test_taps_are_the_output_positions_an_input_touches():
    for size, k, s, p in [(7, 3, 2, 1), (5, 4, 3, 2), (6, 1, 2, 0), (5, 5, 1, 4)]:
        out = (size + 2 * p - k) // s + 1
        for y, (k0, o0, n) in enumerate(taps(size, out, k, s, p)):
            want = [(ky, (y + p - ky) // s) for ky in range(k)
                    if (y + p - ky) % s == 0 and 0 <= (y + p - ky) // s < out]
            assert [(k0 + i * s, o0 - i) for i in range(n)] == want


@pytest.mark.parametrize("encoding", ["spikes", "direct"])
@pytest.mark.parametrize("lanes", [1, 2, 4])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}-{s[1]}")
def test_conv_integrator_matches_golden_conv_current(shape, lanes, encoding):
    image, conv = shape
    net, plan = _plan(image, conv, lanes, encoding)
    lp = plan.layers[0]
    geo = lp.geometry
    x = np.random.default_rng(lanes).integers(0, 8 if encoding == "direct" else 2, lp.n_in)
    x[np.random.default_rng(1).random(lp.n_in) < 0.3] = 0
    out = _integrate(lp, _events(geo, x, encoding, random.Random(2)), idle=0.3, seed=lanes)
    want = conv_current(lp.conv, net.weights[0], np.zeros(lp.conv.out_channels, np.int64),
                        x[None])[0]
    assert_array_equal(out["rows"][golden_order(lp.to_dict(), lanes)], want)


@pytest.mark.parametrize("shape", [*SHAPES[:2], ((2, 5, 5), (2, 4, 1, 2))],
                         ids=lambda s: f"{s[0]}-{s[1]}")
def test_each_event_costs_its_taps_times_the_channel_groups(shape):
    """With input always valid: ``sum(taps(i)) * G`` cycles plus a constant latency."""
    image, conv = shape
    _, plan = _plan(image, conv, 2, "spikes")
    lp = plan.layers[0]
    geo = lp.geometry
    per = geo.taps_per_input()
    assert per.min() > 0
    latency = set()
    for seed in range(3):
        x = (np.random.default_rng(seed).random(lp.n_in) < 0.2 * (seed + 1)).astype(np.int64)
        out = _integrate(lp, _events(geo, x, "spikes", random.Random(seed)), idle=0, seed=0)
        latency.add(out["idle_at"] - int(per[x != 0].sum()) * geo.groups)
    assert len(latency) == 1 and 0 < latency.pop() <= 6


def _golden_conv_layer(net, xs):
    """spikes, membranes ``[T, n]`` and the next layer's inputs of one conv layer on ``xs``."""
    layer = net.spec.layers[0]
    state = lif_init((1, layer.n_out), layer.neuron)
    spikes, membranes, seen = [], [], []
    for t in range(xs.shape[0]):
        cur = conv_current(layer.conv, net.weights[0], net.biases[0], xs[t][None])
        s, state = lif_step(cur, state, layer.neuron)
        spikes.append(s[0])
        membranes.append(state.v[0])
        seen.append(pass_on(layer, s.astype(np.int64))[0])
    return np.array(spikes), np.array(membranes), np.array(seen)


def _run_conv_layer(lp, steps, events, *, seed):
    dut = ConvLayer(layer=lp, timesteps=steps)
    rng = random.Random(seed)
    src = EventSource(dut.i_events, events, rng=rng, idle=0.2, value_bits=lp.value_bits)
    out, traces = [[]], []

    async def bench(ctx):
        while len(out) <= steps:
            src.drive(ctx)
            take = rng.random() >= 0.3
            ctx.set(dut.o_events.ready, take)
            src.sample(ctx)
            if take and ctx.get(dut.o_events.valid):
                if ctx.get(dut.o_events.payload.eos):
                    out.append([])
                else:
                    out[-1].append(ctx.get(dut.o_events.payload.index))
            if ctx.get(dut.trace.valid):
                traces.append(ctx.get(dut.trace.payload.as_value()))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out[:-1], traces, layout_fields(dut.trace.payload.shape())


@pytest.mark.parametrize("next_conv", [False, True], ids=["into-dense", "into-conv"])
@pytest.mark.parametrize(("image", "conv", "lanes"), [
    ((2, 7, 7), (3, 3, 1, 1, 2), 2),   # pool 2, a ragged last row and column of windows
    ((1, 9, 8), (4, 2, 1, 0, 3), 4),   # pool 3: windows of 9 rows; 8 x 7 outputs
    ((2, 6, 6), (5, 3, 1, 1, 1), 2),   # no pooling
])
def test_conv_layer_pools_and_sends_exactly_golden(image, conv, lanes, next_conv):
    convs = [conv, (2, 1)] if next_conv else [conv]
    neurons = [LIFSpec(8, 5, 2), LIFSpec(8, 5, 2)][: len(convs)]
    spec = make_conv_spec(image, convs, [3], w_bits=6, timesteps=3, neurons=neurons)
    net = random_network(spec, 5)
    lp = plan_core(net, lanes=lanes).layers[0]
    geo = lp.geometry
    steps = spec.timesteps
    xs = (np.random.default_rng(4).random((steps, lp.n_in)) < 0.4).astype(np.int64)
    spikes, membranes, seen = _golden_conv_layer(net, xs)
    assert 0.1 < spikes.mean() < 0.9
    rng = random.Random(0)
    events = []
    for t in range(steps):
        events += [(p, 1, 0) for p, _ in _events(geo, xs[t], "spikes", rng)] + [(0, 0, 1)]
    out, traces, tf = _run_conv_layer(lp, steps, events, seed=1)
    order = golden_order(lp.to_dict(), lanes)
    assert len(traces) == steps * lp.groups
    for t in range(steps):
        beats = traces[t * lp.groups:(t + 1) * lp.groups]
        assert [field(b, tf["group"]) for b in beats] == list(range(lp.groups))
        vals = np.array([field(b, tf["values"]) for b in beats]).reshape(-1)
        bits = np.array([[(field(b, tf["spikes"]) >> j) & 1 for j in range(lanes)]
                         for b in beats]).reshape(-1)
        assert_array_equal(vals[order], membranes[t])
        assert_array_equal(bits[order], spikes[t])
        want = np.flatnonzero(seen[t])
        if next_conv:
            nxt = ConvGeometry(spec.layers[1].conv, lanes)
            want = nxt.pack(*nxt.unpack_flat(want))
        assert sorted(out[t]) == sorted(want.tolist()), f"step {t}"
