"""8N1 UART receiver and transmitter (least significant bit first, line idle high).

Both time a bit as ``divisor`` clock cycles: an integer, or a fraction (``clk_hz / baud``
exactly, :func:`uart_divisor`). A fractional bit time is laid out by a phase accumulator:
each bit lasts ``floor(divisor)`` or one cycle more, so every bit edge lies within one clock
cycle of its ideal time and the mean rate is exact. The receiver synchronises ``rx`` with
two flip-flops, finds the start bit's falling edge, checks the line is still low half a bit
later (a shorter glitch is ignored), samples each data bit in its middle and checks the
stop bit.

The error bound: the receiver sees the start edge up to one cycle late, and a fractional
divisor rounds each sampling instant by less than one more, so a bit is sampled within one
(integer divisor) or two (fractional) cycles of its middle. ``uart_divisor`` keeps that
within a quarter of a bit: an integer divisor of at least 4 cycles, a fractional one of at
least 8, which leaves the other quarter for the far end's clock and the line.
"""

from fractions import Fraction
from math import floor

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out
from spikefab.fixed import is_int, is_number
from spikefab.protocol import MAX_BAUD, MIN_BAUD

__all__ = ["MIN_DIVISOR", "MIN_FRACTIONAL_DIVISOR", "uart_divisor", "UARTRx", "UARTTx"]

#: Fewest clock cycles per bit: an integer divisor, a fractional one.
MIN_DIVISOR = 4
MIN_FRACTIONAL_DIVISOR = 8


def _check_divisor(owner, divisor) -> int | Fraction:
    if is_int(divisor) or (isinstance(divisor, Fraction) and divisor.denominator == 1):
        if divisor >= MIN_DIVISOR:
            return int(divisor)
    elif isinstance(divisor, Fraction) and divisor >= MIN_FRACTIONAL_DIVISOR:
        return divisor
    owner._MustUse__silence = True  # a rejected component is not an unused one
    raise ValueError(f"divisor must be an integer >= {MIN_DIVISOR} or a Fraction >= "
                     f"{MIN_FRACTIONAL_DIVISOR}, not {divisor!r}")


def uart_divisor(clk_hz, baud) -> int | Fraction:
    """Clock cycles per bit for ``baud`` at ``clk_hz``: ``clk_hz / baud`` exactly.

    An int when it divides evenly (then at least ``MIN_DIVISOR``), else a Fraction (then at
    least ``MIN_FRACTIONAL_DIVISOR``): every bit is sampled within a quarter bit of its
    middle (the module's docstring).

    Raises
    ------
    ValueError
        One line naming ``baud`` and the rates allowed at ``clk_hz``: an integer in
        [MIN_BAUD, MAX_BAUD], at most ``clk_hz / 8``, or ``clk_hz / k`` for a whole
        ``k`` of at least 4.
    """
    if not is_number(clk_hz) or not clk_hz > 0:
        raise ValueError(f"clk_hz must be a positive number, not {clk_hz!r}")
    clk = Fraction(clk_hz)
    if not is_int(baud) or not MIN_BAUD <= baud <= MAX_BAUD:
        raise ValueError(f"baud must be an integer in [{MIN_BAUD}, {MAX_BAUD}], not {baud!r}")
    divisor = clk / int(baud)
    if divisor.denominator == 1 and divisor >= MIN_DIVISOR:
        return int(divisor)
    if divisor.denominator != 1 and divisor >= MIN_FRACTIONAL_DIVISOR:
        return divisor
    whole = [clk / k for k in range(MIN_DIVISOR, MIN_FRACTIONAL_DIVISOR)]
    whole = [int(r) for r in whole if r.denominator == 1 and MIN_BAUD <= r <= MAX_BAUD]
    top = min(floor(clk / MIN_FRACTIONAL_DIVISOR), MAX_BAUD)
    extra = f" or {', '.join(map(str, whole))}" if whole else ""
    raise ValueError(
        f"baud {baud} does not fit a {float(clk) / 1e6:g} MHz clock: allowed are "
        f"{MIN_BAUD} to {top}{extra} (a bit must last at least {MIN_FRACTIONAL_DIVISOR} "
        f"cycles, or a whole {MIN_DIVISOR} to {MIN_FRACTIONAL_DIVISOR - 1})")


class _BitTimer:
    """Counts the cycles of the bits: ``load(length)`` starts an interval of ``length``
    cycles (a Fraction: fractional ones take a cycle more whenever the carried phase
    overflows), ``done`` is high in its last cycle. ``restart`` drops the phase."""

    def __init__(self, m, divisor):
        self.m = m
        self.den = 2 * Fraction(divisor).denominator  # half bits are whole units too
        longest = floor(Fraction(divisor)) + 1
        self.timer = Signal(range(longest))
        self.phase = Signal(range(self.den)) if self.den > 2 else None
        m.d.sync += self.timer.eq(Mux(self.timer != 0, self.timer - 1, 0))

    @property
    def done(self):
        return self.timer == 0

    def restart(self):
        if self.phase is not None:
            self.m.d.sync += self.phase.eq(0)

    def load(self, length: Fraction):
        whole, frac = divmod(Fraction(length) * self.den, self.den)
        whole, frac = int(whole), int(frac)
        if self.phase is None or frac == 0:
            self.m.d.sync += self.timer.eq(whole - 1)
            return
        carry = self.phase >= self.den - frac
        self.m.d.sync += [
            self.timer.eq(whole - 1 + carry),
            self.phase.eq(Mux(carry, self.phase - (self.den - frac), self.phase + frac)),
        ]


class UARTRx(wiring.Component):
    """UART receiver.

    Parameters
    ----------
    divisor : int or Fraction
        Clock cycles per bit: an integer of at least ``MIN_DIVISOR``, or a Fraction of at
        least ``MIN_FRACTIONAL_DIVISOR`` (:func:`uart_divisor`).

    Attributes
    ----------
    rx : Signal(1), in
        The serial line (asynchronous; idle high).
    o_stream : stream of unsigned(8), out
        Received bytes. A byte stays valid until taken; a byte that completes while the
        previous one is still waiting is dropped and ``overrun`` pulses.
    frame_err : Signal(1), out
        One-cycle pulse when a stop bit is low; that byte is dropped and the receiver
        waits for the line to go high before looking for the next start bit.
    overrun : Signal(1), out
        One-cycle pulse when a received byte is dropped because ``o_stream`` was full.
    """

    rx: In(1, init=1)
    o_stream: Out(stream.Signature(8))
    frame_err: Out(1)
    overrun: Out(1)

    def __init__(self, *, divisor):
        self.divisor = _check_divisor(self, divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        t = _BitTimer(m, self.divisor)
        # an integer divisor waits floor(divisor / 2) to the start bit's middle
        half = (Fraction(self.divisor // 2) if isinstance(self.divisor, int)
                else self.divisor / 2)
        bit = Signal(range(8))
        shreg = Signal(8)
        out = self.o_stream
        with m.If(out.ready):
            m.d.sync += out.valid.eq(0)

        with m.FSM():
            with m.State("Idle"):
                with m.If(~rx):
                    t.restart()
                    t.load(half)
                    m.next = "Start"
            with m.State("Start"):
                with m.If(t.done):
                    with m.If(rx):  # a glitch, not a start bit
                        m.next = "Idle"
                    with m.Else():
                        t.load(self.divisor)
                        m.d.sync += bit.eq(0)
                        m.next = "Data"
            with m.State("Data"):
                with m.If(t.done):
                    m.d.sync += shreg.eq(rx << 7 | shreg >> 1)
                    t.load(self.divisor)
                    m.d.sync += bit.eq(bit + 1)
                    with m.If(bit == 7):
                        m.next = "Stop"
            with m.State("Stop"):
                with m.If(t.done):
                    with m.If(rx):
                        with m.If(out.valid & ~out.ready):
                            m.d.comb += self.overrun.eq(1)
                        with m.Else():
                            m.d.sync += [out.payload.eq(shreg), out.valid.eq(1)]
                        m.next = "Idle"
                    with m.Else():
                        m.d.comb += self.frame_err.eq(1)
                        m.next = "Break"
            with m.State("Break"):
                with m.If(rx):
                    m.next = "Idle"
        return m


class UARTTx(wiring.Component):
    """UART transmitter.

    Parameters
    ----------
    divisor : int or Fraction
        Clock cycles per bit (as :class:`UARTRx`'s).

    Attributes
    ----------
    i_stream : stream of unsigned(8), in
        Bytes to send; one is taken whenever the transmitter is idle.
    tx : Signal(1), out
        The serial line (idle high): start bit, 8 data bits LSB first, stop bit.
    busy : Signal(1), out
        High while a byte is being sent.
    """

    i_stream: In(stream.Signature(8))
    tx: Out(1, init=1)
    busy: Out(1)

    def __init__(self, *, divisor):
        self.divisor = _check_divisor(self, divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        t = _BitTimer(m, self.divisor)  # the phase runs on across characters
        shreg = Signal(10, init=0x3FF)  # stop, data[7:0], start; shifted out LSB first
        bits = Signal(range(11))
        # the next byte loads in the last cycle of the stop bit: characters go back to back
        free = (bits == 0) | ((bits == 1) & t.done)
        m.d.comb += [self.tx.eq(shreg[0]), self.busy.eq(bits != 0), self.i_stream.ready.eq(free)]
        with m.If(free & self.i_stream.valid):
            m.d.sync += [shreg.eq(1 << 9 | self.i_stream.payload << 1), bits.eq(10)]
            t.load(self.divisor)
        with m.Elif((bits != 0) & t.done):
            m.d.sync += [shreg.eq(1 << 9 | shreg >> 1), bits.eq(bits - 1)]
            t.load(self.divisor)
        return m
