"""Proof 3a: a hidden layer's spike queue never drops, duplicates or reorders an event, and
never deadlocks, under any valid/ready pattern.

:class:`QueueHarness` builds the layer's :class:`~spikefab_hdl.core.spike_queue.SpikeQueue`
(a conv layer's ``ConvSpikeQueue``) as the core builds it (its lanes, groups, pooled size,
index width and depth) and drives it freely: ``w_valid``, the entry's fields and the
consumer's ``o_events.ready`` are chosen anew in every cycle (the writer may also withdraw an
entry the queue did not take: the queue owes only the entries it took, and nothing for an
empty mask entry, which it drops). Assumed: an ``eos`` entry has no set bit, and a
group/position is in range (the writer's contract).
The reference is the queue's contract in the proof's own terms — the events out are, in
order, the entries taken, each mask expanded lowest lane first into ``index(entry, lane)``,
then an ``eos`` entry's single ``eos`` beat — kept as a shadow queue (the entries taken and
not yet sent, the oldest with the lanes it still owes):

* check: every event out is the shadow's next (none dropped, duplicated or reordered);
* check: no event leaves unless one is owed; the queue holds at most its FIFO + 2 entries;
  an offered event is offered again until taken (the stream protocol);
* bounded response: a queue that owes events and whose consumer is ready pops one within
  ``PROGRESS`` cycles; a queue that has owed nothing for ``REFILL`` cycles takes entries
  (``w_ready``). Together: with a ready consumer every entry leaves and the writer goes on.

Covers: the queue full (``w_ready`` low) and, after that, empty again with every event out.

With ``invariant=True`` (k-induction) the harness also checks that the queue holds exactly
the shadow's entries, in order, its counters agree (``_invariant``) and how long a ready
consumer can have waited (``_response``): inductive at any depth, at k = 1.
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Mux, Signal
from amaranth.lib import data
from amaranth.lib.wiring import In

from ..core.conv_geometry import coord_bits
from ..core.conv_layer import ConvSpikeQueue
from ..core.plan import LayerPlan
from ..core.spike_queue import SpikeQueue
from .checks import Harness
from .proof import Proof

__all__ = ["QueueHarness", "build_queue", "queue_proofs", "PROGRESS", "REFILL"]

#: Cycles a ready consumer waits at most for an owed event; cycles after which a queue that
#: owes nothing takes entries again.
PROGRESS, REFILL = 3, 3


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
    """``index * scale`` for ``index < n``, a table of constants (no product to solve)."""
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
    invariant : bool
        Add the checks that make the properties inductive (:meth:`_invariant`; for
        k-induction).
    bound : int, optional
        The BMC depth of a bounded proof: a trace of ``bound`` cycles takes at most
        ``bound`` entries, so the reference keeps ``bound + 1`` slots when that is fewer
        than the queue's ``depth + 2`` (a 256-entry queue's 12-cycle proof: 13 slots). A
        bounded proof also checks the invariant's statements that read no FIFO entry but its
        ends (the counters, the expander, the output register, the latch): true in every
        reachable state, they are lemmas to the solver (mnist5k_conv's 256-entry queue: 254 s
        without them, 9 s with).
    """

    def __init__(self, *, queue, invariant: bool = False, bound: int | None = None):
        self.make_queue = queue
        self.invariant = invariant
        self.bound = None if invariant else bound
        self.q = q = queue()
        fields = q._fields()
        ports = {f"w_{name}": In(shape) for name, shape in fields.items()}
        ports.update({"w_valid": In(1), "o_ready": In(1)})
        super().__init__(ports)

    def build(self, m):
        q = dut = self.q
        parts = self._elaborate(m, q)
        fields = q._fields()
        for name in fields:
            m.d.comb += getattr(dut, f"w_{name}").eq(getattr(self, f"w_{name}"))
        m.d.comb += [dut.w_valid.eq(self.w_valid), dut.o_events.ready.eq(self.o_ready)]
        entry = {name: getattr(self, f"w_{name}") for name in fields}
        # the writer's contract: an eos entry has no spike, the group/position exist (a
        # mask entry may be empty: the queue drops it)
        self.assume(~self.w_valid | ~entry["eos"] | (entry["mask"] == 0))
        limits = self._limits()
        for name, n in limits.items():
            self.assume(~self.w_valid | (entry[name] < n))

        out = dut.o_events
        took = self.w_valid & dut.w_ready & (entry["eos"] | (entry["mask"] != 0))
        popped = out.valid & out.ready
        # the reference: the entries taken and not yet sent, oldest first, each with the
        # lanes it still owes (a shift register of slots; slot 0 is the oldest)
        slots = q.depth + 2
        if self.bound is not None:
            slots = min(slots, self.bound + 1)
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
        want_index = Signal(len(out.payload.index) + 1, name="want_index")
        m.d.comb += want_index.eq(_reference_index(q, {n: head[n] for n in fields}, low))
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
        if slots == q.depth + 2:  # (a bounded trace cut shorter cannot fill the queue)
            self.check("capacity", ~took | (level < slots),
                       f"the queue holds at most {slots} entries (its FIFO {q.depth}, the "
                       f"latch and the entry being sent)")
        self._held(m, out)
        if self.invariant or self.bound is not None:  # (bounded: lemmas that speed it up)
            self._invariant(m, parts, ref, count, low, want_index, piece)

        owes = count != 0
        stall = self.run_length(owes & self.o_ready & ~popped, PROGRESS)
        self.check("progress", stall < PROGRESS,
                   f"a queue that owes events, its consumer ready, pops one within "
                   f"{PROGRESS} cycles (none left behind, no deadlock)")
        empty_for = self.run_length(~owes & ~took, REFILL)
        self.check("refill", dut.w_ready | (empty_for < REFILL),
                   f"a queue that has owed nothing for {REFILL} cycles takes entries "
                   f"(w_ready: the writer never waits forever)")
        if self.invariant or self.bound is not None:
            self._response(parts, stall, empty_for)

        was_full = Signal()
        with m.If(~dut.w_ready):
            m.d.sync += was_full.eq(1)
        self.cover("full", ~dut.w_ready, f"the queue full (w_ready low; depth {q.depth})")
        self.cover("drained", was_full & ~owes & ~out.valid,
                   "after being full, the queue empty again with every event out")

    def _limits(self) -> dict:
        """The entry's fields that index something, and how many there are."""
        q = self.q
        limits = {"group": getattr(q, "channel_groups", q.groups)}
        if isinstance(q, ConvSpikeQueue):
            limits.update(py=q.pooled_hw[0], px=q.pooled_hw[1])
        return limits

    def _elaborate(self, m, q) -> dict:
        """Elaborate the queue here (not later, as a submodule) so that the invariant can name
        its registers and read its FIFO's memory: returns them by name (``pend``, ``any_``,
        ``held``... as in ``SpikeQueue.elaborate``), with ``fifo`` (the FIFO),
        ``produce``/``consume`` (its memory's write/read addresses), ``storage``."""
        dm = q.elaborate(None)
        dm._flush()
        q._MustUse__silence = True
        regs = {}
        for stmts in dm._statements.values():
            for stmt in stmts:
                for sig in stmt._lhs_signals():
                    regs.setdefault(sig.name, sig)
        fifo, loc = dm._named_submodules["fifo"]
        fm = fifo.elaborate(None)
        fifo._MustUse__silence = True
        dm._named_submodules["fifo"] = (fm, loc)
        storage = fm._named_submodules["storage"][0]
        regs.update(fifo=fifo, storage=storage, produce=storage.write_ports[0].addr,
                    consume=storage.read_ports[0].addr)
        m.submodules.dut = dm
        return regs

    def _invariant(self, m, parts, ref, count, low, want_index, piece):
        """What makes the properties inductive (k-induction at any depth): the queue holds
        exactly the reference's entries, in order — the entry being expanded (``pend``:
        the lanes it still owes), the FIFO's output register, its memory from the read
        address on, the latched entry — and its counters agree with what it holds."""
        q, fifo, storage = self.q, parts["fifo"], parts["storage"]
        pend, pend_eos, any_, one = (parts[n] for n in ("pend", "pend_eos", "any_", "one"))
        held, none_held, ready = parts["held"], parts["none_held"], parts["ready"]
        w_data, w_valid, taken = parts["w_data"], parts["w_valid"], parts["w_taken"]
        depth, inner = q.depth, q.depth - 1
        head = Signal(name="inv_head")  # an entry is being expanded
        m.d.comb += head.eq(any_ | pend_eos)
        inner_level = Signal(range(inner + 1), name="inv_inner_level")
        m.d.comb += inner_level.eq(fifo.level - fifo.r_rdy)
        size = ref[0].shape().size
        self.check("inv_counts", (held == fifo.level) & (none_held == (held == 0)) &
                   (fifo.level <= depth) & (~fifo.r_rdy | (fifo.level != 0)) &
                   (inner_level <= inner) &
                   (count == head + fifo.level + taken) &
                   (parts["produce"] == _wrap(parts["consume"] + inner_level, inner)) &
                   (parts["consume"] < inner) & (parts["produce"] < inner) &
                   (~ready | (held <= depth - 3)) & (~w_valid | (held <= depth - 2)),
                   "(invariant) the queue's counters agree with the entries it holds")
        payload = q.o_events.payload
        offered = payload.index == want_index
        if getattr(q, "chunk", 1) > 1:
            offered = offered & (payload.mask == piece)
        items = q._slots(pend)
        ones = Signal(range(len(items) + 1), name="inv_ones")
        m.d.comb += ones.eq(sum(items[j] for j in range(len(items))))
        text = ("(invariant) the entry being expanded is the oldest the reference owes, "
                "with the lanes it still owes, and offers its next event")
        self.check("inv_flags", (any_ == (pend != 0)) & (one == (ones == 1)) &
                   ~(any_ & pend_eos), text + " (its flags)")
        self.check("inv_head", ~head | (ref[0].as_value()[:size] ==
                                         Cat(pend, ref[0].as_value()[q.lanes:size - 1],
                                             pend_eos)), text + " (its lanes)")
        self.check("inv_base", ~any_ | self._expander_ok(parts, ref[0]), text + " (its base)")
        self.check("inv_offer", ~any_ | offered, text + " (its next event)")
        limits = self._limits()
        good = [(k >= count) | ((r.eos == (r.mask == 0)) &
                                Cat(*(r[n] < v for n, v in limits.items())).all())
                for k, r in enumerate(ref)]
        self.check("inv_contract", Cat(*good).all(),
                   "(invariant) every entry the reference owes keeps the writer's contract")
        slot = Array(ref)
        first = Signal(range(3), name="inv_first")  # the FIFO's oldest entry's slot
        m.d.comb += first.eq(head)
        ok = [~fifo.r_rdy | (fifo.r_data == slot[first].as_value()),
              ~taken | (w_data == slot[head + fifo.level].as_value())]
        consume = parts["consume"]
        for j in range(inner if self.invariant else 0):  # bounded: the FIFO's ends only
            port = storage.read_port(domain="comb")
            m.d.comb += port.addr.eq(_wrap(consume + j, inner))
            want = Array(ref[j:j + 3] + [ref[0]] * (3 - len(ref[j:j + 3])))[first + fifo.r_rdy]
            ok.append((j >= inner_level) | (port.data == want.as_value()))
        self.check("inv_any", parts["w_any"] == q.any_bits(data.View(q._entry, w_data).mask),
                   "(invariant) the latched any bits (SpikeQueue.any_bits) are the latched mask's")
        self.check("inv_entries", Cat(*ok).all(),
                   "(invariant) the FIFO and the latch hold the reference's entries, in order")

    def _response(self, parts, stall, empty_for):
        """What makes the bounded-response checks inductive at k = 1: a ready consumer
        waits at most two cycles, one while the entry moves into the FIFO's output register
        and one while it is loaded into the expander; a cycle owing nothing frees ``w_ready``."""
        head = parts["any_"] | parts["pend_eos"]
        self.check("inv_stall", ((stall != 1) | head | parts["fifo"].r_rdy) &
                   ((stall < 2) | head),
                   "(invariant) a consumer kept waiting one cycle finds the next entry in the "
                   "FIFO's output register or the expander, two cycles in the expander")
        self.check("inv_refill", (empty_for == 0) | self.q.w_ready,
                   "(invariant) after a cycle owing nothing the queue takes entries")

    def _expander_ok(self, parts, entry):
        """The expander's registers hold ``entry``'s base address (``SpikeQueue._expander``)."""
        q = self.q
        e = {n: entry[n] for n in q._fields()}
        if not isinstance(q, ConvSpikeQueue):
            return parts["base"] == _table(e["group"], q.groups, q.lanes // q.chunk)
        ph, pw = q.pooled_hw
        if q.next_conv is not None:
            return ((parts["chan"] == _table(e["group"], q.channel_groups, q.lanes)) &
                    (parts["py"] == e["py"]) & (parts["px"] == e["px"]))
        return parts["base"] == (_table(e["group"], q.channel_groups, q.lanes * ph * pw) +
                                 _table(e["py"], ph, pw) + e["px"])

    def _held(self, m, out):
        """The stream protocol: an offered, untaken event is offered again unchanged."""
        stalled = Signal()
        prev = Signal.like(out.payload)
        m.d.sync += [stalled.eq(out.valid & ~out.ready), prev.eq(out.payload)]
        ok = ~stalled | (out.valid & (out.payload.eos == prev.eos) &
                         (prev.eos | (out.payload.index == prev.index)))
        self.check("held", ok, "an event offered and not taken is offered again "
                   "unchanged in the next cycle (the stream protocol)")


def _wrap(x, n: int):
    """``x mod n`` for ``0 <= x < 2 * n``."""
    return Mux(x >= n, x - n, x)


#: Depth of the bounded proof of a queue too deep for the induction (the solver's time
#: grows steeply with it: docs/verification.md).
BMC_DEPTH = 12
#: Entries of the short queue: the smallest FIFO ``SpikeQueue`` builds.
SHORT = 8
#: The k of the induction (3 without the bounded-response counters and the inner level).
K_INDUCTION = 1
#: The deepest queue proven by induction at its own depth (the invariant compares every
#: FIFO entry with the reference's slot; the FIFO's memory an SMT array): 37 entries
#: (digits, digits_conv) 20-31 s loaded, 256 no answer in 400 s (docs/verification.md).
INDUCTION_MAX = 37
SOLVER = "boolector"  #: 24 s where yices took over 60 s


def queue_proofs(layer: LayerPlan, *, queue=None) -> list[Proof]:
    """A hidden layer's queue proofs (``queue`` builds a planted bug, in tests):

    * ``layer<l>.queue``: the layer's queue, by k-induction (every trace) when it has at
      most ``INDUCTION_MAX`` entries, else bounded (``BMC_DEPTH`` cycles);
    * ``layer<l>.queue-short`` (a deeper queue only): the same queue with its FIFO cut to
      ``SHORT`` entries (``max_depth``, which the core uses for conv queues), by
      k-induction: every trace of the queue's logic, its full FIFO included;
    * ``layer<l>.queue-cover``: the short queue (or the layer's) reaches full, then empty."""
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
    sliced = f", {q.chunk}-spike slices" if getattr(q, "chunk", 1) > 1 else ""
    what = (f"{kind}spike queue ({q.lanes} lanes, {q.groups} groups, {{}} entries{sliced}): "
            f"no event dropped, duplicated or reordered; no deadlock")

    def induction(proof_name, entries, build):
        return Proof(proof_name, what.format(entries),
                     lambda: QueueHarness(queue=build, invariant=True), "prove", K_INDUCTION,
                     solver=SOLVER)

    if q.depth <= SHORT:
        make_short = make
    if q.depth <= INDUCTION_MAX:
        proofs = [induction(name, q.depth, make)]
    else:
        proofs = [Proof(name, what.format(q.depth),
                        lambda: QueueHarness(queue=make, bound=BMC_DEPTH), "bmc", BMC_DEPTH,
                        solver=SOLVER),
                  induction(f"{name}-short", SHORT, make_short)]
    depth = min(q.depth, SHORT)
    proofs.append(Proof(f"{name}-cover", f"{kind}spike queue ({depth} entries) reaches full, "
                        f"then empty", lambda: QueueHarness(queue=make_short), "cover",
                        2 * depth + 8, solver=SOLVER))
    return proofs
