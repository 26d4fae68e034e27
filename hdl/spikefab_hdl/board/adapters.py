"""Adapters between the protocol's bytes and the core's streams (docs/protocol.md, docs/core.md).

* :class:`SampleFeeder` reads a received sample from the sample buffer and plays it
  into the core's ``i_stream``: ``ceil(n_in / in_pack)`` value beats of ``in_pack`` values
  each, one buffer entry each (direct), or per step one address
  beat per set bit of the step's bitmap row and an ``eos`` beat (spikes). It reads one
  buffer entry per cycle, so a zero bitmap byte costs one cycle; what it sends comes
  from flip-flops, not from the buffer's block RAM.
* :class:`CoordMap` (spike input into a conv first layer): the feeder's flat input
  addresses become the packed coordinates ``(c, y, x)`` the core takes (docs/core.md),
  through a table of ``n_in`` entries read one cycle later.
* :class:`ResultSerializer` turns the core's ``o_stream`` (accumulators, prediction,
  cycle count) into the RESULT payload bytes, little-endian.
"""

import numpy as np
from amaranth import Cat, Module, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from spikefab.fixed import unsigned_width
from spikefab.protocol import NetInfo

from ..core.conv_geometry import ConvGeometry
from ..core.plan import CYCLE_BITS, CorePlan
from ..core.signatures import input_layout, output_layout
from ..core.spike_queue import lowest_set_bit

__all__ = ["SampleFeeder", "CoordMap", "ResultSerializer", "buffer_shape", "feeder_layout"]


def feeder_layout(plan: CorePlan) -> data.StructLayout:
    """The feeder's beats: the core's input beat, or with spike input into a conv layer the
    flat address (:class:`CoordMap` packs it)."""
    if plan.encoding == "spikes" and plan.layers[0].conv is not None:
        return data.StructLayout({"data": unsigned(unsigned_width(plan.n_in - 1)),
                                  "eos": unsigned(1)})
    return input_layout(plan)


def buffer_shape(info: NetInfo, in_pack: int = 1) -> tuple[int, int]:
    """``(width, depth)`` of one sample in the sample buffer: direct values, ``in_pack`` to an
    entry (one core input beat; the last entry's lanes past ``n_in`` unused), or the spike
    bitmap's bytes."""
    if info.encoding == "direct":
        return info.in_bits * in_pack, -(-info.n_in // in_pack)
    return 8, info.sample_len


class SampleFeeder(wiring.Component):
    """Plays the buffered sample into the core.

    Parameters
    ----------
    plan : CorePlan
        The core's plan (stream widths).
    info : NetInfo
        The protocol's view of the network (encoding, sizes).

    Attributes
    ----------
    start : Signal(1), in
        Pulse: play the sample now in the buffer.
    busy : Signal(1), out
        High from ``start`` until the last beat has been taken.
    r_addr : Signal(range(depth)), out
    r_en : Signal(1), out
    r_data : Signal(width), in
        Synchronous read port of the sample buffer (data one cycle after ``r_en``).
    o_stream : stream of feeder_layout(plan), out
        To the core's ``i_stream`` (through a :class:`CoordMap` for a conv first layer
        with spike input).
    """

    def __init__(self, *, plan: CorePlan, info: NetInfo):
        self.plan = plan
        self.info = info
        self.width, self.depth = buffer_shape(info, plan.in_pack)
        super().__init__({
            "start": In(1),
            "busy": Out(1),
            "r_addr": Out(range(max(2, self.depth))),
            "r_en": Out(1),
            "r_data": In(self.width),
            "o_stream": Out(stream.Signature(feeder_layout(plan))),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.depth
        # stage 1: buffer entries as a stream (bv, r_data), one per cycle
        idx = Signal(range(n + 1), init=n)
        bv = Signal()
        b_ready = Signal()
        advance = ~bv | b_ready
        m.d.comb += [self.r_addr.eq(idx), self.r_en.eq(advance)]
        with m.If(advance):
            m.d.sync += bv.eq(idx != n)
            with m.If(idx != n):
                m.d.sync += idx.eq(idx + 1)
        with m.If(self.start):
            m.d.sync += idx.eq(0)
        out = self.o_stream
        if self.info.encoding == "direct":
            # stage 2 (direct): an output register and a skid register, so the core's input
            # logic starts at a flip-flop, not at the block RAM's slow output, and the
            # buffer's read enable depends on registers only, not on the core's ``ready``
            ov, sv = Signal(), Signal()
            od, sd = Signal(self.width), Signal(self.width)
            m.d.comb += [
                b_ready.eq(~sv),
                out.valid.eq(ov),
                out.payload.data.eq(od),
                self.busy.eq((idx != n) | bv | ov | sv),
            ]
            with m.If(out.ready | ~ov):
                with m.If(sv):
                    m.d.sync += [od.eq(sd), ov.eq(1), sv.eq(0)]
                with m.Else():
                    m.d.sync += [od.eq(self.r_data), ov.eq(bv)]
            with m.Elif(bv & ~sv):
                m.d.sync += [sd.eq(self.r_data), sv.eq(1)]
            return m
        # stage 2 (spikes): one address beat per set bit, an eos beat after each row
        rb = -(-self.info.n_in // 8)
        in_k = Signal(range(max(2, rb)))  # byte-in-row index of the entry being offered
        work = Signal(8)
        work_k = Signal.like(in_k)
        wvalid = Signal()
        eor = Signal()
        lsb = lowest_set_bit(m, work, 8)
        single = (work & (work - 1)) == 0
        emit_bit = wvalid & (work != 0)
        emit_eos = wvalid & (work == 0) & eor
        finishing = wvalid & (
            ((work == 0) & ~eor) | (emit_eos & out.ready) | (emit_bit & single & ~eor & out.ready)
        )
        m.d.comb += [
            out.valid.eq(emit_bit | emit_eos),
            out.payload.data.eq(Cat(lsb[:3], work_k)),
            out.payload.eos.eq(emit_eos),
            b_ready.eq(~wvalid | finishing),
            self.busy.eq((idx != n) | bv | wvalid),
        ]
        with m.If(bv & b_ready):
            m.d.sync += [work.eq(self.r_data), work_k.eq(in_k), wvalid.eq(1),
                         eor.eq(in_k == rb - 1), in_k.eq(in_k + 1)]
            with m.If(in_k == rb - 1):
                m.d.sync += in_k.eq(0)
        with m.Elif(finishing):
            m.d.sync += wvalid.eq(0)
        with m.Elif(emit_bit & out.ready):
            m.d.sync += work.eq(work & (work - 1))
        with m.If(self.start):
            m.d.sync += in_k.eq(0)
        return m


class CoordMap(wiring.Component):
    """Flat input addresses to packed conv coordinates, one beat per cycle, one cycle late.

    Parameters
    ----------
    plan : CorePlan
        A spike-input core whose first layer is a conv layer.

    Attributes
    ----------
    i_stream : stream of feeder_layout(plan), in
    o_stream : stream of input_layout(plan), out
    busy : Signal(1), out
        A beat is held.
    """

    def __init__(self, *, plan: CorePlan):
        self.plan = plan
        super().__init__({
            "i_stream": In(stream.Signature(feeder_layout(plan))),
            "o_stream": Out(stream.Signature(input_layout(plan))),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        geo = ConvGeometry(plan.layers[0].conv, plan.layers[0].lanes)
        table = [int(v) for v in geo.pack(*geo.unpack_flat(np.arange(plan.n_in)))]
        m.submodules.table = rom = memory.Memory(shape=plan.in_data_bits, depth=plan.n_in,
                                                 init=table)
        rd = rom.read_port()
        src, out = self.i_stream, self.o_stream
        valid, eos = Signal(), Signal()
        move = ~valid | out.ready
        m.d.comb += [
            src.ready.eq(move),
            rd.addr.eq(src.payload.data),
            rd.en.eq(move),
            out.valid.eq(valid),
            out.payload.data.eq(rd.data),
            out.payload.eos.eq(eos),
            self.busy.eq(valid),
        ]
        with m.If(move):
            m.d.sync += [valid.eq(src.valid), eos.eq(src.payload.eos)]
        return m


class ResultSerializer(wiring.Component):
    """The core's result beats as RESULT payload bytes.

    Parameters
    ----------
    plan : CorePlan
        The core's plan (``n_classes``, ``acc_bits``, ``out_data_bits``).
    info : NetInfo
        Gives ``acc_bytes``.

    Attributes
    ----------
    i_stream : stream of output_layout(plan), in
        From the core's ``o_stream``: ``n_classes`` accumulators, the prediction, the
        cycle count (``last``).
    o_stream : stream of unsigned(8), out
        Each accumulator as ``acc_bytes`` signed little-endian bytes, the prediction as
        2 bytes, the cycle count as 4 bytes.
    prediction : Signal(16), out
        The last prediction sent (for the status LEDs).
    """

    def __init__(self, *, plan: CorePlan, info: NetInfo):
        if CYCLE_BITS != 32:
            raise ValueError(f"the protocol carries a 32-bit cycle count, not {CYCLE_BITS}")
        self.plan = plan
        self.info = info
        super().__init__({
            "i_stream": In(stream.Signature(output_layout(plan))),
            "o_stream": Out(stream.Signature(8)),
            "prediction": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        plan, c = self.plan, self.plan.n_classes
        width = max(plan.out_data_bits, 8 * self.info.acc_bytes, 32)
        shreg = Signal(width)
        left = Signal(range(max(self.info.acc_bytes, 4) + 1))
        beat = Signal(range(c + 2))
        src, out = self.i_stream, self.o_stream
        take = (left == 0) | ((left == 1) & out.ready)
        data = src.payload.data
        m.d.comb += [src.ready.eq(take), out.valid.eq(left != 0), out.payload.eq(shreg[:8])]
        with m.If(src.valid & take):
            m.d.sync += beat.eq(beat + 1)
            with m.If(src.payload.last):
                m.d.sync += beat.eq(0)
            with m.If(beat < c):
                m.d.sync += [shreg.eq(data[: plan.acc_bits].as_signed()),
                             left.eq(self.info.acc_bytes)]
            with m.Elif(beat == c):
                m.d.sync += [shreg.eq(data[:16]), left.eq(2), self.prediction.eq(data[:16])]
            with m.Else():
                m.d.sync += [shreg.eq(data[:32]), left.eq(4)]
        with m.Elif(out.valid & out.ready):
            m.d.sync += [shreg.eq(shreg >> 8), left.eq(left - 1)]
        return m
