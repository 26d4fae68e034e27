"""Event-driven synaptic integration: ``I += W[:, i] * x_i`` per input event, ``lanes`` at a time.

The integrator owns a layer's weight memory and current memory. For every input
event ``(i, x_i)`` with ``x_i != 0`` it reads the ``G = ceil(n_out / lanes)`` weight rows of
input ``i`` on consecutive cycles and adds them (times ``x_i`` for a multi-bit input) into
the ``G`` rows of the current memory: a read-modify-write pipeline, one row per cycle,
with the current memory's read port transparent to its write port so that back-to-back
updates of the same row are exact. A spike input has three stages (read the weight row;
register it; add it into the current row). A multi-bit input has four: read the weight
row; register it; multiply it by ``x_i`` into a register (``lanes`` multipliers
``w_bits x in_bits``, the form yosys maps to DSP blocks, or two a block as SB_MAC16
instances in dual 8x8 mode, ``LayerPlan.mac8x8``, :mod:`.sb_mac16`; beyond the device's DSP
count shifts and adds, ``LayerPlan.logic_lanes``; on ECP5 builds a second product register,
:func:`product_latency`, and the DSP products MULT18X18D instances whose own input and output
registers stand for the weight register and the first product register, :func:`dsp_registers`,
:mod:`.mult18x18d`); add the products into the current row. A weight memory of
several banks (:mod:`.weight_memory`, one block-RAM shape each) adds one stage: the OR of
the banks' zeroed outputs, registered. An event with ``x_i = 0`` is consumed in one cycle
and does nothing.

A direct layer taking *pixel chunks* ``K`` wide (``layer.mask``, :mod:`.lanes`) gets events
``(c, values)`` of the ``K`` values ``x_{c*K+k}`` (value ``k`` in bits ``[k*in_bits,
(k+1)*in_bits)``): its rows are laid out as a mask layer's (below), the product stage makes
``lanes x K`` products, then each lane adds its ``K`` with the adder tree below; a chunk
of zeros is consumed in one cycle.

A layer taking spike masks ``K`` wide (``layer.mask``, :mod:`.lanes`) gets chunk events
``(c, mask)``: a weight row then holds the ``K x lanes`` weights of inputs ``c*K … c*K+K-1``
(:mod:`.layout`), and each lane adds the weights whose mask bit is set with an adder
tree (exact: every level one bit wider), registered every ``layer.tree_levels`` levels or
fewer (:mod:`.adder_tree`), so
a chunk of up to ``K`` spikes costs the ``G`` cycles one spike costs. The current is
``b`` plus a subset of the row's terms whatever the order, so it stays inside
``cur_bits`` (``net.current_bits``) exactly as the one-spike path's does.

Between steps the owner (a layer) reads and rewrites the currents through the
``rd_*``/``wr_*`` ports; it may do so only while ``idle`` is high. The current memory
starts with the biases (``I = b``), and the owner writes the biases back after using
the currents, so the next step starts from ``b`` again.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from . import mult18x18d, sb_mac16
from .adder_tree import tree_schedule
from .arith import times, times_unsigned
from .copies import ADDR_FANOUT, ENABLE_SPAN, enable_spans, pixel_copies, span_copies
from .plan import LayerPlan
from .spram import SPRAMMemory
from .weight_memory import WeightMemory

__all__ = ["Integrator", "route_events", "product_latency", "dsp_registers"]


def dsp_registers(lp: LayerPlan) -> bool:
    """A direct layer built for ECP5 (``lp.bram_outreg``) makes its DSP products in
    MULT18X18D instances with their own input and output registers (:mod:`.mult18x18d`)
    where the widths fit one block; the latency is :func:`product_latency`'s either way."""
    return bool(lp.value_bits and lp.bram_outreg and not lp.mac8x8
                and mult18x18d.widths_fit(lp.w_bits, lp.value_bits))


def product_latency(lp: LayerPlan) -> int:
    """Registers after a direct layer's products: 1, and 2 on a layer built for ECP5's
    DP16KD (``lp.bram_outreg``), where the multipliers sit in DSP columns far from the
    block RAMs and the current memory: the product is registered where it leaves the DSP
    and again before the add, so no hop crosses the die with the multiplier on it. 0 for
    a spike-input layer (no products)."""
    return (2 if lp.bram_outreg else 1) if lp.value_bits else 0


class Integrator(wiring.Component):
    """Event-driven accumulation of one layer's input currents.

    Parameters
    ----------
    layer : LayerPlan
        The layer (weights, biases, widths, lanes).

    Attributes
    ----------
    events : stream of StructLayout({index, [value]}), in
        Input events: ``index`` is unsigned(in_index_bits); ``value`` (unsigned(value_bits))
        exists only for a multi-bit (direct) input, otherwise every
        event means "input ``index`` spiked". One event is taken every ``G`` cycles.
    idle : unsigned(1), out
        No event in flight: the current memory may be read and written by the owner.
    rd_addr : unsigned(ceil(log2 G)), in
        Row the owner reads (data appears on ``rd_data`` the next cycle).
    rd_en : unsigned(1), in
        Read enable of the owner's read; while low ``rd_data`` holds its value.
    rd_data : ArrayLayout(signed(cur_bits), lanes), out
        The ``lanes`` currents of row ``rd_addr`` of the previous enabled cycle.
    wr_addr : unsigned(ceil(log2 G)), in
        Row the owner writes.
    wr_en : unsigned(1), in
        Write enable of the owner's write.
    wr_data : ArrayLayout(signed(cur_bits), lanes), in
        Currents written to row ``wr_addr``.
    """

    def __init__(self, *, layer: LayerPlan):
        self.layer = layer
        fields = {"index": unsigned(layer.in_index_bits)}
        if layer.value_bits:  # a pixel chunk: mask values, value k in bits [k*vb, (k+1)*vb)
            fields["value"] = unsigned(layer.value_bits * layer.mask)
        elif layer.mask > 1:
            fields["mask"] = unsigned(layer.mask)
        cur = data.ArrayLayout(signed(layer.cur_bits), layer.lanes)
        addr = range(layer.groups)
        super().__init__(
            {
                "events": In(stream.Signature(data.StructLayout(fields))),
                "idle": Out(1),
                "rd_addr": In(addr),
                "rd_en": In(1),
                "rd_data": Out(cur),
                "wr_addr": In(addr),
                "wr_en": In(1),
                "wr_data": In(cur),
            }
        )

    def elaborate(self, platform):
        m = Module()
        lp = self.layer
        groups, lanes = lp.groups, lp.lanes
        cur_layout = data.ArrayLayout(signed(lp.cur_bits), lanes)
        m.submodules.weights = wmem = self.weight_memory()
        banks = lp.spram_banks("currents")
        spans = 0
        if banks:  # single-port RAM: the walk never reads and writes one bank in a cycle
            m.submodules.currents = cmem = self.current_spram(cur_layout, groups, banks)
            c_wr, c_rd = cmem.write, cmem.read
        else:
            # (a conv layer's currents start unset: its clear pass writes them after reset)
            init = [] if lp.conv is not None else [list(map(int, r)) for r in lp.bias_rows]
            m.submodules.currents = cmem = self.current_memory(cur_layout, groups, init)
            # one row on an ECP5 build: flip-flops, whose write enable is their clock enable,
            # so one per ENABLE_SPAN lanes from copies of the add's valid (below)
            spans = enable_spans(lanes) if groups == 1 and lp.bram_outreg else 0
            c_wr = cmem.write_port(granularity=ENABLE_SPAN) if spans else cmem.write_port()
            c_rd = cmem.read_port(transparent_for=(c_wr,))
        busy, group, value, pending = self.walk(m, wmem)

        # Stages 1 .. latency: the row travels through the weight memory (its block RAM,
        # then its output register, :mod:`.weight_memory`), after the address copies' own
        # cycle where there are copies (``walk``); valid, group and value go alongside.
        stages = [(busy, group, value)]
        for k in range(1, wmem.latency + (1 if wmem.addr_copies else 0) + 1):
            prev = stages[-1]
            cur = (Signal(name=f"s{k}_valid"), Signal(range(groups), name=f"s{k}_group"),
                   Signal.like(value, name=f"s{k}_value"))
            m.d.sync += [c.eq(p) for c, p in zip(cur, prev, strict=True)]
            stages.append(cur)
        reg_w = wmem.data
        (pre_valid, pre_group, pre_value), (reg_valid, reg_group, reg_value) = stages[-2:]
        in_flight = busy | pending
        for valid, _, _ in stages[1:]:
            in_flight = in_flight | valid
        if lp.value_bits:
            # Next stage: the products w * x_i, registered (a plain multiply of at most 16 x 16
            # bits with registered operands and result: yosys maps it to SB_MAC16 on iCE40
            # with ``synth_ice40 -dsp`` and to MULT18X18D on ECP5); the current row is read.
            # A pixel chunk (mask K > 1): K products per lane, then an adder tree.
            k, vb = lp.mask, lp.value_bits
            add_valid, add_group = Signal(), Signal(range(groups))
            terms = Signal(data.ArrayLayout(signed(lp.w_bits + vb + 1), lanes * k))
            m.d.sync += [add_valid.eq(reg_valid), add_group.eq(reg_group)]
            on_dsp = lanes * k - lp.logic_lanes
            xs = [reg_value[(p // lanes) * vb:(p // lanes + 1) * vb] for p in range(lanes * k)]
            hand = lp.mac8x8 or dsp_registers(lp)  # terms driven by the blocks' registers
            if lp.mac8x8:  # two products a SB_MAC16, registered in the block (sb_mac16)
                pairs = sb_mac16.products(m, "mac", [(reg_w[p], xs[p]) for p in range(on_dsp)])
                m.d.comb += [terms[p].eq(v) for p, v in enumerate(pairs)]
            elif hand:  # MULT18X18D, operands and product registered in the block: the
                # operands one stage early (the block's input register replaces the weight
                # memory's output register), the product as the first product register;
                # the pixels from copies of ``pre_value`` (:func:`.copies.pixel_copies`)
                pre_xs = pixel_copies(m, stages[-3][2], range(on_dsp), lanes, vb, "pre")
                outs = mult18x18d.products(
                    m, "mult", [(wmem.data_next[p], pre_xs[p]) for p in range(on_dsp)])
                m.d.comb += [terms[p].eq(v) for p, v in enumerate(outs)]
                xs = [None] * on_dsp + pixel_copies(m, pre_value, range(on_dsp, lanes * k),
                                                    lanes, vb, "reg")
            for p in range(hand * on_dsp, lanes * k):  # beyond the DSPs: shifts and adds
                prod = times_unsigned(reg_w[p], xs[p]) if p >= on_dsp else reg_w[p] * xs[p]
                if hand:  # terms is then driven comb: each product its own register
                    reg = Signal(signed(lp.w_bits + vb + 1), name=f"product{p}")
                    m.d.sync += reg.eq(prod)
                    m.d.comb += terms[p].eq(reg)
                else:
                    m.d.sync += terms[p].eq(prod)
            products = [(add_valid, add_group, terms)]
            row_addr, row_read = reg_group, reg_valid
            in_flight = in_flight | add_valid
            for n in range(1, product_latency(lp)):  # the products registered again
                regs = Signal.like(terms, name=f"p{n}_terms")
                valid, group = Signal(name=f"p{n}_valid"), Signal.like(add_group)
                m.d.sync += [regs.eq(terms), valid.eq(add_valid), group.eq(add_group)]
                row_addr, row_read = add_group, add_valid
                terms, add_valid, add_group = regs, valid, group
                in_flight = in_flight | add_valid
                products.append((add_valid, add_group, terms))
            if k > 1:
                vals = [[terms[i * lanes + j] for i in range(k)] for j in range(lanes)]
                tree = self.adder_tree(m, vals, (add_valid, add_group, None))
                (row_read, row_addr), (add_valid, add_group) = tree[-2][:2], tree[-1][:2]
                terms = tree[-1][2]
                for valid, _, _ in tree[1:]:
                    in_flight = in_flight | valid
        elif lp.mask > 1:
            tree = self.mask_tree(m, reg_w, reg_value, (reg_valid, reg_group))
            (row_read, row_addr), (add_valid, add_group) = tree[-2][:2], tree[-1][:2]
            terms = tree[-1][2]
            for valid, _, _ in tree[1:]:
                in_flight = in_flight | valid
        else:
            # The row is added as it leaves the memory (a spike has the value 1).
            add_valid, add_group = reg_valid, reg_group
            terms = reg_w
            row_addr, row_read = pre_group, pre_valid

        # The current row is read one cycle before the add; the owner's reads otherwise.
        with m.If(row_read):
            m.d.comb += c_rd.addr.eq(row_addr)
        with m.Else():
            m.d.comb += [c_rd.addr.eq(self.rd_addr), c_rd.en.eq(self.rd_en)]

        # Last stage: add the terms into the current row and write it back.
        sums = Signal(cur_layout)
        for j in range(lanes):
            m.d.comb += sums[j].eq(c_rd.data[j] + terms[j])
        m.d.comb += [
            self.idle.eq(~in_flight),
            self.rd_data.eq(c_rd.data),
            c_wr.en.eq(Cat(*(add | self.wr_en for add in span_copies(m, row_read, spans,
                                                                   "add_valid")))
                       if spans else Mux(add_valid, 1, self.wr_en)),
            c_wr.addr.eq(Mux(add_valid, add_group, self.wr_addr)),
            c_wr.data.eq(Mux(add_valid, sums, self.wr_data)),
        ]
        # what the integrator proof's induction invariant reads (formal/rmw.py)
        self.probes = {"walk": (busy, group, value), "stages": stages[1:],
                       "add": (add_valid, add_group, terms),
                       "products": products if lp.value_bits else [],
                       "tree": tree[1:] if lp.mask > 1 else []}
        return m

    def mask_tree(self, m: Module, row, mask, head) -> list:
        """Per lane, the sum of the row's weights whose mask bit is set: an adder tree,
        registered as :func:`.adder_tree.tree_schedule` says. Returns the stages ``(valid,
        group, terms)``, ``head`` (the weight row's ``(valid, group)``) first."""
        lanes, k = self.layer.lanes, self.layer.mask
        vals = [[Mux(mask[i], row[i * lanes + j], 0) for i in range(k)] for j in range(lanes)]
        return self.adder_tree(m, vals, (*head, None))

    def adder_tree(self, m: Module, vals, head) -> list:
        """Per lane the sum of its terms ``vals[lane]`` (exact: every level one bit wider),
        registered after the levels :func:`.adder_tree.tree_schedule` gives each stage; the
        stages ``(valid, group, terms)``, ``head`` first."""
        stages = [head]
        self.tree_regs = []
        for levels in tree_schedule(len(vals[0]), self.layer.tree_levels):
            for _ in range(levels):
                vals = [[v[i] + v[i + 1] if i + 1 < len(v) else v[i]
                         for i in range(0, len(v), 2)] for v in vals]
            n = len(stages)
            valid, group = Signal(name=f"t{n}_valid"), Signal.like(head[1], name=f"t{n}_group")
            regs = [[Signal(v.shape(), name=f"t{n}_l{j}_{i}") for i, v in enumerate(lane)]
                    for j, lane in enumerate(vals)]
            m.d.sync += [valid.eq(stages[-1][0]), group.eq(stages[-1][1])]
            m.d.sync += [r.eq(v) for rl, vl in zip(regs, vals, strict=True)
                         for r, v in zip(rl, vl, strict=True)]
            vals = regs
            self.tree_regs.append(regs)  # what the integrator proof reads (formal/rmw_mask.py)
            stages.append((valid, group, [lane[0] for lane in regs]))
        return stages

    def weight_memory(self) -> WeightMemory:
        """The layer's weight memory (``addr``, ``data``, ``latency``); the integrator proof
        (formal/rmw.py) puts its own model of one row in its place."""
        lp = self.layer
        return WeightMemory(shape=data.ArrayLayout(signed(lp.w_bits), lp.lanes * lp.mask),
                            rows=lp.weight_rows, bank_rows=lp.bank_rows, outreg=lp.outreg,
                            addr_fanout=ADDR_FANOUT if lp.bram_outreg else 0)

    def current_memory(self, shape, depth: int, init) -> memory.Memory:
        """The current memory (one write port, one read port transparent to it); the
        integrator proof (formal/rmw.py) puts a model tracking one row in its place."""
        return memory.Memory(shape=shape, depth=depth, init=init)

    def current_spram(self, shape, depth: int, banks: int) -> SPRAMMemory:
        """The current memory in single-port RAM (``read``, ``write``); the integrator proof
        (formal/rmw_conv.py) puts a model tracking one row in its place."""
        return SPRAMMemory(shape=shape, depth=depth, banks=banks)

    def walk(self, m: Module, wmem: WeightMemory):
        """Stage 0: take events and walk the ``G`` weight rows of each nonzero one.

        Drives ``wmem.addr`` and ``events.ready``; returns ``(busy, row, value, pending)``:
        a row is issued this cycle, the current row it adds into, the event's value, and
        whether an event is held before the walk (never, here).
        """
        lp = self.layer
        groups = lp.groups
        busy = Signal()
        base = self.walk_base = Signal(range(lp.n_in * groups))
        group = Signal(range(groups))
        value = Signal(max(1, lp.value_bits * lp.mask, lp.mask if lp.mask > 1 else 0))
        last = group == groups - 1
        take = ~busy | last
        ev = self.events.payload
        m.d.comb += self.events.ready.eq(take)
        # busy and base of the next cycle
        busy_next, base_next = Signal(name="busy_next"), Signal.like(base, name="base_next")
        m.d.comb += [busy_next.eq(busy), base_next.eq(base)]
        with m.If(busy):
            m.d.comb += base_next.eq(base + 1)
            m.d.sync += group.eq(group + 1)
            with m.If(last):
                m.d.comb += busy_next.eq(0)
        with m.If(self.events.valid & take):
            word = ev.value if lp.value_bits else ev.mask if lp.mask > 1 else None
            m.d.comb += [busy_next.eq(1 if word is None else word != 0),
                         base_next.eq(times(ev.index, groups))]
            m.d.sync += [group.eq(0), value.eq(1 if word is None else word)]
        m.d.sync += [busy.eq(busy_next), base.eq(base_next)]
        if lp.bram_outreg:
            # The row address (``base`` while busy, else 0) as a register of its own, set
            # from the next cycle's busy and base: the same address in every cycle, but no
            # LUT between a flip-flop and the address pins of a wide memory's blocks (the
            # 85F ``128x3`` build's critical path at 80.75 MHz: ``base`` -> the AND with
            # ``busy``, placed at the blocks' centre -> 171 DP16KD addresses, 11.4 ns of
            # routing)
            addr_next = Signal.like(wmem.addr, name="walk_addr_next")
            addr = Signal.like(wmem.addr, name="walk_addr")
            m.d.comb += [addr_next.eq(Mux(busy_next, base_next, 0)), wmem.addr.eq(addr)]
            m.d.sync += addr.eq(addr_next)
            # and one copy of it per ADDR_FANOUT blocks of a one-bank memory
            # (``WeightMemory.addr_dup``; named ``*_dup_*``: KEEP_COPIES), set from ``addr``
            # a cycle later: the copies sit by their blocks across the die, so the hop to them
            # starts at a flip-flop, not at the walk's next-address logic (the 85F ``128x3``
            # build's critical path at 80.78-92.22 MHz: that logic, then 5-7 ns of routing
            # to a copy); one cycle more from the walk to the row (``LayerPlan.weight_latency``)
            # (no reset: the walk's valid bits are what reset clears; a reset would put a LUT
            # between ``addr`` and every copy)
            for k in range(wmem.addr_copies):
                dup = Signal.like(wmem.addr, name=f"walk_addr_dup_{k}", reset_less=True)
                m.d.sync += dup.eq(addr)
                m.d.comb += wmem.addr_dup[k].eq(dup)
        else:
            with m.If(busy):
                m.d.comb += wmem.addr.eq(base)
        return busy, group, value, Const(0)


def route_events(m: Module, *, source, integrator: Integrator, accepting) -> Signal:
    """Feed a layer's ``{index, [value], eos}`` stream into its integrator.

    Non-``eos`` beats go to ``integrator.events`` while ``accepting`` is high. An
    ``eos`` beat is taken only once the integrator is idle (every event of the step fully
    added). Returns a signal that is high in the cycle an ``eos`` beat is taken.
    """
    beat = source.payload
    eos_taken = Signal()
    with m.If(accepting):
        with m.If(beat.eos):
            m.d.comb += [
                source.ready.eq(integrator.idle),
                eos_taken.eq(source.valid & integrator.idle),
            ]
        with m.Else():
            m.d.comb += [
                integrator.events.valid.eq(source.valid),
                integrator.events.payload.index.eq(beat.index),
                source.ready.eq(integrator.events.ready),
            ]
            if integrator.layer.value_bits:
                m.d.comb += integrator.events.payload.value.eq(beat.value)
            if integrator.layer.mask > 1 and not integrator.layer.value_bits:
                m.d.comb += integrator.events.payload.mask.eq(beat.mask)
    return eos_taken
