"""Proof 3b, the frame builder (docs/verification.md): any headers (any TYPE, ID, LEN up to
65535) and payload bytes, under any valid/ready pattern, by k-induction.

Checks: every byte sent is the reference frame's next (SYNC, TYPE, ID lo, ID hi, LEN lo,
LEN hi, the payload bytes in the order taken, none dropped or doubled, then the CRC-16 of
TYPE .. payload high byte first: a running reference CRC beside the gateware's, equal to it
after every byte, formal/crc.py); no payload byte is taken that the frame does not carry; a
builder whose sink is ready sends a byte within ``PROGRESS`` cycles while a frame is in
progress and its payload source has a byte; idle once the last byte is sent.

**The invariant** (checks ``inv_*``): the builder's FSM state is the frame position's
(bytes sent, counted by the harness), its TYPE, ID and LEN registers are the header taken,
its count of payload bytes left is LEN less the payload bytes sent, and the payload bytes
taken are those sent plus the one waiting: one comparison of a counter each, so the proof
covers every LEN at the cost of a few cycles.
"""

from __future__ import annotations

from amaranth import Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In
from spikefab.protocol import SYNC

from ..board.framing import FrameBuilder, head_layout
from .checks import Harness
from .crc import RunningCRC
from .framing_common import PROGRESS, held

__all__ = ["BuilderHarness"]


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
        m.submodules.dut = dut.elaborate(None)  # elaborated here: its probes are read
        dut._MustUse__silence = True
        wiring.connect(m, wiring.flipped(self.head), dut.i_head)
        wiring.connect(m, wiring.flipped(self.payload), dut.i_payload)
        out = dut.o_stream
        m.d.comb += out.ready.eq(self.o_ready)
        held(self, m, self.head.valid, self.head.ready, self.head.payload, "head")
        held(self, m, self.payload.valid, self.payload.ready, self.payload.payload, "pay")

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
        self.check("crc", ~busy | (dut.probes["crc"] == crc.value),
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
        self._invariant(dut, head, busy, pos, taken, pay_n)

    def _invariant(self, dut, head, busy, pos, taken, pay_n):
        """The builder's state as a function of the bytes sent (module docstring)."""
        pr, length = dut.probes, head.length
        st = pr["state"]
        npay = Mux(pos >= length + 6, length, Mux(pos >= 6, pos - 6, 0))
        where = [(pos == 0, "Sync"), (pos == 1, "Type"), (pos == 2, "Id0"), (pos == 3, "Id1"),
                 (pos == 4, "Len0"), (pos == 5, "Len1"), ((pos >= 6) & (pos < length + 6),
                                                          "Payload"),
                 (pos == length + 6, "Crc0"), (pos == length + 7, "Crc1")]
        state_ok = 0
        for cond, name in where:
            state_ok = state_ok | (cond & st[name])
        self.check("inv_state", Mux(busy, state_ok, st["Idle"]),
                   "(invariant) the builder's FSM state is the frame position's: idle between "
                   "frames, SYNC, TYPE, ID, LEN, payload, CRC")
        self.check("inv_regs", (pay_n == 0) & (~busy | (
            (pr["ftype"] == head.type) & (pr["rid"] == head.id) & (pr["length"] == length) &
            (pr["left"] == length - npay) & (taken == npay))),
            "(invariant) the builder keeps no payload byte (one is taken as it is sent); in a "
            "frame, its TYPE, ID and LEN are the header's and its payload bytes left are LEN "
            "less those sent")
