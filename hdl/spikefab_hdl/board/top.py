"""The board top: UART ⇄ frame parser/builder ⇄ the network core, plus status LEDs.

Data path::

    rx ─► UARTRx ─► FrameParser ─► sample buffer (2 banks) ─► SampleFeeder ─► core.i_stream
                         │ commands                                              │
                         ▼                                                       ▼
    tx ◄─ UARTTx ◄─ FrameBuilder ◄─ INFO / ERROR bytes / ResultSerializer ◄─ FIFO ◄─ core.o_stream

Two requests may be outstanding (INFO ``window`` 2, docs/protocol.md): the top copies each
command the parser hands over and executes it (an inference, then its answer) while the
parser receives the next request, writing its sample into the other bank of the sample
buffer. A second complete request waits in the parser until the first one's answer has
been handed to the transmitter; bytes arriving meanwhile (a third request) are lost. So
with the next sample on the wire while the core runs, the receive line never idles.
Every answer echoes its request's ID (an ERROR: the ID bytes that arrived). An INFER's
RESULT header is sent once the core offers its first result beat, so the frame leaves in
one burst; the cycle count in it is the core's own (docs/core.md: from its first input
beat to its first result beat).

With ``in_pack = P`` (direct input) a buffer entry holds ``P`` values, written one at a
time through a byte-lane write enable, and the feeder plays one entry per beat into the
core's packed input (:mod:`spikefab_hdl.core.input_pack`).

LEDs (as many as the board has, in this order): 0 alive (blinks, about 1 Hz), 1 error
(lit for about 0.5 s after each ERROR frame), 2 busy (an inference is running), 3 and up:
the low bits of the last prediction.
"""

import functools

from amaranth import Array, Cat, Const, Module, Mux, Shape, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from spikefab.ir import QuantizedNetwork
from spikefab.protocol import DEFAULT_BAUD, ERROR_LEN, FrameType, NetInfo

from ..core.plan import plan_core
from ..core.spike_queue import SmallFIFO
from .adapters import CoordMap, ResultSerializer, SampleFeeder, buffer_shape
from .framing import Command, FrameBuilder, FrameParser, command_layout
from .uart import UARTRx, UARTTx, uart_divisor

__all__ = ["DEFAULT_BAUD", "DEFAULT_TIMEOUT_S", "BoardTop"]

#: T_idle of docs/protocol.md on board builds.
DEFAULT_TIMEOUT_S = 0.1


def _default_core(net, lanes, spram=None, in_pack=1, *, dsp=None, mac8x8=False,
                  bram_outreg=False):
    from ..core.network import NetworkCore

    return NetworkCore(net=net, lanes=lanes, trace=False, spram=spram, in_pack=in_pack,
                       dsp=dsp, mac8x8=mac8x8, bram_outreg=bram_outreg)


class BoardTop(wiring.Component):
    """The whole board design behind two UART pins and a row of LEDs.

    Parameters
    ----------
    net : QuantizedNetwork
        The network built into the design.
    clk_hz : int
        The clock frequency (reported in INFO; sets the baud divisor and timers).
    lanes : int
        The core's lanes.
    baud : int
        UART rate, reported in INFO; sets the bit time (:func:`~.uart.uart_divisor`: a
        one-line ValueError names the rates ``clk_hz`` allows) unless ``divisor`` is given.
    divisor : int or Fraction, optional
        Clock cycles per UART bit, overriding ``baud``'s (simulations use short ones).
    pack : bool
        4-bit input two values per payload byte (INFO ``value_bits`` 4; the default).
    timeout_cycles : int, optional
        ``T_idle`` in cycles (default ``DEFAULT_TIMEOUT_S`` seconds).
    n_leds : int
        Width of ``leds``.
    core : callable, optional
        ``core(net, lanes[, spram][, in_pack=P])`` returning a component with the core's
        ``i_stream`` and ``o_stream`` (default: :class:`~.core.NetworkCore` without trace).
    spram : dict, optional
        The core's placement of conv state memories in SPRAM (``NetworkCore``'s).
    in_pack : int
        Direct input values per core input beat (``NetworkCore``'s; a one-line
        ValueError for one the network cannot take).
    dsp : int, optional
        The default core's products in DSP blocks at most (``NetworkCore``'s; the device's
        DSP count), the rest in logic.
    mac8x8 : bool
        The default core's DSP products two a block (``NetworkCore``'s; iCE40 builds).
    bram_outreg : bool
        The default core's block-RAM weight memories with the DP16KD output register
        (``NetworkCore``'s; ECP5 board builds).

    Attributes
    ----------
    rx : Signal(1), in
        UART receive line (idle high).
    tx : Signal(1), out
        UART transmit line (idle high).
    leds : Signal(n_leds), out
        Status LEDs, active high.
    """

    def __init__(self, *, net: QuantizedNetwork, clk_hz: int, lanes: int = 4,
                 baud: int = DEFAULT_BAUD, divisor: int | None = None,
                 timeout_cycles: int | None = None, n_leds: int = 3, core=None, spram=None,
                 pack: bool = True, in_pack: int = 1, dsp: int | None = None,
                 mac8x8: bool = False, bram_outreg: bool | str = False):
        if not isinstance(net, QuantizedNetwork):
            self._MustUse__silence = True
            raise TypeError(f"net must be a QuantizedNetwork, not {type(net).__name__}")
        self.net = net
        self.clk_hz = int(clk_hz)
        self.lanes = lanes
        self.spram = spram
        try:
            self.plan = plan_core(net, lanes=lanes, spram=spram, in_pack=in_pack, dsp=dsp,
                                  mac8x8=mac8x8, bram_outreg=bram_outreg)
            self.divisor = divisor if divisor is not None else uart_divisor(self.clk_hz, baud)
            self.info = NetInfo.from_network(net, self.clk_hz, baud=baud, pack=pack)
        except ValueError:
            self._MustUse__silence = True
            raise
        self.timeout_cycles = (timeout_cycles if timeout_cycles is not None
                               else round(DEFAULT_TIMEOUT_S * self.clk_hz))
        self.n_leds = n_leds
        self._core = core or functools.partial(_default_core, dsp=dsp, mac8x8=mac8x8,
                                               bram_outreg=bram_outreg)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(n_leds)})

    def elaborate(self, platform):
        m = Module()
        info, pack = self.info, self.plan.in_pack
        m.submodules.rx = rx = UARTRx(divisor=self.divisor)
        m.submodules.tx = tx = UARTTx(divisor=self.divisor)
        m.submodules.parser = parser = FrameParser(info=info, timeout_cycles=self.timeout_cycles)
        m.submodules.builder = builder = FrameBuilder()
        m.submodules.feeder = feeder = SampleFeeder(plan=self.plan, info=info)
        m.submodules.serializer = ser = ResultSerializer(plan=self.plan, info=info)
        kw = {} if pack == 1 else {"in_pack": pack}
        args = (self.net, self.lanes) if self.spram is None else (self.net, self.lanes,
                                                                  self.spram)
        m.submodules.core = core = self._core(*args, **kw)
        self._buffer(m, parser, feeder, pack)

        # the receiver's frame error is registered: its path from the line's synchroniser
        # otherwise runs on through the parser's state into the sample buffer's write
        uart_err = Signal()
        m.d.sync += uart_err.eq(rx.frame_err)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), parser.uart_err.eq(uart_err)]
        wiring.connect(m, rx.o_stream, parser.i_stream)
        wiring.connect(m, builder.o_stream, tx.i_stream)
        coords = None
        if self.plan.encoding == "spikes" and self.plan.layers[0].conv is not None:
            m.submodules.coords = coords = CoordMap(plan=self.plan)
            wiring.connect(m, feeder.o_stream, coords.i_stream)
            wiring.connect(m, coords.o_stream, core.i_stream)
        else:
            wiring.connect(m, feeder.o_stream, core.i_stream)
        # The results pass a two-entry FIFO, so the core's output ``ready`` is a register,
        # not the end of a path through the frame builder and the UART transmitter.
        out_bits = Shape.cast(core.o_stream.payload.shape()).width
        m.submodules.results = res_q = SmallFIFO(width=out_bits, depth=2)
        m.d.comb += [
            res_q.w_data.eq(core.o_stream.payload),
            res_q.w_en.eq(core.o_stream.valid),
            core.o_stream.ready.eq(res_q.w_rdy),
            ser.i_stream.payload.eq(res_q.r_data),
            ser.i_stream.valid.eq(res_q.r_rdy),
            res_q.r_en.eq(ser.i_stream.ready),
        ]

        info_rom = Array(Const(b, 8) for b in info.to_payload())
        # the command being executed: a copy, so the parser may take the next request
        cmd = Signal(command_layout)
        err_bytes = Array([cmd.code, cmd.type, cmd.arg[:8], cmd.arg[8:]])
        pidx = Signal(range(max(len(info_rom), ERROR_LEN) + 1))
        head, pay = builder.i_head, builder.i_payload
        # one free-running counter times both LEDs: alive toggles every half period,
        # error stays lit for 2 quarter periods after each ERROR frame
        ticks = Signal(max(2, (self.clk_hz // 2).bit_length()))
        quarter = ticks[:-1] == 0
        error_shown = Signal(2)
        m.d.sync += ticks.eq(ticks + 1)
        with m.If(quarter & (error_shown != 0)):
            m.d.sync += error_shown.eq(error_shown - 1)
        # the parser never waits for the top: a received sample goes to the bank the feeder
        # is not reading, and a complete request waits in the parser's o_cmd
        m.d.comb += parser.busy.eq(0)
        with m.FSM():
            with m.State("Idle"):
                m.d.comb += parser.o_cmd.ready.eq(1)
                with m.If(parser.o_cmd.valid):
                    m.d.sync += [pidx.eq(0), cmd.eq(parser.o_cmd.payload)]
                    with m.Switch(parser.o_cmd.payload.kind):
                        with m.Case(Command.INFER):
                            m.d.comb += feeder.start.eq(1)
                            m.next = "Infer"
                        with m.Default():
                            m.next = "Head"
            with m.State("Infer"):
                m.d.comb += [head.payload.type.eq(FrameType.RESULT), head.payload.id.eq(cmd.id),
                             head.payload.length.eq(info.result_len),
                             head.valid.eq(res_q.r_rdy)]
                with m.If(head.valid & head.ready):
                    m.next = "Send"
            with m.State("Head"):
                m.d.comb += [head.valid.eq(1), head.payload.id.eq(cmd.id)]
                with m.If(cmd.kind == Command.INFO):
                    m.d.comb += [head.payload.type.eq(FrameType.INFO),
                                 head.payload.length.eq(len(info_rom))]
                with m.Else():
                    m.d.comb += [head.payload.type.eq(FrameType.ERROR),
                                 head.payload.length.eq(ERROR_LEN)]
                    m.d.sync += error_shown.eq(3)
                with m.If(head.ready):
                    m.next = "Send"
            with m.State("Send"):
                with m.Switch(cmd.kind):
                    with m.Case(Command.INFER):
                        wiring.connect(m, ser.o_stream, pay)
                    with m.Case(Command.INFO):
                        m.d.comb += [pay.valid.eq(1), pay.payload.eq(info_rom[pidx])]
                    with m.Default():
                        m.d.comb += [pay.valid.eq(1), pay.payload.eq(err_bytes[pidx])]
                with m.If(pay.valid & pay.ready):
                    m.d.sync += pidx.eq(pidx + 1)
                with m.If(builder.idle):
                    m.next = "Idle"
        busy = Signal()
        m.d.comb += busy.eq(~parser.o_cmd.ready)

        infer_busy = Signal()
        feeding = feeder.busy if coords is None else feeder.busy | coords.busy
        m.d.comb += infer_busy.eq(feeding | (busy & (cmd.kind == Command.INFER)))
        leds = [ticks[-1], error_shown != 0, infer_busy] + list(ser.prediction)
        for i in range(self.n_leds):
            m.d.comb += self.leds[i].eq(leds[i] if i < len(leds) else 0)
        return m

    def _buffer(self, m, parser, feeder, pack):
        """The sample buffer: two banks of one sample each. The parser writes bank ``wbank``;
        an INFER command, when the top takes it, makes that bank the feeder's and the other
        one the parser's (the feeder is done with it: its answer has been sent)."""
        width, depth = buffer_shape(self.info, pack)
        abits = max(1, (depth - 1).bit_length())
        m.submodules.buffer = buf = memory.Memory(shape=width, depth=2 << abits, init=[])
        wp = buf.write_port(granularity=width // pack if pack > 1 else None)
        rp = buf.read_port()
        wbank, fbank = Signal(), Signal()
        with m.If(feeder.start):
            m.d.sync += [fbank.eq(wbank), wbank.eq(~wbank)]
        m.d.comb += [rp.addr.eq(Cat(feeder.r_addr[:abits], fbank)), rp.en.eq(feeder.r_en),
                     feeder.r_data.eq(rp.data)]
        # The parser's write reaches the buffer a cycle later, from registers (its control
        # comes from the parser's state and the receiver's: a long path otherwise). The last
        # value lands long before the INFER command that swaps the banks (two CRC bytes on).
        w_en, w_first = Signal(), Signal()
        w_addr, w_data = Signal(abits), Signal.like(parser.w_data)
        m.d.sync += [w_en.eq(parser.w_en), w_first.eq(parser.w_addr == 0),
                     w_addr.eq(parser.w_addr[:abits]), w_data.eq(parser.w_data)]
        if pack == 1:
            m.d.comb += [wp.addr.eq(Cat(w_addr, wbank)), wp.data.eq(w_data), wp.en.eq(w_en)]
            return
        # the parser writes values in index order from 0: entry and lane by counters
        row, lane = Signal(abits), Signal(range(pack))
        cur_row, cur_lane = Mux(w_first, 0, row), Mux(w_first, 0, lane)
        with m.If(w_en):
            wrap = cur_lane == pack - 1
            m.d.sync += [lane.eq(Mux(wrap, 0, cur_lane + 1)), row.eq(cur_row + wrap)]
        m.d.comb += [wp.addr.eq(Cat(cur_row, wbank)), wp.data.eq(Cat(*[w_data] * pack)),
                     wp.en.eq(Mux(w_en, Const(1, pack) << cur_lane, 0))]
