"""The UART at 3 Mbaud from a 25 MHz clock (the ULX3S): 8 1/3 cycles per bit, in amaranth.sim.

The divider's error bound (hdl/spikefab_hdl/board/uart.py): every transmitted bit edge lies
within one clock cycle of its ideal time ``k * clk_hz / baud`` and the mean rate is exact;
the receiver takes bytes sent at the exact rate from any start phase, and from a far end
whose clock is 2 % fast or slow (the quarter bit left to it).
"""

from fractions import Fraction
from math import floor

import pytest
from amaranth import Module
from amaranth.sim import Simulator
from spikefab_hdl.board.uart import UARTRx, UARTTx, uart_divisor

CLK_HZ, BAUD = 25_000_000, 3_000_000
D = uart_divisor(CLK_HZ, BAUD)


def line_bits(byte: int) -> list[int]:
    return [0] + [(byte >> i) & 1 for i in range(8)] + [1]


def line(chars, bit_time, start: float = 0.0) -> list[int]:
    """Line levels per cycle: characters back to back, bit k of the stream from
    ``start + k * bit_time`` on (cycle c shows the bit under its sampling instant c)."""
    bits = [b for c in chars for b in line_bits(c)]
    n = floor(start + len(bits) * bit_time) + 1
    out = []
    for c in range(n):
        k = floor((c - start) / bit_time) if c >= start else -1
        out.append(1 if k < 0 or k >= len(bits) else bits[k])
    return out + [1] * 30


def test_tx_edges_within_one_cycle_and_mean_rate_exact():
    assert D == Fraction(25, 3)
    dut = UARTTx(divisor=D)
    sent = [0x55, 0x55, 0xAA, 0x00, 0xFF, 0x55] * 5  # 30 characters, many edges
    levels = []

    async def feeder(ctx):
        for byte in sent:
            ctx.set(dut.i_stream.payload, byte)
            ctx.set(dut.i_stream.valid, 1)
            await ctx.tick().until(dut.i_stream.ready)
        ctx.set(dut.i_stream.valid, 0)

    async def bench(ctx):
        for _ in range(int(10 * D * len(sent)) + 40):
            levels.append(ctx.get(dut.tx))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1 / CLK_HZ)
    sim.add_testbench(feeder, background=True)
    sim.add_testbench(bench)
    sim.run()
    first = levels.index(0)
    bits = [b for c in sent for b in line_bits(c)]
    # bit k occupies [floor(k D), floor((k+1) D)) after the first start bit: every edge
    # within one cycle of k D, and 300 bits take exactly 2500 cycles
    want = [bits[k] for k in range(len(bits)) for _ in range(floor((k + 1) * D) - floor(k * D))]
    assert len(want) == 10 * len(sent) * D == 2500
    assert levels[first : first + len(want)] == want
    assert set(levels[first + len(want):]) == {1}


def _receive(bit_time, start, chars=(0xA5, 0x5A, 0x00, 0xFF, 0x81, 0x7E, 0x33)):
    dut = UARTRx(divisor=D)
    got, errors = [], []

    async def bench(ctx):
        ctx.set(dut.o_stream.ready, 1)
        for level in line(chars, bit_time, start):
            ctx.set(dut.rx, level)
            await ctx.tick()
            if ctx.get(dut.o_stream.valid):
                got.append(ctx.get(dut.o_stream.payload))
            if ctx.get(dut.frame_err) or ctx.get(dut.overrun):
                errors.append(1)

    sim = Simulator(dut)
    sim.add_clock(1 / CLK_HZ)
    sim.add_testbench(bench)
    sim.run()
    return got, errors, list(chars)


@pytest.mark.parametrize("start", [0, 0.25, 0.5, 0.9, 3.4, 7.7])
def test_rx_at_the_exact_rate_from_any_phase(start):
    got, errors, sent = _receive(D, 5 + start)
    assert got == sent and not errors


@pytest.mark.parametrize("ppm", [-20_000, 20_000])
def test_rx_tolerates_a_far_end_two_percent_off(ppm):
    got, errors, sent = _receive(D * (1 + Fraction(ppm, 10**6)), 5.5)
    assert got == sent and not errors


def test_rx_misses_a_far_end_eight_percent_off():
    """The bound is real: 8 % off puts the last bits' samples in the neighbour bit."""
    got, _errors, sent = _receive(D * Fraction(108, 100), 5.5)
    assert got != sent


def test_tx_to_rx_loopback_at_3_mbaud():
    m = Module()
    m.submodules.tx = tx = UARTTx(divisor=D)
    m.submodules.rx = rx = UARTRx(divisor=D)
    m.d.comb += rx.rx.eq(tx.tx)
    sent = list(range(0, 256, 5))
    got = []

    async def feeder(ctx):
        for byte in sent:
            ctx.set(tx.i_stream.payload, byte)
            ctx.set(tx.i_stream.valid, 1)
            await ctx.tick().until(tx.i_stream.ready)
        ctx.set(tx.i_stream.valid, 0)

    async def bench(ctx):
        ctx.set(rx.o_stream.ready, 1)
        for _ in range(int(10 * D * (len(sent) + 2))):
            await ctx.tick()
            if ctx.get(rx.o_stream.valid):
                got.append(ctx.get(rx.o_stream.payload))

    sim = Simulator(m)
    sim.add_clock(1 / CLK_HZ)
    sim.add_testbench(feeder, background=True)
    sim.add_testbench(bench)
    sim.run()
    assert got == sent
