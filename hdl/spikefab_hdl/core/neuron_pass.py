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

from amaranth import Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, wiring

from .lif import LIFDecide, LIFPrep, LIFSum, SynapseSum, lif_stages
from .plan import LayerPlan
from .spram import SPRAMMemory
from .stepper import LayerStepper

__all__ = ["NeuronPass"]

#: Submodule names of the stages (v1's two keep the names they had before the modes).
STAGE_NAMES = {LIFPrep: "lif_prep", SynapseSum: "synapse_sum", LIFSum: "lif_sum",
               LIFDecide: "lif"}


def _state_memory(m: Module, name: str, bits: int, layer: LayerPlan):
    """``(read, write)`` ports of a state memory (single-port RAM if the plan says so)."""
    shape = data.ArrayLayout(signed(bits), layer.lanes)
    banks = layer.spram_banks(name)
    if banks:
        m.submodules[name] = mem = SPRAMMemory(shape=shape, depth=layer.groups, banks=banks)
        return mem.read, mem.write
    m.submodules[name] = mem = memory.Memory(shape=shape, depth=layer.groups, init=[])
    wr = mem.write_port()
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
                 last_group=None):
        extra = dict(extra or {})
        st, neuron, lanes, groups = stepper, layer.neuron, layer.lanes, layer.groups
        self.layer, self.stepper = layer, st
        v_rd, v_wr = _state_memory(m, "membranes", neuron.v_bits, layer)
        inputs = {"v": v_rd.data, "current": st.integrator.rd_data, **extra}
        reads = [v_rd]
        if neuron.synapse is not None:
            i_rd, i_wr = _state_memory(m, "synapses", neuron.synapse.i_bits, layer)
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
        for port in reads:
            m.d.comb += [port.addr.eq(st.p_group), port.en.eq(st.read_en)]

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
                m.d.sync += [regs[name].eq(bus[name]) for name in regs]
            bus = dict(regs)
            for name in sorted(ins[k]):  # sorted: the same RTLIL whatever PYTHONHASHSEED
                m.d.comb += getattr(stage, name).eq(bus[name])
            for name in sorted(outs[k]):
                bus[name] = getattr(stage, name)
            prev_valid, prev_group = self.valids[k], self.groups[k]
        self.out = bus
        with m.If(st.advance & st.s1_valid):
            st.rewrite_currents(m)  # I is read (stage 0) once per pass: back to b

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
            else:
                with m.If(self.consume):
                    m.d.comb += [port.en.eq(1), port.addr.eq(self.group), port.data.eq(value)]
        empty = Const(1)
        for valid in self.valids:
            empty = empty & ~valid
        self.done = st.pass_end & empty

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
