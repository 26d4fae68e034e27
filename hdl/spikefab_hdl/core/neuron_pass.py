"""The neuron pass of a spiking layer: its state memories and the pipeline over its groups.

:class:`NeuronPass` is what a hidden layer and a spiking readout share (not a Component:
like :class:`~.stepper.LayerStepper` it adds its memories and stages to the layer's
module). One group per cycle while the stepper's ``advance`` is high:

* stage 0 (the stepper) reads group ``p_group``: the currents ``I``, the biases, the
  membranes ``v``, the synaptic currents ``i`` of a ``cuba`` layer and whatever the owner
  adds (``extra``: the spike readout's counts);
* stage 1 sees the data; it is registered into the first pipeline register, and ``I``
  is rewritten with the bias (unless the layer keeps its currents);
* then one stage per entry of :func:`~.lif.lif_stages` (v1: :class:`~.lif.LIFSum`,
  :class:`~.lif.LIFDecide`; a neuron mode adds :class:`~.lif.LIFPrep` and, for ``cuba``,
  :class:`~.lif.SynapseSum`), a register before each. A register holds only the values
  some later stage uses, so a v1 layer's pipeline is exactly the four stages of before.
* The last stage's group is *consumed* when ``ready`` (the owner's sink, e.g. the spike
  queue) allows: ``v`` (and ``i``) are written back, zero after the last step of a sample
  or in the clear pass.

Groups in flight are distinct, and a pass ends (:attr:`NeuronPass.done`) only once every
register is empty, so no read sees a stale state.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Shape, Signal, Value, signed
from amaranth.lib import data, memory, wiring

from .copies import ENABLE_SPAN, enable_spans, span_copies
from .lif import LIFDecide, LIFPrep, LIFSum, SynapseSum, lif_stages
from .plan import LayerPlan
from .spram import SPRAMMemory
from .stepper import LayerStepper

__all__ = ["NeuronPass"]

#: Submodule names of the stages (v1's two keep the names they had before the modes).
STAGE_NAMES = {LIFPrep: "lif_prep", SynapseSum: "synapse_sum", LIFSum: "lif_sum",
               LIFDecide: "lif"}


def _state_memory(m: Module, name: str, bits: int, layer: LayerPlan, granularity=None):
    """``(read, write)`` ports of a state memory (single-port RAM if the plan says so; a
    write enable per ``granularity`` lanes if given)."""
    shape = data.ArrayLayout(signed(bits), layer.lanes)
    banks = layer.spram_banks(name)
    if banks:
        m.submodules[name] = mem = SPRAMMemory(shape=shape, depth=layer.groups, banks=banks)
        return mem.read, mem.write
    m.submodules[name] = mem = memory.Memory(shape=shape, depth=layer.groups, init=[])
    wr = mem.write_port(granularity=granularity)
    return mem.read_port(), wr


class NeuronPass:
    """The pipelined neuron pass of one spiking layer (see the module docstring).

    Parameters
    ----------
    m : Module
        The layer's module.
    stepper : LayerStepper
        The layer's control; this drives its ``advance``.
    layer : LayerPlan
        A spiking layer's plan.
    ready : Value
        The last stage may complete in this cycle.
    extra : dict
        ``{name: value}``: per-group data the owner reads at stage 0 (its read port's
        ``data`` at stage 1), carried to the last stage as ``out[name]``.
    last_group : Value, optional
        The last stage holds a row of the last (channel) group, whose lanes past the
        layer's neurons (channels) are masked; default ``group == groups - 1`` (a conv
        layer gives its own: its rows are ``pos * G + g``).

    Attributes
    ----------
    valid, group : Signal
        The last stage holds group ``group``.
    consume : Value
        The last stage completes in this cycle (``valid & ready``).
    spikes : Signal(lanes)
        The last stage's spikes, lanes past ``n_out`` masked.
    out : dict
        The last stage's values: ``v_next``, ``spikes`` (unmasked), ``syn_next``
        (``cuba``) and each ``extra`` name.
    done : Value
        The pass has ended and the pipeline is empty.
    """

    def __init__(self, m: Module, *, stepper: LayerStepper, layer: LayerPlan, ready, extra=None,
                 last_group=None, ready_next=None):
        extra = dict(extra or {})
        st, neuron, lanes, groups = stepper, layer.neuron, layer.lanes, layer.groups
        self.layer, self.stepper = layer, st
        # a one-group layer's state rows are flip-flops: their write enable (``consume``) is a
        # clock enable of ``lanes`` words, split per span over the enable copies (below)
        split = st.free_read and groups == 1 and ready_next is not None and enable_spans(lanes)
        gran = ENABLE_SPAN if split else None
        v_rd, v_wr = _state_memory(m, "membranes", neuron.v_bits, layer, gran)
        inputs = {"v": v_rd.data, "current": st.integrator.rd_data, **extra}
        reads = [v_rd]
        if neuron.synapse is not None:
            i_rd, i_wr = _state_memory(m, "synapses", neuron.synapse.i_bits, layer, gran)
            inputs["syn"] = i_rd.data
            reads.append(i_rd)

        kw = {"neuron": neuron, "lanes": lanes, "cur_bits": layer.cur_bits}
        stages = []
        for cls in lif_stages(neuron):
            m.submodules[STAGE_NAMES[cls]] = stage = cls(**kw)
            stages.append(stage)
        ins = [{n for n, mem in s.signature.members.items() if mem.flow == wiring.In}
               for s in stages]
        outs = [{n for n, mem in s.signature.members.items() if mem.flow == wiring.Out}
                for s in stages]
        # live[k]: the values register k holds (those some later stage or the owner uses)
        finals = set(extra) | ({"syn_next"} if neuron.synapse is not None else set())
        live = [set() for _ in stages]
        need = set(finals)
        for k in reversed(range(len(stages))):
            need = (need - outs[k]) | ins[k]
            live[k] = need
        # register k is "s{k+2}" (stage 0 reads, stage 1 sees the data)
        self.valids = [Signal(name=f"s{k + 2}_valid") for k in range(len(stages))]
        self.groups = [Signal(range(groups), name=f"s{k + 2}_group") for k in range(len(stages))]
        self.valid, self.group = self.valids[-1], self.groups[-1]
        self.consume = self.valid & ready
        m.d.comb += st.advance.eq(st.in_pass & (~self.valid | ready))
        prev_last = self.valids[-2] if len(stages) > 1 else st.s1_valid
        enables = self.enable_copies(m, prev_last, ready_next) if st.free_read else None
        for port in reads:
            m.d.comb += [port.addr.eq(st.read_addr), port.en.eq(st.read_en)]

        # the pipeline registers and the stages between them
        bus = dict(inputs)
        prev_valid, prev_group = st.s1_valid, st.s1_group
        for k, stage in enumerate(stages):
            regs = {}
            for name in sorted(live[k]):
                short = "i" if name == "current" else name
                regs[name] = Signal.like(bus[name], name=f"s{k + 2}_{short}")
            with m.If(st.advance):
                m.d.sync += [self.valids[k].eq(prev_valid), self.groups[k].eq(prev_group)]
            for name in regs:
                self.load(m, regs[name], bus[name], enables)
            bus = dict(regs)
            for name in sorted(ins[k]):  # sorted: the same RTLIL whatever PYTHONHASHSEED
                m.d.comb += getattr(stage, name).eq(bus[name])
            for name in sorted(outs[k]):
                bus[name] = getattr(stage, name)
            prev_valid, prev_group = self.valids[k], self.groups[k]
        self.out = bus
        # I is read (stage 0) once per pass: back to b (an ECP5 build a cycle later, from
        # registers: LayerStepper.rewrite_currents_late)
        if st.free_read:
            st.rewrite_currents_late(m, st.advance & st.s1_valid)
        else:
            with m.If(st.advance & st.s1_valid):
                st.rewrite_currents(m)

        # live lanes of the last group
        width = layer.n_out if layer.conv is None else layer.conv.out_channels
        tail = width - (layer.channel_groups - 1) * lanes
        if last_group is None:
            last_group = self.group == groups - 1
        mask = Mux(last_group, Const((1 << tail) - 1, lanes), (1 << lanes) - 1)
        self.spikes = Signal(lanes)
        m.d.comb += self.spikes.eq(bus["spikes"] & mask)
        zero = st.last_step | st.clearing
        writes = [(v_wr, Mux(zero, 0, bus["v_next"]))]
        if neuron.synapse is not None:
            writes.append((i_wr, Mux(zero, 0, bus["syn_next"])))
        # a row is written len(stages) + 1 issues after its read; in single-port RAM that
        # distance must be odd (the read of that moment is of the other parity), so an
        # even one is made odd by writing one cycle later
        late = bool(layer.spram) and (len(stages) + 1) % 2 == 0
        for port, value in writes:
            if late:
                en, addr, val = Signal(), Signal.like(self.group), Signal.like(port.data)
                m.d.sync += [en.eq(self.consume), addr.eq(self.group), val.eq(value)]
                m.d.comb += [port.en.eq(en), port.addr.eq(addr), port.data.eq(val)]
            elif gran:  # consume per span: the copies' valid & ready
                m.d.comb += [port.en.eq(Cat(*(v & r for v, r in enables))),
                             port.addr.eq(self.group), port.data.eq(value)]
            else:
                with m.If(self.consume):
                    m.d.comb += [port.en.eq(1), port.addr.eq(self.group), port.data.eq(value)]
        empty = Const(1)
        for valid in self.valids:
            empty = empty & ~valid
        self.done = st.pass_end & empty

    def enable_copies(self, m: Module, prev_last, ready_next) -> list | None:
        """On an ECP5 build (``free_read``) with the owner's ``ready`` a register whose next
        value is ``ready_next`` (the spike queue's ``w_ready``): per :data:`.copies.ENABLE_SPAN`
        lanes, copies of the last stage's valid and of ``ready`` (:func:`.copies.span_copies`,
        each set from the next cycle's value). Returns ``[(valid, ready)]`` per span, or None:
        ``~valid | ready`` is a span's stage enable, one LUT of two flip-flops near its lanes,
        not ``advance`` fanned out to every stage register of the layer (docs/hardware.md);
        it equals ``advance`` while a pass runs (``advance`` adds ``in_pass``), and outside one
        every stage is empty, so what the registers then load is never used."""
        spans = enable_spans(self.layer.lanes)
        if ready_next is None or not spans:
            return None
        valid_next = Mux(self.stepper.advance, prev_last, self.valid)
        valids = span_copies(m, valid_next, spans, "pass_valid")
        readies = span_copies(m, ready_next, spans, "pass_ready", init=1)
        return list(zip(valids, readies, strict=True))

    def load(self, m: Module, reg, value, enables) -> None:
        """``reg`` takes ``value`` when ``advance`` is high: a lane array split over
        ``enables`` (:meth:`enable_copies`), ``ENABLE_SPAN`` lanes each, if there are any."""
        shape = reg.shape()
        if not enables or not isinstance(shape, data.ArrayLayout) or \
                shape.length != self.layer.lanes:
            with m.If(self.stepper.advance):
                m.d.sync += reg.eq(value)
            return
        width = Shape.cast(shape.elem_shape).width * ENABLE_SPAN
        raw, src = reg.as_value(), Value.cast(value)
        for j, (valid, ready) in enumerate(enables):
            with m.If(~valid | ready):
                m.d.sync += raw[j * width:(j + 1) * width].eq(src[j * width:(j + 1) * width])

    def drive_trace(self, m: Module, trace) -> None:
        """Publish each consumed group (not in the clear pass) on the layer's ``trace``."""
        st, payload = self.stepper, trace.payload
        m.d.comb += [
            payload.step.eq(st.step),
            payload.group.eq(self.group),
            payload.spikes.eq(self.spikes),
            payload.values.eq(self.out["v_next"]),
            trace.valid.eq(self.consume & ~st.clearing),
        ]
        if "syn_next" in self.out:
            m.d.comb += payload.synapses.eq(self.out["syn_next"])
