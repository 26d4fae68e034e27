"""Proof 3a: a hidden layer's spike queue never drops, duplicates or reorders an event, and
never deadlocks, under any valid/ready pattern.

:class:`QueueHarness` builds the layer's :class:`~spikefab_hdl.core.spike_queue.SpikeQueue`
(a conv layer's ``ConvSpikeQueue``) as the core builds it (its lanes, groups, pooled size,
index width and depth) and drives it freely: ``w_valid``, the entry's fields and the
consumer's ``o_events.ready`` are chosen anew in every cycle (the writer may also withdraw an
entry the queue did not take: the queue owes only the entries it took). Assumed: a mask entry
has a set bit, an ``eos`` entry none, and a group/position in range (the writer's documented
contract). The reference
is the queue's contract in the proof's own terms — the events out are, in order, the entries
taken, each mask expanded lowest lane first into ``index(entry, lane)``, then an ``eos`` entry's
single ``eos`` beat — checked with a scoreboard of one tagged symbolic event:

* counters of events owed (``taken``: each entry adds its bit count, or 1 for ``eos``) and
  events sent (``sent``);
* a free constant entry number ``E`` and lane ``J``: when the ``E``-th entry is taken (and has
  lane ``J`` set, or is an ``eos``), its event's place in the output is
  ``taken + popcount(mask below J)`` and its payload the reference's;
* check: the event sent at that place has that payload. Every place of every trace is some
  ``(E, J)``'s, so every event out is the right one: none dropped (the next would be out of
  place), duplicated or reordered;
* check: no event leaves unless one is owed (``sent < taken``);
* bounded response: a queue that owes events and whose consumer is ready pops one within
  ``PROGRESS`` cycles; a queue that has owed nothing for ``REFILL`` cycles takes entries
  (``w_ready``). Together: with a ready consumer every entry leaves and the writer goes on.

Covers: the queue full (``w_ready`` low) and, after that, empty again with every event out.
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Signal
from amaranth.lib import data
from amaranth.lib.wiring import In

from ..core.conv_geometry import coord_bits
from ..core.conv_layer import ConvSpikeQueue
from ..core.plan import LayerPlan
from ..core.spike_queue import SpikeQueue
from .checks import Harness
from .proof import Proof

__all__ = ["QueueHarness", "build_queue", "queue_proofs", "PROGRESS", "REFILL"]

#: Cycles a ready consumer waits at most for the next event of a queue that owes one.
PROGRESS = 3
#: Cycles after which a queue that owes nothing takes entries again.
REFILL = 3


def build_queue(layer: LayerPlan) -> SpikeQueue:
    """The spike queue the core gives hidden ``layer`` (core/layer.py, core/conv_layer.py)."""
    if layer.conv is None:
        return SpikeQueue(lanes=layer.lanes, groups=layer.groups,
                          index_bits=layer.out_index_bits, chunk=layer.next_mask)
    ph, pw = layer.conv.pooled_hw
    return ConvSpikeQueue(lanes=layer.lanes, channel_groups=layer.geometry.groups,
                          pooled_hw=(ph, pw), next_conv=layer.next_conv,
                          index_bits=layer.out_index_bits)


def _table(index, n: int, scale: int):
    """``index * scale`` for ``index < n``, as a table of constants worked out here (a
    product the solver need not reason about)."""
    return Array(Const(k * scale, range(max(2, n * scale))) for k in range(max(1, n)))[index]


def _reference_index(q: SpikeQueue, entry: dict, lane):
    """The address of ``lane``'s spike in ``entry``, from the layer's geometry alone."""
    lanes = q.lanes
    if not isinstance(q, ConvSpikeQueue):  # ``lane``: the slice, ``chunk`` lanes each
        return _table(entry["group"], q.groups, lanes // q.chunk) + lane
    ph, pw = q.pooled_hw
    groups = q.channel_groups
    if q.next_conv is not None:
        cb, yb, xb = coord_bits(q.next_conv)
        chan = _table(entry["group"], groups, lanes) + lane
        return Cat(entry["px"][:xb], entry["py"][:yb], chan[:cb])
    return (_table(entry["group"], groups, lanes * ph * pw) + _table(lane, lanes, ph * pw)
            + _table(entry["py"], ph, pw) + entry["px"])


def _lowest(m, word, width: int) -> Signal:
    """The lowest set bit's index (0 when none), as a chain of its own."""
    index = Signal(range(max(2, width)))
    for j in reversed(range(width)):
        with m.If(word[j]):
            m.d.comb += index.eq(j)
    return index


class QueueHarness(Harness):
    """A layer's spike queue against the event order it owes (see the module docstring).

    Parameters
    ----------
    queue : callable
        Builds the queue under proof (:func:`build_queue` of the layer; a planted bug in
        tests).
    """

    def __init__(self, *, queue):
        self.make_queue = queue
        self.q = q = queue()
        fields = q._fields()
        ports = {f"w_{name}": In(shape) for name, shape in fields.items()}
        ports.update({"w_valid": In(1), "o_ready": In(1)})
        super().__init__(ports)

    def build(self, m):
        q = self.q
        m.submodules.dut = dut = q
        fields = q._fields()
        for name in fields:
            m.d.comb += getattr(dut, f"w_{name}").eq(getattr(self, f"w_{name}"))
        m.d.comb += [dut.w_valid.eq(self.w_valid), dut.o_events.ready.eq(self.o_ready)]
        entry = {name: getattr(self, f"w_{name}") for name in fields}
        # the writer's contract: a mask entry has a spike, an eos entry none, the
        # group/position exist
        self.assume(~self.w_valid | (entry["eos"] == (entry["mask"] == 0)))
        limits = {"group": getattr(q, "channel_groups", q.groups)}
        if isinstance(q, ConvSpikeQueue):
            limits.update(py=q.pooled_hw[0], px=q.pooled_hw[1])
        for name, n in limits.items():
            self.assume(~self.w_valid | (entry[name] < n))

        out = dut.o_events
        took = self.w_valid & dut.w_ready
        popped = out.valid & out.ready
        # the reference: the entries taken and not yet sent, oldest first, each with the
        # lanes it still owes (a shift register of slots; slot 0 is the oldest)
        slots = q.depth + 2
        layout = data.StructLayout({name: shape for name, shape in fields.items()})
        ref = [Signal(layout, name=f"ref{k}") for k in range(slots)]
        count = Signal(range(slots + 1))
        head = ref[0]
        k = chunk = getattr(q, "chunk", 1)  # spikes per event: the lowest nonzero slice
        n_slices = q.lanes // k
        sl = [head.mask[s * k:(s + 1) * k] for s in range(n_slices)]
        low = _lowest(m, Cat(*(x.any() for x in sl)), n_slices)
        rest = Signal.like(head.mask)
        piece = Signal(k)
        m.d.comb += rest.eq(head.mask)
        for s in range(n_slices):
            with m.If(low == s):
                m.d.comb += [rest[s * k:(s + 1) * k].eq(0), piece.eq(sl[s])]
        done = popped & (count != 0) & (head.eos | (rest == 0))
        with m.If(popped & (count != 0) & ~head.eos):
            m.d.sync += ref[0].mask.eq(rest)
        with m.If(done):
            m.d.sync += [ref[k].eq(ref[k + 1]) for k in range(slots - 1)]
        level = count - done  # slots held once the head has left
        with m.If(took):
            for k in range(slots):
                with m.If(level == k):
                    m.d.sync += ref[k].eq(Cat(*(entry[name] for name in fields)))
        m.d.sync += count.eq(level + took)
        lanes = q.lanes
        want_index = _reference_index(q, {n: head[n] for n in fields}, low)
        same = out.payload.index == want_index
        if chunk > 1:
            same = same & (out.payload.mask == piece)
        self.check("event", ~popped | (count == 0) |
                   ((out.payload.eos == head.eos) & (head.eos | same)),
                   f"every event leaves in its place, unchanged: the entries taken, in order, "
                   f"each mask lowest lane first ({lanes} lanes, {chunk} a beat), then its eos "
                   f"beat")
        self.check("owed", ~popped | (count != 0),
                   "no event leaves that no entry taken owes (none duplicated)")
        self.check("capacity", ~took | (level < slots),
                   f"the queue holds at most {slots} entries (its FIFO {q.depth}, the latch and "
                   f"the entry being sent)")
        self._held(m, out)

        owes = count != 0
        stall = self.run_length(owes & self.o_ready & ~popped, PROGRESS)
        self.check("progress", stall < PROGRESS,
                   f"a queue that owes events, its consumer ready, pops one within "
                   f"{PROGRESS} cycles (none left behind, no deadlock)")
        empty_for = self.run_length(~owes & ~took, REFILL)
        self.check("refill", dut.w_ready | (empty_for < REFILL),
                   f"a queue that has owed nothing for {REFILL} cycles takes entries "
                   f"(w_ready: the writer never waits forever)")

        was_full = Signal()
        with m.If(~dut.w_ready):
            m.d.sync += was_full.eq(1)
        self.cover("full", ~dut.w_ready, f"the queue full (w_ready low; depth {q.depth})")
        self.cover("drained", was_full & ~owes & ~out.valid,
                   "after being full, the queue empty again with every event out")

    def _held(self, m, out):
        """The stream protocol: an offered, untaken event is offered again unchanged."""
        stalled = Signal()
        prev = Signal.like(out.payload)
        m.d.sync += [stalled.eq(out.valid & ~out.ready), prev.eq(out.payload)]
        ok = ~stalled | (out.valid & (out.payload.eos == prev.eos) &
                         (prev.eos | (out.payload.index == prev.index)))
        self.check("held", ok, "an event offered and not taken is offered again "
                   "unchanged in the next cycle (the stream protocol)")


def fill_drain(q: SpikeQueue) -> int:
    """Cycles of a fill and a drain of ``q``: its entries written with the consumer stalled,
    then each entry's event and the ``eos`` out."""
    return 2 * q.depth + 8


#: Depth of the bounded proofs: the solver's time grows steeply with it (a 7-entry queue:
#: 12 cycles 3-10 s, 14 cycles 24 s, 16 cycles over 5 minutes on 2 loaded cores), so a
#: queue is proven over its first ``BMC_DEPTH`` cycles (docs/verification.md).
BMC_DEPTH = 12
#: Entries of the short queue: the smallest FIFO ``SpikeQueue`` builds, full within
#: ``BMC_DEPTH`` cycles (``w_ready`` drops at ``depth - 3`` entries held).
SHORT = 8
#: The solver of the queue proofs (boolector: 24 s where yices took over 60 s).
SOLVER = "boolector"


def queue_proofs(layer: LayerPlan, *, queue=None) -> list[Proof]:
    """A hidden layer's queue proofs (``queue`` builds a planted bug, in tests):

    * ``layer<l>.queue``: the layer's queue, bounded (``BMC_DEPTH`` cycles, or its whole
      fill and drain when shorter);
    * ``layer<l>.queue-short``: the same queue with its FIFO cut to ``SHORT`` entries
      (``max_depth``, which the core uses for conv queues), bounded: it goes full within
      the bound, so the full queue's logic (``w_ready``, the FIFO's last entry) is proven;
    * ``layer<l>.queue-cover``: the short queue (or the layer's, when as short) reaches full
      and then empty, every event out.
    """
    if layer.is_readout or layer.last:
        return []
    make = queue or (lambda: build_queue(layer))
    q = make()  # for its sizes only: each proof builds its own
    q._MustUse__silence = True

    def make_short():
        short = make()
        short.max_depth = SHORT
        return short

    kind = "conv " if isinstance(q, ConvSpikeQueue) else ""
    name = f"layer{layer.index}.queue"
    chunk = getattr(q, "chunk", 1)
    sliced = f", {chunk}-spike slices" if chunk > 1 else ""
    what = (f"{kind}spike queue ({q.lanes} lanes, {q.groups} groups, {{}} entries{sliced}): "
            f"no event dropped, duplicated or reordered; no deadlock")
    proofs = [Proof(name, what.format(q.depth), lambda: QueueHarness(queue=make), "bmc",
                    min(fill_drain(q), BMC_DEPTH), solver=SOLVER)]
    if q.depth > SHORT:
        proofs.append(Proof(f"{name}-short", what.format(SHORT),
                            lambda: QueueHarness(queue=make_short), "bmc", BMC_DEPTH,
                            solver=SOLVER))
    else:
        make_short = make
    depth = min(q.depth, SHORT)
    proofs.append(Proof(f"{name}-cover", f"{kind}spike queue ({depth} entries) reaches full, "
                        f"then empty", lambda: QueueHarness(queue=make_short), "cover",
                        2 * depth + 8, solver=SOLVER))
    return proofs
