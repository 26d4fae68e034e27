"""arith.times: constant multiplication from shifts and adds, exact, and its bad-input message."""

import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator
from spikefab_hdl.core.arith import times

KS = [0, 1, 2, 3, 5, 10, 32, 127]


def test_times_equals_the_product():
    m = Module()
    x = Signal(7)
    outs = {k: Signal(16) for k in KS}
    for k, out in outs.items():
        m.d.comb += out.eq(times(x, k))
    got = {}

    async def bench(ctx):
        for v in range(128):
            ctx.set(x, v)
            for k, out in outs.items():
                got[(v, k)] = ctx.get(out)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert got == {(v, k): v * k for v in range(128) for k in KS}


@pytest.mark.parametrize("k", [-1, 2.0, True])
def test_times_refuses_what_is_not_a_natural_number(k):
    with pytest.raises(ValueError, match=rf"^k must be a non-negative integer, not {k!r}$"):
        times(Signal(4), k)
