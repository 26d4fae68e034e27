"""8N1 UART receiver and transmitter (least significant bit first, line idle high).

Both count ``divisor`` clock cycles per bit (``divisor = round(clk_hz / baud)``, see
:func:`uart_divisor`). The receiver synchronises ``rx`` with two flip-flops, finds the
start bit's falling edge, checks the line is still low half a bit later (a shorter
glitch is ignored), samples each data bit in its middle and checks the stop bit.
"""

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out
from spikefab.fixed import is_int

__all__ = ["MIN_DIVISOR", "uart_divisor", "UARTRx", "UARTTx"]

#: Fewest clock cycles per bit the receiver supports.
MIN_DIVISOR = 4


def _check_divisor(owner, divisor) -> int:
    if not is_int(divisor) or divisor < MIN_DIVISOR:
        owner._MustUse__silence = True  # a rejected component is not an unused one
        raise ValueError(f"divisor must be an integer >= {MIN_DIVISOR}, not {divisor!r}")
    return divisor


def uart_divisor(clk_hz: float, baud: int) -> int:
    """Clock cycles per bit for ``baud`` at ``clk_hz``; the rate error must stay below 2 %.

    Raises
    ------
    ValueError
        When ``baud`` is not a positive integer, or no integer divisor of at least
        ``MIN_DIVISOR`` comes within 2 % of it.
    """
    if not is_int(baud) or baud <= 0:
        raise ValueError(f"baud must be a positive integer, not {baud!r}")
    divisor = round(clk_hz / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(
            f"baud {baud} is too fast for a {clk_hz / 1e6:g} MHz clock: at most "
            f"{int(clk_hz // MIN_DIVISOR)} ({MIN_DIVISOR} cycles per bit)"
        )
    error = abs(clk_hz / divisor - baud) / baud
    if error > 0.02:
        raise ValueError(
            f"baud {baud} is off by {error:.1%} at {clk_hz / 1e6:g} MHz (divisor {divisor}); "
            "the error must be at most 2%"
        )
    return divisor


class UARTRx(wiring.Component):
    """UART receiver.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least ``MIN_DIVISOR``.

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

    def __init__(self, *, divisor: int):
        self.divisor = _check_divisor(self, divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor))
        bit = Signal(range(8))
        shreg = Signal(8)
        out = self.o_stream
        with m.If(out.ready):
            m.d.sync += out.valid.eq(0)

        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.FSM():
            with m.State("Idle"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "Start"
            with m.State("Start"):
                with m.If(timer == 0):
                    with m.If(rx):  # a glitch, not a start bit
                        m.next = "Idle"
                    with m.Else():
                        m.d.sync += [timer.eq(self.divisor - 1), bit.eq(0)]
                        m.next = "Data"
            with m.State("Data"):
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq(rx << 7 | shreg >> 1), timer.eq(self.divisor - 1)]
                    m.d.sync += bit.eq(bit + 1)
                    with m.If(bit == 7):
                        m.next = "Stop"
            with m.State("Stop"):
                with m.If(timer == 0):
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
    divisor : int
        Clock cycles per bit, at least ``MIN_DIVISOR``.

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

    def __init__(self, *, divisor: int):
        self.divisor = _check_divisor(self, divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        shreg = Signal(10, init=0x3FF)  # stop, data[7:0], start; shifted out LSB first
        bits = Signal(range(11))
        # the next byte loads in the last cycle of the stop bit: characters go back to back
        free = (bits == 0) | ((bits == 1) & (timer == 0))
        m.d.comb += [self.tx.eq(shreg[0]), self.busy.eq(bits != 0), self.i_stream.ready.eq(free)]
        with m.If(free & self.i_stream.valid):
            m.d.sync += [
                shreg.eq(1 << 9 | self.i_stream.payload << 1),
                bits.eq(10),
                timer.eq(self.divisor - 1),
            ]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [
                    shreg.eq(1 << 9 | shreg >> 1),
                    bits.eq(bits - 1),
                    timer.eq(self.divisor - 1),
                ]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m
