"""The readout layer: integrate input events, add each step's currents into the accumulators.

One step: input events are integrated exactly as in a hidden layer (``I = W x + b``).
On the ``eos`` beat the *readout pass* walks the groups, one per cycle: ``acc += I``
(exact, no leak), ``I`` is rewritten with the bias, and ``I`` (the step's logits) is
published on ``trace``. After the last step of a sample the accumulators leave on
``o_acc``, one class per beat in class order, and each row is zeroed once sent.

A *repeat* readout (a direct network without hidden layers) receives its events once
per sample and adds the same currents ``timesteps`` times. After reset, one silent
clear pass writes ``acc = 0`` and ``I = b``.
"""

from __future__ import annotations

from amaranth import Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .integrator import Integrator, route_events
from .plan import LayerPlan
from .signatures import TraceSignature, acc_layout, layer_event_layout, refuse, trace_layout

__all__ = ["ReadoutLayer"]


class ReadoutLayer(wiring.Component):
    """The non-spiking last layer of the core.

    Parameters
    ----------
    layer : LayerPlan
        The readout's plan (``layer.neuron`` is None; ``state_bits`` = ``acc_bits``).
    timesteps : int
        Steps per sample ``T``.

    Attributes
    ----------
    i_events : stream of StructLayout({index, [value], eos}), in
        Input events of each step, closed by an ``eos`` beat.
    o_acc : stream of StructLayout({data: signed(acc_bits), last}), out
        The ``n_out`` accumulators after the last step, class 0 first; ``last`` on the
        final class.
    trace : TraceSignature, out
        One beat per group per step: ``step``, ``group``, ``values`` = the currents
        ``I`` (the per-step logits); ``spikes`` is 0. No backpressure.
    """

    def __init__(self, *, layer: LayerPlan, timesteps: int):
        if not layer.is_readout:
            msg = f"layer {layer.index} is a hidden layer, not the readout"
            raise refuse(self, ValueError(msg))
        self.layer = layer
        self.timesteps = timesteps
        super().__init__(
            {
                "i_events": In(stream.Signature(layer_event_layout(layer))),
                "o_acc": Out(stream.Signature(acc_layout(layer.state_bits))),
                "trace": Out(TraceSignature(trace_layout(layer, timesteps))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        lp = self.layer
        groups, lanes, steps = lp.groups, lp.lanes, self.timesteps
        m.submodules.integrator = integ = Integrator(layer=lp)
        m.submodules.accumulators = amem = memory.Memory(
            shape=data.ArrayLayout(signed(lp.state_bits), lanes), depth=groups, init=[]
        )
        m.submodules.biases = bmem = memory.Memory(
            shape=data.ArrayLayout(signed(lp.b_bits), lanes),
            depth=groups,
            init=[list(map(int, row)) for row in lp.bias_rows],
        )
        a_wr = amem.write_port()
        a_rd = amem.read_port(transparent_for=(a_wr,))
        b_rd = bmem.read_port()

        in_pass = Signal(init=1)  # the clear pass runs right after reset
        clearing = Signal(init=1)
        out = Signal()
        step = Signal(range(steps))
        last_step = step == steps - 1
        p_group = Signal(range(groups))
        p_more = Signal(init=1)
        s1_valid = Signal()
        s1_group = Signal(range(groups))

        # --- accumulate -----------------------------------------------------------
        eos_taken = route_events(
            m, source=self.i_events, integrator=integ, accepting=~in_pass & ~out
        )
        with m.If(eos_taken):
            m.d.sync += [in_pass.eq(1), p_group.eq(0), p_more.eq(1)]

        # --- readout pass: one group per cycle, never stalls -------------------------
        m.d.comb += [integ.rd_addr.eq(p_group), integ.rd_en.eq(1), b_rd.addr.eq(p_group)]
        with m.If(in_pass):
            m.d.comb += a_rd.addr.eq(p_group)
            m.d.sync += [s1_valid.eq(p_more), s1_group.eq(p_group)]
            with m.If(p_more):
                m.d.sync += [p_group.eq(p_group + 1), p_more.eq(p_group != groups - 1)]
        total = Signal(data.ArrayLayout(signed(lp.state_bits), lanes))
        for j in range(lanes):
            m.d.comb += [
                total[j].eq(a_rd.data[j] + integ.rd_data[j]),
                integ.wr_data[j].eq(b_rd.data[j]),
            ]
        m.d.comb += [
            self.trace.payload.step.eq(step),
            self.trace.payload.group.eq(s1_group),
            self.trace.payload.values.eq(integ.rd_data),
        ]
        keep_currents = Const(lp.repeat) & ~last_step & ~clearing
        with m.If(s1_valid):
            m.d.comb += [
                self.trace.valid.eq(~clearing),
                a_wr.en.eq(1),
                a_wr.addr.eq(s1_group),
                a_wr.data.eq(Mux(clearing, 0, total)),
                integ.wr_en.eq(~keep_currents),
                integ.wr_addr.eq(s1_group),
            ]
        with m.If(in_pass & ~s1_valid & ~p_more):
            with m.If(clearing):
                m.d.sync += [clearing.eq(0), in_pass.eq(0)]
            with m.Elif(last_step):
                m.d.sync += [in_pass.eq(0), out.eq(1)]
            with m.Else():
                m.d.sync += step.eq(step + 1)
                if lp.repeat:
                    m.d.sync += [p_group.eq(0), p_more.eq(1)]
                else:
                    m.d.sync += in_pass.eq(0)

        # --- send the accumulators, one class per beat, zeroing each row once sent ----
        o_row = Signal(range(groups))
        o_lane = Signal(range(lanes))
        loaded = Signal()
        last_lane = (lp.n_out - 1) % lanes
        final = (o_row == groups - 1) & (o_lane == last_lane)
        row_end = (o_lane == lanes - 1) | final
        with m.If(out):
            m.d.comb += [a_rd.addr.eq(o_row), a_rd.en.eq(~loaded)]
            with m.If(~loaded):
                m.d.sync += loaded.eq(1)
            with m.Else():
                m.d.comb += [
                    self.o_acc.valid.eq(1),
                    self.o_acc.payload.data.eq(a_rd.data[o_lane]),
                    self.o_acc.payload.last.eq(final),
                ]
                with m.If(self.o_acc.ready):
                    m.d.sync += o_lane.eq(o_lane + 1)
                    with m.If(row_end):
                        m.d.comb += [a_wr.en.eq(1), a_wr.addr.eq(o_row), a_wr.data.eq(0)]
                        m.d.sync += [loaded.eq(0), o_row.eq(o_row + 1), o_lane.eq(0)]
                    with m.If(final):
                        m.d.sync += [out.eq(0), o_row.eq(0), step.eq(0)]
        return m
