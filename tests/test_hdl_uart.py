"""UART receiver and transmitter in amaranth.sim, against a bit-level line model."""

from fractions import Fraction

import pytest
from amaranth import Module
from amaranth.sim import Simulator
from spikefab_hdl.board.uart import UARTRx, UARTTx, uart_divisor


def line_bits(byte: int, stop: int = 1) -> list[int]:
    """The 10 bit levels of one 8N1 character."""
    return [0] + [(byte >> i) & 1 for i in range(8)] + [stop]


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("divisor", [4, 5, 11])
def test_rx_receives_every_byte(divisor):
    dut = UARTRx(divisor=divisor)
    sent = [0x00, 0xFF, 0xA5, 0x5A, 0x01, 0x80, 0x3C]
    got = []

    async def bench(ctx):
        ctx.set(dut.o_stream.ready, 1)
        await ctx.tick().repeat(5)
        for i, byte in enumerate(sent):
            # back-to-back characters, alternately one cycle short per bit when possible
            for level in line_bits(byte):
                ctx.set(dut.rx, level)
                for _ in range(divisor):
                    await ctx.tick()
                    if ctx.get(dut.o_stream.valid):
                        got.append(ctx.get(dut.o_stream.payload))
                    assert not ctx.get(dut.frame_err) and not ctx.get(dut.overrun)
            del i
        for _ in range(3 * divisor):
            await ctx.tick()
            if ctx.get(dut.o_stream.valid):
                got.append(ctx.get(dut.o_stream.payload))

    _run(dut, bench)
    assert got == sent


def test_rx_tolerates_clock_mismatch():
    # the sender is 3% slow per bit at divisor 33: the receiver still samples every bit right
    dut = UARTRx(divisor=33)
    got = []

    async def bench(ctx):
        ctx.set(dut.o_stream.ready, 1)
        for byte in (0x96, 0x69, 0xF0):
            for level in line_bits(byte):
                ctx.set(dut.rx, level)
                for _ in range(34):
                    await ctx.tick()
                    if ctx.get(dut.o_stream.valid):
                        got.append(ctx.get(dut.o_stream.payload))
        await ctx.tick().repeat(40)

    _run(dut, bench)
    assert got == [0x96, 0x69, 0xF0]


def test_rx_frame_error_glitch_and_overrun():
    d = 8
    dut = UARTRx(divisor=d)
    events = []

    async def watch(ctx, cycles):
        for _ in range(cycles):
            await ctx.tick()
            if ctx.get(dut.frame_err):
                events.append("frame_err")
            if ctx.get(dut.overrun):
                events.append("overrun")

    async def bench(ctx):
        await watch(ctx, 5)
        # a 2-cycle glitch is not a start bit
        ctx.set(dut.rx, 0)
        await watch(ctx, 2)
        ctx.set(dut.rx, 1)
        await watch(ctx, 3 * d)
        assert not ctx.get(dut.o_stream.valid)
        # a character with a low stop bit (then the line stays low: a break)
        for level in line_bits(0x55, stop=0):
            ctx.set(dut.rx, level)
            await watch(ctx, d)
        await watch(ctx, 5 * d)
        ctx.set(dut.rx, 1)
        await watch(ctx, 2 * d)
        assert events == ["frame_err"]
        assert not ctx.get(dut.o_stream.valid)
        # two bytes nobody takes: the second is dropped
        for byte in (0x11, 0x22):
            for level in line_bits(byte):
                ctx.set(dut.rx, level)
                await watch(ctx, d)
        assert events == ["frame_err", "overrun"]
        assert ctx.get(dut.o_stream.valid) and ctx.get(dut.o_stream.payload) == 0x11

    _run(dut, bench)


@pytest.mark.parametrize("divisor", [4, 7])
def test_tx_waveform_is_exact(divisor):
    dut = UARTTx(divisor=divisor)
    sent = [0xA5, 0x00, 0xFF]
    levels = []

    async def feeder(ctx):
        for byte in sent:
            ctx.set(dut.i_stream.payload, byte)
            ctx.set(dut.i_stream.valid, 1)
            await ctx.tick().until(dut.i_stream.ready)
        ctx.set(dut.i_stream.valid, 0)

    async def bench(ctx):
        for _ in range(10 * divisor * len(sent) + 10):
            levels.append(ctx.get(dut.tx))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(feeder, background=True)
    sim.add_testbench(bench)
    sim.run()
    first = levels.index(0)
    want = [lvl for byte in sent for lvl in line_bits(byte) for _ in range(divisor)]
    assert levels[first : first + len(want)] == want
    assert set(levels[first + len(want) :]) == {1}


def test_tx_to_rx_loopback():
    d = 5
    m = Module()
    m.submodules.tx = tx = UARTTx(divisor=d)
    m.submodules.rx = rx = UARTRx(divisor=d)
    m.d.comb += rx.rx.eq(tx.tx)
    sent = list(range(0, 256, 7))
    got = []

    async def feeder(ctx):
        for byte in sent:
            ctx.set(tx.i_stream.payload, byte)
            ctx.set(tx.i_stream.valid, 1)
            await ctx.tick().until(tx.i_stream.ready)
        ctx.set(tx.i_stream.valid, 0)

    async def bench(ctx):
        ctx.set(rx.o_stream.ready, 1)
        for _ in range(10 * d * (len(sent) + 2)):
            await ctx.tick()
            if ctx.get(rx.o_stream.valid):
                got.append(ctx.get(rx.o_stream.payload))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(feeder, background=True)
    sim.add_testbench(bench)
    sim.run()
    assert got == sent


def test_divisor_and_baud_checks():
    assert uart_divisor(12e6, 3_000_000) == 4 and type(uart_divisor(12e6, 3_000_000)) is int
    assert uart_divisor(48e6, 1_000_000) == 48
    assert uart_divisor(12e6, 115200) == Fraction(625, 6)  # exact: 104 1/6 cycles per bit
    assert uart_divisor(25_000_000, 3_000_000) == Fraction(25, 3)
    with pytest.raises(ValueError, match=r"^divisor must be an integer >= 4 or a Fraction >= 8, "
                       r"not 3$"):
        UARTRx(divisor=3)
    with pytest.raises(ValueError, match=r"^divisor must be an integer >= 4 or a Fraction >= 8, "
                       r"not 2.5$"):
        UARTTx(divisor=2.5)
    with pytest.raises(ValueError, match=r"^divisor must be an integer >= 4 or a Fraction >= 8, "
                       r"not Fraction\(20, 3\)$"):
        UARTTx(divisor=Fraction(20, 3))
    for bad in (0, 9599, 3_000_001, 115200.0, True):
        with pytest.raises(ValueError, match=r"^baud must be an integer in \[9600, 3000000\], "
                           rf"not {bad!r}$".replace(".", r"\.")):
            uart_divisor(12e6, bad)
    with pytest.raises(ValueError, match=r"^baud 2500000 does not fit a 12 MHz clock: allowed "
                       r"are 9600 to 1500000 or 3000000, 2400000, 2000000 \(a bit must last at "
                       r"least 8 cycles, or a whole 4 to 7\)$"):
        uart_divisor(12e6, 2_500_000)
    with pytest.raises(ValueError, match=r"^baud 3000000 does not fit a 20 MHz clock: allowed "
                       r"are 9600 to 2500000 \(a bit must"):
        uart_divisor(20e6, 3_000_000)  # 6 2/3 cycles per bit
    with pytest.raises(ValueError, match=r"^clk_hz must be a positive number, not 0$"):
        uart_divisor(0, 115200)
