"""arith.times: constant multiplication from shifts and adds, exact, and its bad-input message."""

import pytest
from amaranth import Module, Signal, signed
from amaranth.sim import Simulator
from spikefab_hdl.core.arith import csd_terms, times, times_const

KS = [0, 1, 2, 3, 5, 10, 32, 127]


def _products(fn, x, ks, values, out_shape) -> dict:
    """``{(v, k): fn(x, k)}`` evaluated in amaranth.sim for every ``v`` of ``values``."""
    m = Module()
    outs = {k: Signal(out_shape) for k in ks}
    for k, out in outs.items():
        m.d.comb += out.eq(fn(x, k))
    got = {}

    async def bench(ctx):
        for v in values:
            ctx.set(x, v)
            for k, out in outs.items():
                got[(v, k)] = ctx.get(out)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return got


def test_times_equals_the_product():
    got = _products(times, Signal(7), KS, range(128), 16)
    assert got == {(v, k): v * k for v in range(128) for k in KS}


@pytest.mark.parametrize("k", [-1, 2.0, True])
def test_times_refuses_what_is_not_a_natural_number(k):
    with pytest.raises(ValueError, match=rf"^k must be a non-negative integer, not {k!r}$"):
        times(Signal(4), k)


KC = [0, 1, 2, 3, 7, 205, 410, 819, 4095, 4096, 65535, 65536]


def test_csd_terms_rebuild_k_without_adjacent_digits():
    for k in list(range(300)) + KC:
        terms = csd_terms(k)
        assert sum(sign << shift for shift, sign in terms) == k
        shifts = [shift for shift, _ in terms]
        assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:], strict=False)), (k, terms)
    assert len(csd_terms(410)) == 5 and len(csd_terms(4095)) == 2  # 4096 - 1


def test_times_const_equals_the_signed_product():
    values = range(-256, 256)
    got = _products(times_const, Signal(signed(9)), KC, values, signed(28))
    assert got == {(v, k): v * k for v in values for k in KC}


@pytest.mark.parametrize("k", [-1, 2.0, True])
def test_times_const_refuses_what_is_not_a_natural_number(k):
    with pytest.raises(ValueError, match=rf"^k must be a non-negative integer, not {k!r}$"):
        times_const(Signal(4), k)
