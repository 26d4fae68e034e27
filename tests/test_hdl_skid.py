"""core.skid.SkidBuffer: every beat, in order, one a cycle, with ``i.ready`` from a register;
placed before every layer (layer 0's: after the input adapter) of ECP5 cores only."""

import random

from amaranth import Fragment
from amaranth.sim import Simulator
from spikefab.spec import LIFSpec
from spikefab_hdl.core.network import NetworkCore
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.core.skid import SkidBuffer
from spikefab_hdl.sim.bound import step_latency
from spikefab_hdl.sim.randnet import make_spec, random_network
from yosys_synth import synth_top


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


def test_skid_buffers_sit_before_every_layer_of_ecp5_cores_only():
    """``bram_outreg`` (an ECP5 build) plans a skid before every layer, the first included
    (its events from the input adapter), the core builds exactly those, and each costs its
    layer a cycle a step in the bound."""
    spec = make_spec((8, 6, 5, 3), neurons=[LIFSpec(8, 12, 1), LIFSpec(8, 12, 1)])
    net = random_network(spec, seed=0)
    for outreg, want in ((False, [False, False, False]), (True, [True, True, True])):
        plan = plan_core(net, lanes=2, bram_outreg=outreg)
        assert [lp.skid for lp in plan.layers] == want
        core = NetworkCore(net=net, lanes=2, trace=False, bram_outreg=outreg)
        frag = Fragment.get(core, None)
        names = {name for _, name, _ in frag.subfragments}
        assert {n for n in names if n.startswith("skid")} == \
            {f"skid{i}" for i, s in enumerate(want) if s}
    plain, ecp5 = (plan_core(net, lanes=2, bram_outreg=r).layers for r in (False, True))
    assert [step_latency(b) - step_latency(a) for a, b in zip(plain, ecp5, strict=True)] == \
        [1, 1, 1]


def _walk_address_cone(core, tmp_path) -> set:
    """The wires in the combinational input cone of layer 0's ``walk_addr_next`` (the value
    its weight-address registers and their copies load), after ``proc; flatten``."""
    synth_top(core, tmp_path, "proc; flatten; opt_clean",
              extra="tee -q -o cone.txt select -list w:layer0.*walk_addr_next %cie*")
    return {line.strip().split("/", 1)[-1] for line in
            (tmp_path / "cone.txt").read_text().splitlines() if line.strip()}


def test_layer0_walk_address_starts_at_its_own_registers(tmp_path):
    """On an ECP5 core with packed input, the walk's next weight address (the flip-flops at
    the 85F's block-RAM address pins, across the die) depends on the skid's registers and the
    walk's own, not on the input adapter's held beat (the ``held`` -> ``valid`` -> ``base``
    path: the ``128x3`` build's critical path at 84.81 and 92.22 MHz, docs/hardware.md)."""
    spec = make_spec((140, 16, 4), encoding="direct", in_bits=4, timesteps=2, w_bits=6,
                     neurons=[LIFSpec(10, 24, 2)])
    net = random_network(spec, seed=0)
    core = NetworkCore(net=net, lanes=["4x4", 2], in_pack=8, dsp=0, trace=False,
                       bram_outreg="always")
    assert core.plan.layers[0].outreg
    cone = _walk_address_cone(core, tmp_path)
    named = {w for w in cone if not w.startswith("$")}
    assert {"layer0.integrator.base", "skid0.o__valid", "skid0.o__payload"} <= named, named
    # nothing from the input adapter (the network's own wires: held, beats, values, ...)
    assert all(w.startswith(("layer0.", "skid0.")) for w in named), sorted(named)
