"""Drive an integrator (dense ``Integrator`` or ``ConvIntegrator``) in amaranth.sim: offer
events with random idle cycles, wait until it is idle, read back every row of currents."""

import random

import numpy as np
from amaranth.sim import Simulator


def integrate(dut, lp, events, *, idle=0.0, seed=0):
    """Feed ``events`` [(index, value)] into ``dut``, wait until idle, read every row back.

    Returns ``{"idle_at": cycles from the first accepted event until idle rose,
    "rows": every row's currents, flat [groups * lanes]}``.
    """
    rng = random.Random(seed)
    out = {}

    async def bench(ctx):
        pos, cycle, first = 0, 0, None
        while pos < len(events):
            offer = rng.random() >= idle
            ctx.set(dut.events.valid, offer)
            ctx.set(dut.events.payload.index, events[pos][0])
            if lp.value_bits:
                ctx.set(dut.events.payload.value, events[pos][1])
            if offer and ctx.get(dut.events.ready):
                first = cycle if first is None else first
                pos += 1
            await ctx.tick()
            cycle += 1
        ctx.set(dut.events.valid, 0)
        while not ctx.get(dut.idle):
            await ctx.tick()
            cycle += 1
        out["idle_at"] = cycle - first
        rows = []
        for r in range(lp.groups):
            ctx.set(dut.rd_addr, r)
            ctx.set(dut.rd_en, 1)
            await ctx.tick()
            rows.append([ctx.get(dut.rd_data[j]) for j in range(lp.lanes)])
        out["rows"] = np.array(rows, np.int64).reshape(-1)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out
