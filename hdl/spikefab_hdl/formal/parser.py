"""Proof 3b, the frame parser (docs/verification.md): a host's INFER requests of the board's
network, at the network's own sample length, by k-induction.

The host sends requests one after another (the next once the previous one's command is
taken; after an ERROR once the parser's drain has ended, ``T_idle`` without a byte): SYNC,
INFER_REQ, any ID, the network's LEN, in-range values (any, at its encoding), any two CRC
bytes, each byte at any pace within the timeout. Checks: each frame gives exactly one
command, with the frame's ID, INFER exactly when its CRC bytes are the reference's (else
ERROR CRC with that CRC), no earlier than its last byte and within ``PROGRESS`` cycles of
it; a watched sample-buffer address (a free constant: every address in some trace) is
written exactly once a frame, with the value its bytes carry (little-endian 16-bit values,
two 4-bit values per byte low nibble first, spike rows), and not after the last byte; the
parser never refuses a byte twice in a row.

**The invariant** (checks ``inv_*``; what makes the induction close at any length): the
parser's state is a function of the frame position ``fp`` (the next byte's place, which the
harness counts): its FSM state, its byte count (``fp - 1``), payload offset, TYPE, LEN's low
byte, ID, the CRC high byte, "no bad value", the spike row, the idle counter (the host's
gap), the command's valid (the harness's "waiting"), the packed byte's pending high nibble
(``hold`` exactly after a payload byte, at the next odd address); the running CRC equals
the reference CRC of the bytes so far (formal/crc.py); and for the watched address, the
writes so far are the ones its bytes have reached, the value written is the one they
carry, and a value half received (a high nibble, a 16-bit value's low byte) sits in the
parser's register. Every term is one comparison of a counter or a byte, so the solver's
cost does not grow with the sample length.
"""

from __future__ import annotations

from amaranth import Mux, Signal
from amaranth.lib.wiring import In
from spikefab.protocol import SYNC, ErrorCode, FrameType, NetInfo

from ..board.framing import Command, FrameParser
from .checks import Harness
from .crc import RunningCRC
from .framing_common import PROGRESS, TIMEOUT_CYCLES, held

__all__ = ["ParserHarness"]


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
        m.submodules.dut = dut.elaborate(None)  # elaborated here: its probes are read
        dut._MustUse__silence = True
        self.dut = dut
        pr = dut.probes
        n, t = info.sample_len, TIMEOUT_CYCLES
        fp = Signal(range(n + 9))  # the next byte's place in the frame (n + 8: all sent)
        waiting = Signal()  # the frame is sent; its command not yet taken
        rid = Signal(16)
        gap = Signal(range(t + 1))  # cycles since the last byte, up to the timeout
        byte = Signal(8)
        with m.Switch(fp):
            for k, value in ((0, SYNC), (1, int(FrameType.INFER_REQ)), (4, n & 0xFF),
                             (5, n >> 8)):
                with m.Case(k):
                    m.d.comb += byte.eq(value)
            with m.Default():  # ID, payload, CRC: any byte
                m.d.comb += byte.eq(self.s_byte)
        src, cmd = dut.i_stream, dut.o_cmd
        m.d.comb += [src.valid.eq(self.s_valid & (fp < n + 8)), src.payload.eq(byte),
                     dut.busy.eq(0), dut.uart_err.eq(0), cmd.ready.eq(self.c_ready)]
        held(self, m, src.valid, src.ready, src.payload, "byte")
        self.constant(self.watch)
        self.assume(self.watch < self.depth)
        sent = src.valid & src.ready
        start = sent & (fp == 0)
        off = Signal(range(n + 8))
        m.d.comb += off.eq(fp - 6)
        in_pay = (fp >= 6) & (fp < n + 6)
        npay = Signal(range(n + 1))  # payload bytes received
        m.d.comb += npay.eq(Mux(fp >= n + 6, n, Mux(fp >= 6, off, 0)))
        # the host keeps pace: within a frame, the next byte comes before the timeout
        self.assume(~((fp >= 1) & (fp <= n + 7) & (gap == t)))
        with m.If(sent):
            m.d.sync += gap.eq(0)
        with m.Elif(gap != t):
            m.d.sync += gap.eq(gap + 1)
        row = self._row(m, start, sent & in_pay)
        self.assume(~in_pay | self._in_range(off, row, self.s_byte))
        taken = cmd.valid & cmd.ready
        infer = cmd.payload.kind == Command.INFER
        with m.If(sent):
            m.d.sync += fp.eq(fp + 1)
            with m.If(fp == 0):
                m.d.sync += rid.eq(0)
            with m.If(fp == 2):
                m.d.sync += rid[:8].eq(byte)
            with m.If(fp == 3):
                m.d.sync += rid[8:].eq(byte)
            with m.If(fp == n + 7):
                m.d.sync += waiting.eq(1)
        with m.If(taken):  # the next request: at once after INFER, after the drain else
            m.d.sync += waiting.eq(0)
            with m.If(infer):
                m.d.sync += fp.eq(0)
        with m.If((fp == n + 8) & ~waiting & (gap == t)):
            m.d.sync += fp.eq(0)
        crc = RunningCRC(m, start=start, step=sent & (fp >= 1) & (fp < n + 6), byte=byte)
        self.check("crc", (fp == 0) | (pr["crc"] == crc.value),
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
        with m.If(start):
            m.d.sync += writes.eq(0)
        with m.Elif(hit):
            m.d.sync += [writes.eq(Mux(writes == 2, 2, writes + 1)), value.eq(dut.w_data)]
        self.check("early", ~cmd.valid | waiting,
                   "no command before the frame's last byte (no byte doubled)")
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
        self.cover("infer", taken & infer,
                   "a whole INFER frame parsed (its CRC right), its command taken")
        self._invariant(m, fp, waiting, rid, gap, npay, row, crc_rx, sent & in_pay,
                        (writes, value, expect))

    def _invariant(self, m, fp, waiting, rid, gap, npay, row, crc_rx, pay_sent, watched):
        """The parser's state as a function of the frame position (module docstring)."""
        info, pr, a = self.info, self.dut.probes, self.watch
        n, st = info.sample_len, pr["state"]
        in_pay = (fp >= 6) & (fp < n + 6)
        where = [(fp == 0, "Hunt"), (fp == 1, "Type"), (fp == 2, "Id0"), (fp == 3, "Id1"),
                 (fp == 4, "Len0"), (fp == 5, "Len1"), (in_pay, "Payload"),
                 (fp == n + 6, "Crc0"), (fp == n + 7, "Crc1"), ((fp == n + 8) & waiting, "Emit"),
                 ((fp == n + 8) & ~waiting, "Drain")]
        state_ok = 0
        for cond, name in where:
            state_ok = state_ok | (cond & st[name])
        self.check("inv_state", state_ok,
                   "(invariant) the parser's FSM state is the frame position's: SYNC hunt, "
                   "TYPE, ID, LEN, payload, CRC, then the command and, after an error, the drain")
        cmd = self.dut.o_cmd
        self.check("inv_regs", (fp == 0) | (
            (pr["count"] == fp - 1) & (pr["pos"] == npay) & ~pr["bad"] &
            (pr["ftype"] == Mux(fp >= 2, int(FrameType.INFER_REQ), 0)) &
            ((fp < 5) | (pr["length"] == (n & 0xFF))) & (cmd.payload.id == rid) &
            ((fp != n + 7) | (pr["crc_hi"] == crc_rx[8:]))),
            "(invariant) in a frame, the parser's byte count is the bytes received after "
            "SYNC, its payload offset the payload bytes received, its TYPE, LEN, ID and CRC "
            "high byte those received, no value out of range")
        self.check("inv_idle", (pr["idle"] == gap) & (gap <= TIMEOUT_CYCLES) &
                   (cmd.valid == waiting) & (~waiting | (fp == n + 8)),
                   "(invariant) the parser's idle counter is the cycles since the last byte; "
                   "its command is valid exactly while the frame's command is owed")
        # a packed byte's high nibble is written in the cycle after the byte (not the last
        # byte's padding nibble when n_in is odd)
        packed = info.encoding == "direct" and info.value_bits == 4
        pay_prev = Signal()
        m.d.sync += pay_prev.eq(pay_sent & (fp != n + 5 if info.n_in % 2 else 1)
                                if packed else 0)
        self.check("inv_hold", (pr["hold"] == pay_prev) &
                   (~pay_prev | (pr["high_addr"] == ((npay - 1) << 1 | 1))),
                   "(invariant) the parser holds a packed byte's high nibble exactly in the "
                   "cycle after the byte, for the byte's odd address")
        writes, value, expect = watched
        vb = info.value_bits if info.encoding == "direct" else 8
        if vb == 4:
            done = (npay > (a >> 1)) & ~(a[0] & pay_prev & (npay - 1 == (a >> 1)))
            half = ~pay_prev | (pr["high_addr"] != a) | (pr["low"] == expect)
        elif vb == 16:
            done = npay > a * 2 + 1
            half = ~in_pay | (npay != a * 2 + 1) | (pr["low"] == expect[:8])
        else:
            done = npay > a
            half = 1
        if info.encoding == "spikes":
            half = (pr["row_k"] == row) if row is not None else 1
        self.check("inv_watch", (fp == 0) | ((writes == done) &
                                            ((writes != 1) | (value == expect)) & half),
                   "(invariant) the watched address is written once its bytes are received, "
                   "with the value they carry; a value half received is in the parser")

    def _row(self, m, start, take):
        """The spike row's byte that comes next (None for direct input)."""
        info = self.info
        if info.encoding == "direct":
            return None
        rb = -(-info.n_in // 8)
        row = Signal(range(max(2, rb)))
        with m.If(start):
            m.d.sync += row.eq(0)
        with m.Elif(take):
            m.d.sync += row.eq(Mux(row == rb - 1, 0, row + 1))
        return row

    def _in_range(self, off, row, b):
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
        return 1 if not pad else (row != rb - 1) | ((b >> pad) == 0)

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
