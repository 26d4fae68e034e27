"""Proof 3b: the UART framing drops, duplicates and reorders no byte or value, and never
deadlocks, under any valid/ready pattern (docs/protocol.md's frames).

The UART's bit level is abstracted away: the harnesses drive the byte streams of
:class:`~spikefab_hdl.board.framing.FrameBuilder` and
:class:`~spikefab_hdl.board.framing.FrameParser` directly. Every stream the harness drives
obeys the stream protocol (assumed: a ``valid`` beat stays, unchanged, until ``ready``);
every ``ready`` and ``valid`` is otherwise free in every cycle. The reference frame is
written here again: ``SYNC, TYPE, ID lo, ID hi, LEN lo, LEN hi, payload, CRC hi, CRC lo``
with CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over TYPE..payload, bit by bit
(:mod:`.crc`): a running reference CRC beside the gateware's, equal to it after every byte.

* :class:`BuilderHarness`: any headers (any TYPE, ID, LEN) and payload bytes; every byte
  sent is the reference frame's next byte (payload bytes in the order taken, none
  dropped or doubled, the CRC bytes the reference's); no payload byte is taken that the
  frame does not carry; a builder whose sink is ready sends a byte within ``PROGRESS``
  cycles while a frame is in progress and its payload source has a byte.
* :class:`ParserHarness`: a host that sends INFER requests of the board's network (any
  ID, any in-range values, its own CRC), one at a time (the next after the answer's
  command is taken, as docs/protocol.md's host does), bytes at any pace: each frame gives
  exactly one command with the frame's ID, INFER exactly when its CRC bytes are the
  reference's (else ERROR CRC), no earlier than its last byte and at most ``PROGRESS``
  cycles after it; a watched sample-buffer address (a free constant, so
  every address is watched in some trace) is written exactly once per frame, with the
  value its bytes carry (little-endian 16-bit values, two 4-bit values per byte low
  nibble first, spike rows), and not after; the parser never refuses a byte twice in a row.
"""

from __future__ import annotations

from dataclasses import replace

from amaranth import Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In
from spikefab.protocol import SYNC, ErrorCode, FrameType, NetInfo

from ..board.framing import Command, FrameBuilder, FrameParser, head_layout
from .checks import Harness
from .crc import RunningCRC
from .proof import Proof

__all__ = ["BuilderHarness", "ParserHarness", "framing_proofs", "PROGRESS"]

#: Cycles a ready sink waits at most for a frame's next byte (builder), or the parser's
#: command after a frame's last byte.
PROGRESS = 3
#: Depth of the builder's bounded proof: a frame of up to 5 payload bytes (14 cycles take
#: 6 s here; 20 cycles over 90 s).
BUILDER_DEPTH = 14
#: The parser's frame timeout in the proofs: longer than any trace proven, so no frame
#: times out (a real board's is 0.5 s of clock cycles).
TIMEOUT_CYCLES = 1 << 16


def _held(h: Harness, m, valid, ready, payload, name):
    """Assume the stream protocol for a stream the harness drives."""
    stalled = Signal(name=f"{name}_stalled")
    prev = Signal.like(payload, name=f"{name}_prev")
    m.d.sync += [stalled.eq(valid & ~ready), prev.eq(payload)]
    h.assume(~stalled | (valid & (payload == prev)))


class BuilderHarness(Harness):
    """:class:`FrameBuilder` against the reference frame (see the module docstring).

    Parameters
    ----------
    builder : callable
        Builds the builder under proof (a planted bug in tests).
    """

    def __init__(self, *, builder=FrameBuilder):
        self.make = builder
        super().__init__({"head": In(stream.Signature(head_layout)),
                          "payload": In(stream.Signature(8)), "o_ready": In(1)})

    def build(self, m):
        dut = self.make()
        m.submodules.dut = top = dut.elaborate(None)  # elaborated here: its CRC is read
        dut._MustUse__silence = True
        wiring.connect(m, wiring.flipped(self.head), dut.i_head)
        wiring.connect(m, wiring.flipped(self.payload), dut.i_payload)
        out = dut.o_stream
        m.d.comb += out.ready.eq(self.o_ready)
        _held(self, m, self.head.valid, self.head.ready, self.head.payload, "head")
        _held(self, m, self.payload.valid, self.payload.ready, self.payload.payload, "pay")

        head = Signal(head_layout)  # the frame being sent
        busy = Signal()
        pos = Signal(17)  # bytes of the frame sent
        taken = Signal(17)  # payload bytes taken for it
        pay_q = Signal(8)  # a payload byte taken, not yet sent (at most one here)
        pay_n = Signal(range(3))
        sent = out.valid & out.ready
        took = self.payload.valid & self.payload.ready
        length = head.length
        new = self.head.valid & self.head.ready
        self.check("head_idle", ~new | ~busy, "a header is taken only between frames")
        with m.If(new):
            m.d.sync += [head.eq(self.head.payload), busy.eq(1), pos.eq(0), taken.eq(0)]
        p = pos
        pay_at = p - 6
        in_pay = (p >= 6) & (pay_at < length)
        crc = RunningCRC(m, start=new, step=sent & (p >= 1) & (p < length + 6),
                         byte=out.payload)
        self.check("crc", ~busy | (top.submodules.crc.crc == crc.value),
                   "the builder's running CRC is the CRC-16 of the frame's bytes sent so far "
                   "(TYPE .. payload)")
        expect = Signal(8)
        with m.If(p == 0):
            m.d.comb += expect.eq(SYNC)
        with m.Elif(p == 1):
            m.d.comb += expect.eq(head.type)
        with m.Elif(p == 2):
            m.d.comb += expect.eq(head.id[:8])
        with m.Elif(p == 3):
            m.d.comb += expect.eq(head.id[8:])
        with m.Elif(p == 4):
            m.d.comb += expect.eq(head.length[:8])
        with m.Elif(p == 5):
            m.d.comb += expect.eq(head.length[8:])
        with m.Elif(in_pay):  # the oldest payload byte taken and not sent
            m.d.comb += expect.eq(Mux(pay_n != 0, pay_q, self.payload.payload))
        with m.Elif(pay_at == length):  # the CRC of TYPE .. payload, high byte first
            m.d.comb += expect.eq(crc.value[8:])
        with m.Else():
            m.d.comb += expect.eq(crc.value[:8])
        self.check("byte", ~sent | (busy & (out.payload == expect)),
                   "every byte sent is the frame's next: SYNC, TYPE, ID, LEN, the payload "
                   "bytes in the order taken, then two (CRC)")
        self.check("pay_taken", ~sent | ~in_pay | (pay_n != 0) | took,
                   "a payload byte is sent only once taken (none made up or doubled)")
        self.check("pay_extra", ~took | (busy & (taken < length)),
                   "no payload byte is taken beyond the frame's LEN (none dropped)")
        with m.If(sent):
            m.d.sync += pos.eq(pos + 1)
            with m.If(pay_at == length + 1):
                m.d.sync += busy.eq(0)
        with m.If(took):
            m.d.sync += taken.eq(taken + 1)
        m.d.sync += pay_n.eq(pay_n + took - (sent & in_pay))
        with m.If(took & ~(sent & in_pay & (pay_n == 0))):
            m.d.sync += pay_q.eq(self.payload.payload)
        self.check("pay_buffer", pay_n <= 1, "at most one payload byte waits in the builder")

        wait = self.run_length(self.o_ready & self.payload.valid & busy & ~sent, PROGRESS)
        self.check("progress", wait < PROGRESS,
                   f"a frame in progress, its sink ready and a payload byte offered, sends a "
                   f"byte within {PROGRESS} cycles (no deadlock)")
        self.check("idle", busy | dut.idle,
                   "the builder is idle once a frame's last byte is sent")
        frames = Signal(range(3))
        with m.If(busy & sent & (pay_at == length + 1) & (frames != 2)):
            m.d.sync += frames.eq(frames + 1)
        self.cover("frame", (frames == 1) & (length >= 2),
                   "a frame with two payload bytes sent whole")


def builder_proofs(builder=FrameBuilder) -> list[Proof]:
    """The frame builder's bounded proof and cover (the same for every network)."""
    depth = BUILDER_DEPTH

    def harness():
        return BuilderHarness(builder=builder)

    return [Proof("board.builder", f"frame builder: every byte of a frame in order, none "
                  f"dropped or doubled; no deadlock (frames of up to {depth - 9} payload "
                  f"bytes)", harness, "bmc", depth, solver="yices"),
            Proof("board.builder-cover", "frame builder: a whole frame sent", harness,
                  "cover", depth, solver="yices")]


class ParserHarness(Harness):
    """:class:`FrameParser` of a network fed INFER requests (see the module docstring).

    Parameters
    ----------
    info : NetInfo
        The board's network (sample length, encoding, value width).
    parser : callable, optional
        ``parser(info=, timeout_cycles=)`` builds the parser (a planted bug in tests).
    """

    def __init__(self, *, info: NetInfo, parser=FrameParser):
        self.info, self.make = info, parser
        depth = info.n_in if info.encoding == "direct" else info.sample_len
        self.depth = depth
        super().__init__({"s_valid": In(1), "s_byte": In(8), "c_ready": In(1),
                          "watch": In(range(max(2, depth)))})

    def build(self, m):
        info = self.info
        dut = self.make(info=info, timeout_cycles=TIMEOUT_CYCLES)
        m.submodules.dut = top = dut.elaborate(None)  # elaborated here: its CRC is read
        dut._MustUse__silence = True
        n = info.sample_len
        fp = Signal(range(n + 9))  # the next byte's place in the frame (n + 8: all sent)
        waiting = Signal()  # the frame is sent; its command not yet taken
        rid = Signal(16)
        byte = Signal(8)
        with m.Switch(fp):
            for k, value in ((0, SYNC), (1, int(FrameType.INFER_REQ)), (4, n & 0xFF),
                             (5, n >> 8)):
                with m.Case(k):
                    m.d.comb += byte.eq(value)
            with m.Default():  # ID, payload, CRC: any byte
                m.d.comb += byte.eq(self.s_byte)
        src = dut.i_stream
        m.d.comb += [src.valid.eq(self.s_valid & (fp < n + 8)), src.payload.eq(byte),
                     dut.busy.eq(0), dut.uart_err.eq(0), dut.o_cmd.ready.eq(self.c_ready)]
        _held(self, m, src.valid, src.ready, src.payload, "byte")
        self.constant(self.watch)
        self.assume(self.watch < self.depth)
        sent = src.valid & src.ready
        off = Signal(range(n + 8))
        m.d.comb += off.eq(fp - 6)
        in_pay = (fp >= 6) & (fp < n + 6)
        with m.If(in_pay):
            self.assume(self._in_range(m, off, self.s_byte, sent))
        with m.If(sent):
            m.d.sync += fp.eq(fp + 1)
            with m.If(fp == 2):
                m.d.sync += rid[:8].eq(byte)
            with m.If(fp == 3):
                m.d.sync += rid[8:].eq(byte)
            with m.If(fp == n + 7):
                m.d.sync += waiting.eq(1)
        cmd = dut.o_cmd
        with m.If(cmd.valid & cmd.ready):
            m.d.sync += waiting.eq(0)
        crc = RunningCRC(m, start=sent & (fp == 0), step=sent & (fp >= 1) & (fp < n + 6),
                         byte=byte)
        self.check("crc", (fp == 0) | (top.submodules.crc.crc == crc.value),
                   "the parser's running CRC is the CRC-16 of the frame's bytes received so "
                   "far (TYPE .. payload)")
        crc_rx = Signal(16)  # the frame's CRC bytes, high first
        with m.If(sent & (fp == n + 6)):
            m.d.sync += crc_rx[8:].eq(byte)
        with m.If(sent & (fp == n + 7)):
            m.d.sync += crc_rx[:8].eq(byte)
        crc_ok = crc_rx == crc.value

        expect = self._expected(m, off, byte, sent & in_pay)
        writes = Signal(range(3))
        value = Signal.like(dut.w_data)
        hit = dut.w_en & (dut.w_addr == self.watch)
        with m.If(hit):
            m.d.sync += [writes.eq(Mux(writes == 2, 2, writes + 1)), value.eq(dut.w_data)]
        self.check("early", ~cmd.valid | waiting,
                   "no command before the frame's last byte (no byte doubled)")
        infer = cmd.payload.kind == Command.INFER
        crc_error = (cmd.payload.kind == Command.ERROR) & \
            (cmd.payload.code == int(ErrorCode.CRC))
        self.check("command", ~cmd.valid | (Mux(crc_ok, infer, crc_error &
                                                (cmd.payload.arg == crc.value)) &
                                            (cmd.payload.id == rid)),
                   "the frame's command is INFER exactly when its CRC bytes are the CRC-16 of "
                   "TYPE .. payload (else ERROR CRC with that CRC), with the frame's ID")
        self.check("once", writes < 2, "the watched address is written at most once a frame")
        self.check("value", ~cmd.valid | ((writes == 1) & (value == expect)),
                   "at the command, the watched address holds the value the frame's bytes "
                   "carry, written once (no value dropped, doubled or misplaced)")
        self.check("quiet", (fp != n + 8) | ~dut.w_en,
                   "the sample buffer is not written after the frame's last byte")
        refused = Signal()
        m.d.sync += refused.eq(~src.ready)
        self.check("ready", ~refused | src.ready, "the parser never refuses a byte twice in a row")
        wait = self.run_length(waiting & ~cmd.valid, PROGRESS)
        self.check("progress", wait < PROGRESS,
                   f"the command follows the frame's last byte within {PROGRESS} cycles")
        self.cover("infer", cmd.valid & cmd.ready & infer,
                   "a whole INFER frame parsed (its CRC right), its command taken")

    def _in_range(self, m, off, b, sent):
        """The payload byte at ``off`` carries only in-range values (a valid request)."""
        info = self.info
        if info.encoding == "direct":
            vb, ib = info.value_bits, info.in_bits
            if vb == 8:
                return (b >> ib) == 0
            if vb == 16:
                return ~off[0] | ((b >> (ib - 8)) == 0)
            ok = ((b[:4] >> ib) == 0) & ((b[4:] >> ib) == 0)
            if info.n_in % 2:
                ok = ok & ((off != info.sample_len - 1) | (b[4:] == 0))
            return ok
        rb, pad = -(-info.n_in // 8), info.n_in % 8
        if not pad:
            return 1
        row = Signal(range(max(2, rb)))
        with m.If(sent):
            m.d.sync += row.eq(Mux(row == rb - 1, 0, row + 1))
        return (row != rb - 1) | ((b >> pad) == 0)

    def _expected(self, m, off, byte, take):
        """The watched address's value, from the bytes that carry it."""
        info, a = self.info, self.watch
        value = Signal(self.info.in_bits if info.encoding == "direct" else 8)
        vb = info.value_bits if info.encoding == "direct" else 8
        with m.If(take):
            if vb == 4:
                with m.If(off == (a >> 1)):
                    m.d.sync += value.eq(Mux(a[0], byte[4:], byte[:4]))
            elif vb == 16:
                with m.If(off == a * 2):
                    m.d.sync += value[:8].eq(byte)
                with m.If(off == a * 2 + 1):
                    m.d.sync += value[8:].eq(byte)
            else:
                with m.If(off == a):
                    m.d.sync += value.eq(byte)
        return value


def proof_info(info: NetInfo) -> NetInfo:
    """``info`` with the sample cut to a few bytes: the same encoding, value width and input
    width, and the same padding (``n_in`` odd for packed values; the spike rows' last
    byte's padding bits), so that one whole request fits the bound."""
    if info.encoding == "direct":
        n_in = (4 + info.n_in % 2) if info.value_bits == 4 else 2
        return replace(info, n_in=n_in)
    return replace(info, n_in=info.n_in % 8 or 8, timesteps=2)


def parser_depth(info: NetInfo) -> int:
    """Cycles of one request, bytes back to back (a packed byte's second value takes one
    more cycle), and its command."""
    hold = info.sample_len if info.encoding == "direct" and info.value_bits == 4 else 0
    return info.sample_len + hold + 8 + PROGRESS + 2


def framing_proofs(info: NetInfo, *, parser=FrameParser, builder=FrameBuilder) -> list[Proof]:
    """The board's framing proofs for the network of ``info``: the parser (bounded over one
    whole request of :func:`proof_info`), its cover, and the builder's (the same for every
    network). ``parser``, ``builder``: planted bugs (tests)."""
    small = proof_info(info)
    depth = parser_depth(small)
    values = f"{small.value_bits}-bit values" if info.encoding == "direct" else "spike rows"
    what = (f"frame parser ({info.encoding}, {values}, in_bits "
            f"{info.in_bits}; {small.sample_len}-byte requests): every value written once, "
            f"in place; one command a request; no deadlock")
    return [Proof("board.parser", what, lambda: ParserHarness(info=small, parser=parser),
                  "bmc", depth, solver="boolector"),
            Proof("board.parser-cover", "frame parser: a whole request parsed",
                  lambda: ParserHarness(info=small, parser=parser), "cover", depth,
                  solver="boolector"),
            *builder_proofs(builder)]
