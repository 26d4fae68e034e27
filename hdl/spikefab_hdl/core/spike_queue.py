"""The queue between a hidden layer's neuron pass and the next layer: spike masks in, events out.

The pass of a hidden layer produces one ``lanes``-bit spike mask per group per cycle; the
next layer takes one spike event per ``G_next`` cycles. :class:`SpikeQueue` decouples
the two: the pass writes each nonzero mask (and, after its last group, one end-of-step
entry) into a FIFO that holds a whole step (``groups + 1`` entries, four spare), and the
read side turns each mask into spike events ``{index}``, lowest index first, then the
step's ``{eos}`` beat. So a layer finishes its pass of step ``t`` in ``G`` cycles and goes
on with step ``t + 1`` while the next layer is still integrating step ``t``'s spikes —
the order of the events, hence the arithmetic, is unchanged.

The lowest spike of the mask being expanded and the mask without it come from a prefix OR
(:func:`lowest_set_bit`, :func:`without_lowest_bit`: ``log2 lanes`` levels), not from a
``lanes``-long priority chain and the carry chain of ``pend & (pend - 1)``, which limited
Fmax at wide lanes.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import times
from .signatures import event_layout

__all__ = ["SpikeQueue", "SmallFIFO", "lowest_set_bit", "without_lowest_bit", "count_to_3",
           "LOGIC_BITS", "ANY_SPAN"]

#: A queue of at most this many bits is kept in flip-flops (yosys ``ram_style = "logic"``):
#: an iCE40 block RAM holds 4096 bits, and block RAM is what a small FPGA runs out of first.
LOGIC_BITS = 512

#: Lanes per "any" bit latched beside the written mask (:meth:`SpikeQueue.any_bits`): a
#: 16-input OR before the flip-flop is two LUT4 levels, and at 128 lanes the 8 bits, the
#: eos and the valid make ``w_taken`` two LUT4 levels of the queue's own flip-flops.
ANY_SPAN = 16


class SmallFIFO(fifo.SyncFIFOBuffered):
    """``SyncFIFOBuffered`` whose storage is marked for flip-flops when it is small."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        if 1 < self.depth and (self.depth - 1) * self.width <= LOGIC_BITS:
            m.submodules.storage.attrs["ram_style"] = "logic"
        return m


def _lower_set(word, width: int) -> list:
    """``below[j]``: some bit of ``word`` under ``j`` is set; a prefix OR, ``log2 width``
    levels of 2-input ORs (Kogge-Stone), not a ``width``-long chain."""
    prefix, span = [word[j] for j in range(width)], 1
    while span < width:
        prefix = [p | prefix[j - span] if j >= span else p for j, p in enumerate(prefix)]
        span *= 2
    return [Const(0, 1)] + prefix[:-1]


def lowest_set_bit(m: Module, word, width: int) -> Signal:
    """Index of the lowest set bit of ``word`` (0 when ``word`` is 0): the bit that no lower
    set bit precedes (:func:`_lower_set`), encoded by ``log2 width`` OR trees."""
    index = Signal(range(max(2, width)))
    below = _lower_set(word, width)
    first = [word[j] & ~below[j] for j in range(width)]  # one-hot
    for b in range(len(index)):
        hits = [first[j] for j in range(width) if (j >> b) & 1]
        m.d.comb += index[b].eq(Cat(*hits).any() if hits else 0)
    return index


def count_to_3(word, width: int):
    """The number of set bits of ``word``, saturated at 3 (2 bits): a tree of 2-bit
    saturating adds, each output bit a function of 4 bits (one LUT4 level per tree level)."""
    counts = [Cat(word[j], Const(0, 1)) for j in range(width)]
    while len(counts) > 1:
        pairs = []
        for a, b in zip(counts[0::2], counts[1::2], strict=False):
            total = a + b
            pairs.append(Mux(total[2], 3, total[:2]))
        counts = pairs + ([counts[-1]] if len(counts) % 2 else [])
    return counts[0] if counts else Const(0, 2)


def without_lowest_bit(word, width: int):
    """``word`` with its lowest set bit cleared (``word & (word - 1)`` without the carry
    chain): the bits that some lower set bit precedes."""
    below = _lower_set(word, width)
    return Cat(*(word[j] & below[j] for j in range(width)))


class SpikeQueue(wiring.Component):
    """A step's spike masks in, spike events out.

    Parameters
    ----------
    lanes : int
        Bits per mask (neurons per group).
    groups : int
        Groups per step; the FIFO holds ``groups + 5`` entries.
    index_bits : int
        Width of an outgoing spike address.
    max_depth : int or None
        At most this many FIFO entries (at least 8): when a step's entries do not fit, the
        pass waits for room (``w_ready``), which changes when spikes leave, not their order.
    chunk : int
        Spikes per event (a divisor of ``lanes``; the next layer's mask width,
        :mod:`.lanes`): with ``chunk > 1`` each event is a nonzero ``chunk``-bit slice of a
        mask, ``{index = c, mask}`` for neurons ``c * chunk + k``, lowest slice first.

    Attributes
    ----------
    w_valid : unsigned(1), in
        Write an entry this cycle (taken when ``w_ready``). A mask entry may be empty (no
        spike): it is latched and then dropped (the writer need not OR its lanes).
    w_ready : unsigned(1), out
        The FIFO has room.
    w_ready_next : unsigned(1), out
        What ``w_ready`` (a register) holds in the next cycle: for copies of it
        (:class:`~.neuron_pass.NeuronPass`'s stage enables on ECP5 builds).
    w_group : unsigned(ceil(log2 groups)), in
        Group of the mask.
    w_mask : unsigned(lanes), in
        Spikes of neurons ``w_group * lanes + j``; zero with ``w_eos`` (the layers write the
        end-of-step entry when no group is consumed); a zero mask without it is dropped.
    w_eos : unsigned(1), in
        The entry is the end of the step (its ``w_mask`` must be zero: a mask with it would
        leave after the ``eos`` beat or before it, depending on the queue's state).
    o_events : stream of StructLayout({index: unsigned(index_bits), [mask], eos}), out
        One beat per spike (per nonzero slice with ``chunk > 1``), then one ``eos`` beat
        per step.
    """

    def __init__(self, *, lanes: int, groups: int, index_bits: int, max_depth=None,
                 chunk: int = 1):
        if max_depth is not None and max_depth < 8:
            raise ValueError(f"max_depth {max_depth}: at least 8 entries")
        if chunk < 1 or lanes % chunk:
            raise ValueError(f"chunk {chunk}: a divisor of lanes {lanes}")
        self.lanes, self.groups, self.index_bits = lanes, groups, index_bits
        self.max_depth, self.chunk = max_depth, chunk
        fields = self._fields()
        self._entry = data.StructLayout(fields)
        super().__init__(
            {
                "w_valid": In(1),
                "w_ready": Out(1),
                "w_ready_next": Out(1),
                **{f"w_{name}": In(shape) for name, shape in fields.items()
                   if name not in ("mask", "eos")},
                "w_mask": In(lanes),
                "w_eos": In(1),
                "o_events": Out(stream.Signature(event_layout(index_bits, mask=chunk))),
            }
        )

    def _fields(self) -> dict:
        """The fields of an entry, in FIFO bit order (``mask`` first, ``eos`` last)."""
        return {"mask": self.lanes, "group": range(max(2, self.groups)), "eos": 1}

    def any_bits(self, mask):
        """One bit per ``ANY_SPAN`` lanes of ``mask``: some lane of the span is set."""
        return Cat(*(mask[a:a + ANY_SPAN].any() for a in range(0, self.lanes, ANY_SPAN)))

    @property
    def depth(self) -> int:
        """Entries of the FIFO: one step's (``groups`` masks and an ``eos``) and four spare,
        or ``max_depth``."""
        return min(self.groups + 5, self.max_depth or self.groups + 5)

    def _expander(self, m: Module, entry, load) -> callable:
        """Registers of the entry being expanded, set from ``entry`` when ``load``; returns
        ``index(low)``: the address of the spike in lane ``low``."""
        base = Signal(range(max(2, self.groups * self.lanes)))
        with m.If(load):
            m.d.sync += base.eq(times(entry.group, self.lanes // self.chunk))
        return lambda low: base + low

    def _slots(self, word):
        """The items of ``word``: its bits, or with ``chunk > 1`` one bit per nonzero slice."""
        k = self.chunk
        if k == 1:
            return word
        return Cat(*(word[s * k:(s + 1) * k].any() for s in range(self.lanes // k)))

    def _items(self, m: Module, pend):
        """What one event takes from ``pend``: ``(items, low, rest)``, the nonzero items
        (spikes, or slices with ``chunk > 1``), the lowest one's number, ``pend`` without it
        (with ``chunk > 1`` the slice goes out as the event's ``mask``)."""
        k = self.chunk
        if k == 1:
            return pend, lowest_set_bit(m, pend, self.lanes), without_lowest_bit(pend, self.lanes)
        slots = self.lanes // k
        items = self._slots(pend)
        low = lowest_set_bit(m, items, slots)
        rest = Signal.like(pend)
        m.d.comb += rest.eq(pend)
        for s in range(slots):
            with m.If(low == s):
                m.d.comb += [rest[s * k:(s + 1) * k].eq(0),
                             self.o_events.payload.mask.eq(pend[s * k:(s + 1) * k])]
        return items, low, rest

    def elaborate(self, platform):
        m = Module()
        lanes = self.lanes
        depth = self.depth
        m.submodules.fifo = q = SmallFIFO(width=self._entry.size, depth=depth)
        # A written entry is first latched (``w_data``, ``w_valid``: registers), so the
        # writer's logic ends at flip-flops; ``w_ready`` (a register too) promises room for
        # the latched entry in the next cycle. ``w_data`` latches every cycle: it is read
        # only in the cycle after a write (``w_valid``), so the writer's valid (an OR over
        # a layer's spikes) enables no flip-flop (it did: the ECP5 MNIST build's critical
        # path, docs/hardware.md). The writer need not test its mask for a spike either (a
        # ``lanes``-wide OR across the die into ``w_valid``: the next critical path): an
        # empty mask entry is latched and dropped here, ``w_taken`` testing the latched mask
        # one cycle later. That test is not a ``lanes``-wide OR of the latched mask (its
        # flip-flops sit by the pass's lanes, and the OR drove the FIFO's write enable and
        # address: the 85F ``128x3`` build's critical path at 77.78 MHz) but an OR of
        # ``w_any``, one bit per ``ANY_SPAN`` lanes latched beside the mask.
        w_data = Signal(self._entry.size)
        w_any = Signal(len(self.any_bits(self.w_mask)), name="w_any")
        w_valid = Signal()
        ready = Signal(init=1)
        m.d.comb += [q.w_data.eq(w_data), self.w_ready.eq(ready)]
        m.d.sync += w_valid.eq(self.w_valid & ready)
        m.d.sync += w_data.eq(Cat(*(getattr(self, f"w_{name}") for name in self._fields())))
        m.d.sync += w_any.eq(self.any_bits(self.w_mask))
        latched = data.View(self._entry, w_data)
        taken = Signal(name="w_taken")  # the latched entry is one: an eos or a spike
        m.d.comb += taken.eq(w_valid & (latched.eos | w_any.any()))
        bypass = Signal()
        entry = data.View(self._entry, Mux(bypass, w_data, q.r_data))

        # The entry being expanded: its remaining spikes, then (for an eos entry) the eos beat.
        pend = Signal(lanes)
        pend_eos = Signal()
        load = Signal()
        index = self._expander(m, entry, load)
        out = self.o_events
        items, low, rest = self._items(m, pend)
        # ``any_``/``one``: pend has an item / exactly one, as registers set beside pend, so
        # that the FIFO's read enable (``free``) is a few gates from flip-flops, not a zero
        # test of ``rest`` (its wide enables were the critical path at lanes 64)
        any_, one = Signal(name="any_"), Signal(name="one")
        with m.If(any_):
            m.d.comb += [out.valid.eq(1), out.payload.index.eq(index(low))]
        with m.Elif(pend_eos):
            m.d.comb += [out.valid.eq(1), out.payload.eos.eq(1)]
        with m.If(out.ready & any_):
            m.d.sync += [pend.eq(rest), any_.eq(~one),
                         one.eq(count_to_3(items, len(items)) == 2)]
        with m.If(out.ready & ~any_):
            m.d.sync += pend_eos.eq(0)
        idle = ~any_ & ~pend_eos
        free = idle | (out.ready & (one | ~any_))  # (one implies any_)
        # ``none_held``: the FIFO is empty (a register kept beside the FIFO's own level, an
        # adder, so that its write enable is a few gates from flip-flops and the reader;
        # it and ``ready`` are computed without an adder).
        none_held = Signal(init=1)
        held = Signal(range(depth + 1))
        wrote, read = q.w_en & q.w_rdy, q.r_en & q.r_rdy
        # held +- 1 comes from the register alone; the late write/read only select it
        up, down = Signal.like(held), Signal.like(held)
        ready_next = Signal()
        m.d.comb += [ready_next.eq(held <= depth - 4), self.w_ready_next.eq(ready_next)]
        m.d.comb += [up.eq(held + 1), down.eq(held - 1)]
        m.d.sync += [
            held.eq(Mux(wrote == read, held, Mux(wrote, up, down))),
            none_held.eq(~wrote & ((held == 0) | ((held == 1) & read))),
            # room for an entry latched in the next cycle and written in the one after,
            # whatever happens now: the FIFO's inner memory (depth - 1 entries) may hold
            # all but its output register's entry, and held grows by at most 1 a cycle
            ready.eq(ready_next),
        ]
        # An entry written while the queue is empty and the expander idle skips the
        # FIFO (its latency), so a layer waiting for this one loses no cycle per step.
        # (``idle``, not ``free``: the FIFO's write enable then comes from flip-flops
        # alone, not from the next layer's ``ready``.)
        m.d.comb += [
            bypass.eq(idle & none_held),
            q.w_en.eq(taken & ~bypass),
            q.r_en.eq(free),
        ]
        # A bypassing eos entry leaves in the cycle it is written, if the reader takes it.
        empty = idle & none_held  # (independent of out.ready)
        eos_through = empty & taken & latched.eos
        with m.If(eos_through):
            m.d.comb += [out.valid.eq(1), out.payload.eos.eq(1)]
        m.d.comb += load.eq(free & (q.r_rdy | (bypass & taken)) & ~(eos_through & out.ready))
        mask = Signal(lanes)
        m.d.comb += mask.eq(entry.mask)
        new_items = self._slots(mask)
        # (a bypassing entry's spikes: ``w_any``, not the latched mask's OR)
        some = Mux(bypass, w_any.any(), data.View(self._entry, q.r_data).mask.any())
        with m.If(load):
            m.d.sync += [pend.eq(mask), pend_eos.eq(entry.eos), any_.eq(some),
                         one.eq(count_to_3(new_items, len(new_items)) == 1)]
        return m
