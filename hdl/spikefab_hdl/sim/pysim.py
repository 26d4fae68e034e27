"""Run a whole core in ``amaranth.sim`` (slow, no external tools): the fast tests' bench.

:func:`simulate_amaranth` returns the same dictionary as
:func:`spikefab_hdl.sim.rtlsim.simulate` (without the timing entries), plus ``wall_cycles``:
the cycles from each sample's first input handshake to its first output beat as seen
by the bench, which must equal the core's own ``cycles`` count.
"""

from __future__ import annotations

import random

import numpy as np
from amaranth import ClockDomain, Module
from amaranth.sim import Simulator
from spikefab.golden import check_input
from spikefab.ir import QuantizedNetwork

from ..build.verilog import describe_core
from ..core.network import NetworkCore
from .beats import Recorder, input_beats

__all__ = ["simulate_amaranth", "sample_inputs", "layer_events", "EventSource"]

PERIOD = 1e-6


def sample_inputs(net: QuantizedNetwork, x) -> list[np.ndarray]:
    """Split a batch (as ``golden.check_input`` accepts it) into per-sample inputs."""
    xs = check_input(net, x)
    if net.spec.encoding == "direct":
        return [xs[0, b] for b in range(xs.shape[1])]
    return [xs[:, b] for b in range(xs.shape[1])]


def simulate_amaranth(
    net: QuantizedNetwork,
    x,
    *,
    lanes: int = 4,
    trace: bool = True,
    idle: float = 0.0,
    stall: float = 0.0,
    seed: int = 0,
    max_cycles: int = 200_000,
    abort_after: int | None = None,
    spram=None,
    in_pack: int = 1,
    dsp: int | None = None,
    bram_outreg: bool = False,
) -> dict:
    """Stream ``x`` through the core in amaranth.sim and record everything it outputs.

    Parameters
    ----------
    idle, stall : float
        Probability that the bench withholds an input beat / output ``ready`` in a cycle.
    max_cycles : int
        Give up (``AssertionError``) after this many cycles.
    abort_after : int, optional
        First stream the first sample for this many cycles, then hold ``rst`` high for
        two cycles, then run the whole batch from the start: the results must not
        depend on the aborted sample.
    spram : dict, optional
        The core's placement of state memories in single-port RAM (``NetworkCore``).
    in_pack : int
        Direct input values per beat (``NetworkCore``).
    dsp : int, optional
        Products in DSP blocks at most, the rest in logic (``NetworkCore``).
    bram_outreg : bool
        The ECP5 core's deeper pipelines (``NetworkCore``); only where no weight memory
        has block-RAM rows (amaranth.sim cannot run the DP16KD instances).
    """
    core = NetworkCore(net=net, lanes=lanes, trace=trace, spram=spram, in_pack=in_pack,
                       dsp=dsp, bram_outreg=bram_outreg)
    desc = describe_core(core)
    samples = sample_inputs(net, x)
    beats = [input_beats(desc, s) for s in samples]
    rec = Recorder(desc, len(samples))
    rng = random.Random(seed)
    per_result = rec.beats_per_result
    layers = [lp["index"] for lp in desc["plan"]["layers"]]
    wall: list[int] = []

    top = Module()
    top.domains.sync = domain = ClockDomain("sync")
    top.submodules.core = core

    async def abort(ctx):
        i, o = core.i_stream, core.o_stream
        ctx.set(o.ready, 1)
        for k in range(abort_after):
            ctx.set(i.valid, 1)
            ctx.set(i.payload.as_value(), beats[0][k % len(beats[0])])
            await ctx.tick()
        ctx.set(i.valid, 0)
        ctx.set(domain.rst, 1)
        await ctx.delay(2 * PERIOD)  # tick() would raise DomainReset
        ctx.set(domain.rst, 0)

    async def bench(ctx):
        if abort_after is not None:
            await abort(ctx)
        i, o = core.i_stream, core.o_stream
        queue = [beat for sample in beats for beat in sample]
        starts, pos, cycle = [], 0, 0
        sample_len = [len(b) for b in beats]
        boundaries = set(np.cumsum([0] + sample_len[:-1]).tolist())
        first_out_seen = False
        while len(rec.outputs) < len(samples) * per_result:
            if cycle > max_cycles:
                raise AssertionError(f"no result after {max_cycles} cycles")
            offer = pos < len(queue) and rng.random() >= idle
            ctx.set(i.valid, offer)
            if offer:
                ctx.set(i.payload.as_value(), queue[pos])
            take = rng.random() >= stall
            ctx.set(o.ready, take)
            if offer and ctx.get(i.ready):
                if pos in boundaries:
                    starts.append(cycle)
                pos += 1
            if ctx.get(o.valid):
                if not first_out_seen:
                    wall.append(cycle - starts[len(wall)])
                    first_out_seen = True
                if take:
                    rec.output(ctx.get(o.payload.as_value()))
                    if len(rec.outputs) % per_result == 0:
                        first_out_seen = False
            if trace:
                for idx in layers:
                    port = getattr(core.trace, f"l{idx}")
                    if ctx.get(port.valid):
                        rec.trace(idx, ctx.get(port.payload.as_value()))
            await ctx.tick()
            cycle += 1
        for _ in range(8):  # drain: nothing more may come out
            ctx.set(o.ready, 1)
            if ctx.get(o.valid):
                raise AssertionError("output beat after the last expected result")
            await ctx.tick()

    sim = Simulator(top)
    sim.add_clock(PERIOD)
    sim.add_testbench(bench)
    sim.run()
    res = rec.results()
    res["wall_cycles"] = np.asarray(wall, np.int64)
    if trace:
        res.update(rec.trace_arrays())
    return res


def layer_events(repeat: bool, xs: np.ndarray, *, rng=None) -> list[tuple[int, int, int]]:
    """``(index, value, eos)`` events of a batch ``xs`` [T, B, n_in] entering one layer.

    A *repeat* layer (direct first layer) gets every input once per sample (zeros
    included), then one ``eos``; any other layer gets, per step, its active inputs (in
    an order shuffled by ``rng`` if given) and one ``eos``.
    """
    events = []
    for b in range(xs.shape[1]):
        if repeat:
            events += [(i, int(v), 0) for i, v in enumerate(xs[0, b])] + [(0, 0, 1)]
            continue
        for t in range(xs.shape[0]):
            active = [int(i) for i in np.flatnonzero(xs[t, b])]
            if rng is not None:
                rng.shuffle(active)
            events += [(i, 1, 0) for i in active] + [(0, 0, 1)]
    return events


class EventSource:
    """Offers ``events`` on a layer's ``i_events`` in amaranth.sim, idle with probability ``idle``.

    Call :meth:`drive` then :meth:`sample` once per cycle, before ``await ctx.tick()``.
    """

    def __init__(self, port, events, *, rng, idle: float, value_bits: int):
        self.port, self.events, self.rng, self.idle = port, events, rng, idle
        self.value_bits = value_bits
        self.pos = 0
        self.offered = False

    @property
    def empty(self) -> bool:
        return self.pos >= len(self.events)

    def drive(self, ctx) -> None:
        self.offered = not self.empty and self.rng.random() >= self.idle
        ctx.set(self.port.valid, self.offered)
        if self.offered:
            index, value, eos = self.events[self.pos]
            ctx.set(self.port.payload.index, index)
            ctx.set(self.port.payload.eos, eos)
            if self.value_bits:
                ctx.set(self.port.payload.value, value)

    def sample(self, ctx) -> None:
        if self.offered and ctx.get(self.port.ready):
            self.pos += 1
