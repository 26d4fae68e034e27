"""The spike queue's search for the lowest spike of a mask: log-depth trees, exact.

``lowest_set_bit`` and ``without_lowest_bit`` (spike_queue.py) replace a ``width``-long
priority chain and the carry chain of ``word & (word - 1)``, ``count_to_3`` tells the
queue one cycle ahead whether a single spike is left; here they are checked against
Python integers on every word up to 8 bits and on random sparse and single-bit words up to
128 bits (the widest lanes).
"""

import random

import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator
from spikefab_hdl.core.spike_queue import count_to_3, lowest_set_bit, without_lowest_bit


@pytest.mark.parametrize("width", [1, 2, 3, 5, 8, 13, 64, 128])
def test_lowest_set_bit_and_the_rest(width):
    m = Module()
    word, rest, count = Signal(width), Signal(width), Signal(2)
    index = lowest_set_bit(m, word, width)
    m.d.comb += [rest.eq(without_lowest_bit(word, width)), count.eq(count_to_3(word, width))]
    rng = random.Random(width)
    if width <= 8:
        words = range(1 << width)
    else:
        words = ([rng.getrandbits(width) & rng.getrandbits(width) for _ in range(200)]
                 + [1 << k for k in range(width)] + [0, (1 << width) - 1]
                 + [(1 << k) | (1 << (width - 1 - k)) for k in range(width)])
    wrong = []

    async def bench(ctx):
        for v in words:
            ctx.set(word, v)
            want = ((v & -v).bit_length() - 1 if v else 0, v & (v - 1), min(3, v.bit_count()))
            if (ctx.get(index), ctx.get(rest), ctx.get(count)) != want:
                wrong.append(v)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert wrong == []
