"""core.skid.SkidBuffer: every beat, in order, one a cycle, with ``i.ready`` from a register;
placed between the layers of ECP5 cores only."""

import random

from amaranth import Fragment
from amaranth.sim import Simulator
from spikefab.spec import LIFSpec
from spikefab_hdl.core.network import NetworkCore
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.core.skid import SkidBuffer
from spikefab_hdl.sim.bound import step_latency
from spikefab_hdl.sim.randnet import make_spec, random_network


def _run(n_cycles: int, p_valid: float, p_ready: float, seed: int):
    """Random ``i.valid``/``o.ready`` for ``n_cycles``; returns (sent, received, ready_seen)."""
    dut = SkidBuffer(8)
    rng = random.Random(seed)
    sent, received, comb_ready = [], [], []

    async def bench(ctx):
        nxt = 0
        for _ in range(n_cycles):
            valid = rng.random() < p_valid
            ctx.set(dut.i.valid, valid)
            ctx.set(dut.i.payload, nxt & 0xFF)
            # i.ready must not follow o.ready within the cycle
            ctx.set(dut.o.ready, 0)
            r0 = ctx.get(dut.i.ready)
            ctx.set(dut.o.ready, 1)
            r1 = ctx.get(dut.i.ready)
            comb_ready.append(r0 != r1)
            ctx.set(dut.o.ready, rng.random() < p_ready)
            if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                received.append(ctx.get(dut.o.payload))
            if valid and ctx.get(dut.i.ready):
                sent.append(nxt & 0xFF)
                nxt += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return sent, received, comb_ready


def test_skid_passes_every_beat_in_order_under_random_stalls():
    for seed in range(4):
        sent, received, comb_ready = _run(400, 0.7, 0.6, seed)
        assert len(sent) > 150
        assert received == sent[:len(received)] and len(sent) - len(received) <= 2
        assert not any(comb_ready), "i.ready follows o.ready combinationally"


def test_skid_takes_one_beat_a_cycle_one_cycle_later():
    sent, received, _ = _run(100, 1.0, 1.0, 0)
    assert len(sent) == 100 and received == sent[:99]


def test_skid_buffers_sit_between_the_layers_of_ecp5_cores_only():
    """``bram_outreg`` (an ECP5 build) plans a skid before every layer after the first, the
    core builds exactly those, and each costs its layer a cycle a step in the bound."""
    spec = make_spec((8, 6, 5, 3), neurons=[LIFSpec(8, 12, 1), LIFSpec(8, 12, 1)])
    net = random_network(spec, seed=0)
    for outreg, want in ((False, [False, False, False]), (True, [False, True, True])):
        plan = plan_core(net, lanes=2, bram_outreg=outreg)
        assert [lp.skid for lp in plan.layers] == want
        core = NetworkCore(net=net, lanes=2, trace=False, bram_outreg=outreg)
        frag = Fragment.get(core, None)
        names = {name for _, name, _ in frag.subfragments}
        assert {n for n in names if n.startswith("skid")} == \
            {f"skid{i}" for i, s in enumerate(want) if s}
    plain, ecp5 = (plan_core(net, lanes=2, bram_outreg=r).layers for r in (False, True))
    assert [step_latency(b) - step_latency(a) for a, b in zip(plain, ecp5, strict=True)] == \
        [0, 1, 1]
