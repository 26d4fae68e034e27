"""Frame parser and frame builder for the board protocol (docs/protocol.md).

:class:`FrameParser` turns received bytes into commands (INFO, INFER or an ERROR to
report) and writes an INFER sample into the board's sample buffer; :class:`FrameBuilder`
wraps a header and a payload stream into a frame with its CRC. The constants and the
expected behaviour come from :mod:`spikefab.protocol`; the software model the
tests compare against is :class:`spikefab.driver.board_model.BoardModel`.
"""

from amaranth import Cat, Module, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.crc import catalog
from amaranth.lib.wiring import In, Out
from spikefab.fixed import is_int
from spikefab.protocol import SYNC, ErrorCode, FrameType, NetInfo

__all__ = ["Command", "command_layout", "head_layout", "FrameParser", "FrameBuilder"]


class Command(enum.Enum, shape=2):
    """What the parser asks the top to do."""

    INFO = 0
    INFER = 1
    ERROR = 2


#: A parsed request: ``kind`` and the request ``id`` (for ERROR: the ID bytes that arrived,
#: the others 0); for ERROR also the code, offending TYPE and argument.
command_layout = data.StructLayout(
    {"kind": Command, "id": 16, "code": 8, "type": 8, "arg": 16}
)
#: A frame header for the builder: TYPE, ID and LEN.
head_layout = data.StructLayout({"type": 8, "id": 16, "length": 16})


def _crc_processor():
    return catalog.CRC16_CCITT_FALSE(data_width=8).create()


class FrameParser(wiring.Component):
    """Receives request frames.

    Parameters
    ----------
    info : NetInfo
        The board's network (sample length, encoding and input width for the checks).
    timeout_cycles : int
        ``T_idle`` in clock cycles: a frame with no byte for this long is abandoned
        (TIMEOUT), and a drain after an error ends after this long without a byte.

    Attributes
    ----------
    i_stream : stream of unsigned(8), in
        Received bytes (from :class:`~.uart.UARTRx`); taken at once, except in the cycle
        after a packed payload byte (its second value is written then).
    uart_err : Signal(1), in
        A received byte had a low stop bit (pulse from the receiver).
    busy : Signal(1), in
        The top is executing a command; bytes received meanwhile are discarded.
    o_cmd : stream of command_layout, out
        One command per request frame or error, with the request's ID. The payload stays
        unchanged after the handshake until the next command, so the top need not copy it.
    w_addr : Signal(range(depth)), out
    w_data : Signal(value_width), out
    w_en : Signal(1), out
        Write port into the sample buffer: direct value ``i`` (assembled from its
        little-endian bytes, or its nibble of a packed byte) at address ``i``, or spike
        payload byte ``k`` at address ``k``.
    """

    def __init__(self, *, info: NetInfo, timeout_cycles: int):
        if not is_int(timeout_cycles) or \
                timeout_cycles < 2:
            self._MustUse__silence = True
            raise ValueError(f"timeout_cycles must be an integer >= 2, not {timeout_cycles!r}")
        self.info = info
        self.timeout_cycles = timeout_cycles
        direct = info.encoding == "direct"
        self.depth = info.n_in if direct else info.sample_len
        self.value_width = info.in_bits if direct else 8
        super().__init__({
            "i_stream": In(stream.Signature(8)),
            "uart_err": In(1),
            "busy": In(1),
            "o_cmd": Out(stream.Signature(command_layout)),
            "w_addr": Out(range(max(2, self.depth))),
            "w_data": Out(self.value_width),
            "w_en": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        info = self.info
        m.submodules.crc = crc = _crc_processor()
        byte = self.i_stream.payload
        got = Signal()  # a byte arrives this cycle
        hold = Signal()  # a packed byte's high nibble is written this cycle
        high_addr = Signal.like(self.w_addr)
        m.d.comb += [self.i_stream.ready.eq(~hold), got.eq(self.i_stream.valid & ~hold)]
        m.d.sync += hold.eq(0)

        idle = Signal(range(self.timeout_cycles + 1))
        timed_out = Signal()
        m.d.comb += timed_out.eq(idle == self.timeout_cycles)
        with m.If(got | self.uart_err):
            m.d.sync += idle.eq(0)
        with m.Elif(~timed_out):
            m.d.sync += idle.eq(idle + 1)

        ftype = Signal(8)
        length = Signal(8)  # LEN's low byte (the high byte is checked as it arrives)
        count = Signal(range(info.sample_len + 10))  # bytes received after SYNC
        pos = Signal(range(info.sample_len + 1))  # payload offset
        crc_hi = Signal(8)
        bad = Signal()  # an out-of-range value was seen
        bad_at = Signal.like(pos)
        low = Signal(8)  # low byte of a 2-byte direct value
        row_k = Signal(range(max(2, -(-info.n_in // 8))))
        cmd = self.o_cmd.payload

        def error(code, arg, then="Emit"):
            m.d.sync += [
                cmd.kind.eq(Command.ERROR), cmd.code.eq(int(code)), cmd.type.eq(ftype),
                cmd.arg.eq(arg), self.o_cmd.valid.eq(1),
            ]
            m.next = then

        with m.If(got):
            m.d.sync += count.eq(count + 1)
        with m.If(hold):
            m.d.comb += [self.w_addr.eq(high_addr), self.w_data.eq(low), self.w_en.eq(1)]
        m.d.comb += crc.data.eq(byte)

        with m.FSM() as fsm:
            with m.State("Hunt"):
                with m.If(got & ~self.busy & (byte == SYNC)):
                    # the top is idle (not busy), so the command's ID may change now
                    m.d.sync += [count.eq(0), ftype.eq(0), pos.eq(0), bad.eq(0), row_k.eq(0),
                                 cmd.id.eq(0)]
                    m.d.comb += crc.start.eq(1)
                    m.next = "Type"
            for state, nxt in (("Type", "Id0"), ("Id0", "Id1"), ("Id1", "Len0"),
                               ("Len0", "Len1"), ("Len1", None), ("Payload", None),
                               ("Crc0", "Crc1"), ("Crc1", None)):
                with m.State(state):
                    with m.If(self.uart_err):
                        error(ErrorCode.UART, count, then="Emit")
                    with m.Elif(got):
                        if state not in ("Crc0", "Crc1"):
                            m.d.comb += crc.valid.eq(1)
                        if state == "Type":
                            m.d.sync += ftype.eq(byte)
                        elif state == "Id0":
                            m.d.sync += cmd.id[:8].eq(byte)
                        elif state == "Id1":
                            m.d.sync += cmd.id[8:].eq(byte)
                        elif state == "Len0":
                            m.d.sync += length.eq(byte)
                        elif state == "Len1":
                            self._header(m, ftype, Cat(length, byte), error)
                        elif state == "Payload":
                            self._payload(m, byte, pos, low, row_k, bad, bad_at,
                                          (hold, high_addr))
                        elif state == "Crc0":
                            m.d.sync += crc_hi.eq(byte)
                        else:
                            with m.If(Cat(byte, crc_hi) != crc.crc):
                                error(ErrorCode.CRC, crc.crc)
                            with m.Elif(ftype == FrameType.INFO_REQ):
                                m.d.sync += [cmd.kind.eq(Command.INFO), self.o_cmd.valid.eq(1)]
                                m.next = "Emit"
                            with m.Elif(bad):
                                error(ErrorCode.VALUE, bad_at)
                            with m.Else():
                                m.d.sync += [cmd.kind.eq(Command.INFER), self.o_cmd.valid.eq(1)]
                                m.next = "Emit"
                        if nxt is not None:
                            m.next = nxt
                    with m.Elif(timed_out):
                        error(ErrorCode.TIMEOUT, count, then="Emit")
            with m.State("Emit"):
                with m.If(self.o_cmd.ready):
                    m.d.sync += self.o_cmd.valid.eq(0)
                    with m.If(cmd.kind != Command.ERROR):
                        m.next = "Hunt"
                    with m.Elif(cmd.code == int(ErrorCode.TIMEOUT)):
                        m.next = "Hunt"
                    with m.Else():
                        m.next = "Drain"
            with m.State("Drain"):
                with m.If(timed_out):
                    m.next = "Hunt"
            # what the framing proof's induction invariant reads (formal/parser.py)
            self.probes = {"state": {s: fsm.ongoing(s) for s in fsm.encoding}, "idle": idle,
                           "ftype": ftype, "length": length, "count": count, "pos": pos,
                           "crc": crc.crc, "crc_hi": crc_hi, "bad": bad, "low": low,
                           "row_k": row_k, "hold": hold, "high_addr": high_addr}
        return m

    def _header(self, m, ftype, length, error):
        """After LEN: check TYPE and LEN, then go to the payload or the CRC."""
        info = self.info
        with m.If(ftype == FrameType.INFO_REQ):
            with m.If(length != 0):
                error(ErrorCode.LENGTH, 0)
            with m.Else():
                m.next = "Crc0"
        with m.Elif(ftype == FrameType.INFER_REQ):
            with m.If(length != info.sample_len):
                error(ErrorCode.LENGTH, info.sample_len)
            with m.Else():
                m.next = "Payload"
        with m.Else():
            error(ErrorCode.TYPE, 0)

    def _payload(self, m, byte, pos, low, row_k, bad, bad_at, packed):
        """Write the payload into the sample buffer and check every value's range."""
        info = self.info
        last = pos == info.sample_len - 1
        m.d.sync += pos.eq(pos + 1)
        with m.If(last):
            m.next = "Crc0"
        flag, offset = Signal(), Signal(16)
        if info.encoding == "direct" and info.value_bits == 4:
            # value 2k from the low nibble now, 2k+1 from the high one in the next cycle
            # (``hold``: no byte is taken then; a UART byte takes 40 cycles or more)
            hold, high_addr = packed
            m.d.comb += [self.w_addr.eq(pos << 1), self.w_data.eq(byte[:4]), self.w_en.eq(1),
                         offset.eq(pos)]
            m.d.sync += [low.eq(byte[4:]), high_addr.eq((pos << 1) | 1)]
            if info.n_in % 2:  # the last byte's high nibble is padding: 0, not written
                m.d.sync += hold.eq(~last)
                pad = last & (byte[4:] != 0)
            else:
                m.d.sync += hold.eq(1)
                pad = 0
            if info.in_bits < 4:
                m.d.comb += flag.eq(pad | (byte[:4] >> info.in_bits != 0)
                                    | (byte[4:] >> info.in_bits != 0))
            else:
                m.d.comb += flag.eq(pad)
        elif info.encoding == "direct" and info.value_bits == 8:
            m.d.comb += [self.w_addr.eq(pos), self.w_data.eq(byte), self.w_en.eq(1),
                         offset.eq(pos)]
            if info.in_bits < 8:
                m.d.comb += flag.eq(byte >> info.in_bits != 0)
        elif info.encoding == "direct":
            m.d.sync += low.eq(byte)
            with m.If(pos[0]):
                m.d.comb += [self.w_addr.eq(pos >> 1), self.w_data.eq(Cat(low, byte)),
                             self.w_en.eq(1), offset.eq(pos - 1)]
                if info.in_bits < 16:
                    m.d.comb += flag.eq(byte >> (info.in_bits - 8) != 0)
        else:
            rb, pad = -(-info.n_in // 8), info.n_in % 8
            m.d.comb += [self.w_addr.eq(pos), self.w_data.eq(byte), self.w_en.eq(1),
                         offset.eq(pos)]
            with m.If(row_k == rb - 1):
                m.d.sync += row_k.eq(0)
            with m.Else():
                m.d.sync += row_k.eq(row_k + 1)
            if pad:
                m.d.comb += flag.eq((row_k == rb - 1) & (byte >> pad != 0))
        with m.If(flag & ~bad):
            m.d.sync += [bad.eq(1), bad_at.eq(offset)]


class FrameBuilder(wiring.Component):
    """Sends response frames: SYNC, TYPE, ID, LEN, the payload, then the CRC.

    Attributes
    ----------
    i_head : stream of head_layout, in
        TYPE, ID and LEN of the next frame; taken when the builder is idle.
    i_payload : stream of unsigned(8), in
        Exactly LEN payload bytes after each header.
    o_stream : stream of unsigned(8), out
        The frame's bytes (to :class:`~.uart.UARTTx`).
    idle : Signal(1), out
        High when no frame is in progress.
    """

    i_head: In(stream.Signature(head_layout))
    i_payload: In(stream.Signature(8))
    o_stream: Out(stream.Signature(8))
    idle: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = _crc_processor()
        ftype = Signal(8)
        rid = Signal(16)
        length = Signal(16)
        left = Signal(16)
        out = self.o_stream
        sent = out.valid & out.ready
        m.d.comb += crc.data.eq(out.payload)

        with m.FSM() as fsm:
            with m.State("Idle"):
                m.d.comb += [self.idle.eq(1), self.i_head.ready.eq(1)]
                with m.If(self.i_head.valid):
                    m.d.sync += [ftype.eq(self.i_head.payload.type),
                                 rid.eq(self.i_head.payload.id),
                                 length.eq(self.i_head.payload.length),
                                 left.eq(self.i_head.payload.length)]
                    m.d.comb += crc.start.eq(1)
                    m.next = "Sync"
            with m.State("Sync"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(SYNC)]
                with m.If(out.ready):
                    m.next = "Type"
            for state, value, nxt in (("Type", ftype, "Id0"), ("Id0", rid[:8], "Id1"),
                                      ("Id1", rid[8:], "Len0"), ("Len0", length[:8], "Len1"),
                                      ("Len1", length[8:], None)):
                with m.State(state):
                    m.d.comb += [out.valid.eq(1), out.payload.eq(value), crc.valid.eq(sent)]
                    with m.If(out.ready):
                        if nxt is None:
                            m.next = "Crc0"
                            with m.If(left != 0):
                                m.next = "Payload"
                        else:
                            m.next = nxt
            with m.State("Payload"):
                m.d.comb += [
                    out.valid.eq(self.i_payload.valid),
                    out.payload.eq(self.i_payload.payload),
                    self.i_payload.ready.eq(out.ready),
                    crc.valid.eq(sent),
                ]
                with m.If(sent):
                    m.d.sync += left.eq(left - 1)
                    with m.If(left == 1):
                        m.next = "Crc0"
            with m.State("Crc0"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(crc.crc[8:])]
                with m.If(out.ready):
                    m.next = "Crc1"
            with m.State("Crc1"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(crc.crc[:8])]
                with m.If(out.ready):
                    m.next = "Idle"
            # what the framing proof's induction invariant reads (formal/builder.py)
            self.probes = {"state": {s: fsm.ongoing(s) for s in fsm.encoding}, "ftype": ftype,
                           "rid": rid, "length": length, "left": left, "crc": crc.crc}
        return m
