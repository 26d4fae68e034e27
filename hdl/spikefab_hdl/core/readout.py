"""The summing readout: integrate input events, add each step's currents into the accumulators.

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

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .plan import LayerPlan
from .signatures import TraceSignature, acc_layout, layer_event_layout, refuse, trace_layout
from .stepper import LayerStepper

__all__ = ["OutputLayer", "ReadoutLayer", "send_accumulators"]


class OutputLayer(wiring.Component):
    """What the two output layers share: their ports, the steps of a sample, and sending
    the accumulators once its last pass has ended (a subclass names what it refuses in
    :meth:`refusal` and builds its pass between :meth:`begin` and :meth:`finish`).

    Parameters
    ----------
    layer : LayerPlan
        The output layer's plan (``acc_bits``: the accumulator width).
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
        One beat per group per step (see the subclass). No backpressure.
    """

    @staticmethod
    def refusal(layer: LayerPlan) -> str | None:
        raise NotImplementedError

    def __init__(self, *, layer: LayerPlan, timesteps: int):
        problem = self.refusal(layer)
        if problem:
            raise refuse(self, ValueError(problem))
        self.layer = layer
        self.timesteps = timesteps
        super().__init__(
            {
                "i_events": In(stream.Signature(layer_event_layout(layer))),
                "o_acc": Out(stream.Signature(acc_layout(layer.acc_bits))),
                "trace": Out(TraceSignature(trace_layout(layer, timesteps))),
            }
        )

    def begin(self, m: Module) -> LayerStepper:
        """The layer's stepper; it takes no events while the accumulators are sent."""
        self.sending = Signal(name="out")
        return LayerStepper(m, layer=self.layer, timesteps=self.timesteps,
                            source=self.i_events, accepting=~self.sending)

    def finish(self, m: Module, st: LayerStepper, *, pass_done, rd, wr) -> None:
        """End each pass when ``pass_done``; after the sample's last, send the accumulators
        through the accumulator memory's ports ``rd``/``wr``."""
        sending = self.sending

        def sample_done():
            m.d.sync += [st.in_pass.eq(0), sending.eq(1)]

        with m.If(pass_done):
            with m.If(st.clearing):
                m.d.sync += [st.clearing.eq(0), st.in_pass.eq(0)]
            with m.Else():
                st.next_step(m, on_last=sample_done)

        def sent():
            m.d.sync += [sending.eq(0), st.step.eq(0)]

        send_accumulators(m, layer=self.layer, sending=sending, rd=rd, wr=wr,
                          o_acc=self.o_acc, on_done=sent)


class ReadoutLayer(OutputLayer):
    """The summing (non-spiking) last layer of the core (semantics v1).

    Parameters and attributes as :class:`OutputLayer`'s (``layer.neuron`` is None). Its
    ``trace``: one beat per group per step, ``step``, ``group``, ``values`` = the currents
    ``I`` (the per-step logits); ``spikes`` is 0.
    """

    @staticmethod
    def refusal(layer):
        if not layer.is_readout:
            return f"layer {layer.index} is a hidden layer, not the readout"
        return None

    def elaborate(self, platform):
        m = Module()
        lp = self.layer
        groups, lanes = lp.groups, lp.lanes
        st = self.begin(m)
        integ = st.integrator
        m.submodules.accumulators = amem = memory.Memory(
            shape=data.ArrayLayout(signed(lp.acc_bits), lanes), depth=groups, init=[]
        )
        a_wr = amem.write_port()
        a_rd = amem.read_port(transparent_for=(a_wr,))

        # --- readout pass: one group per cycle, never stalls -------------------------
        m.d.comb += [st.advance.eq(st.in_pass), a_rd.addr.eq(st.p_group)]
        total = Signal(data.ArrayLayout(signed(lp.acc_bits), lanes))
        for j in range(lanes):
            m.d.comb += total[j].eq(a_rd.data[j] + integ.rd_data[j])
        m.d.comb += [
            self.trace.payload.step.eq(st.step),
            self.trace.payload.group.eq(st.s1_group),
            self.trace.payload.values.eq(integ.rd_data),
        ]
        with m.If(st.s1_valid):
            m.d.comb += [
                self.trace.valid.eq(~st.clearing),
                a_wr.en.eq(1),
                a_wr.addr.eq(st.s1_group),
                a_wr.data.eq(Mux(st.clearing, 0, total)),
            ]
            st.rewrite_currents(m)

        # --- after the last step: send the accumulators, zeroing each row once sent ---
        self.finish(m, st, pass_done=st.pass_end, rd=a_rd, wr=a_wr)
        return m


def send_accumulators(m: Module, *, layer: LayerPlan, sending, rd, wr, o_acc, on_done) -> None:
    """While ``sending``: the output layer's accumulators leave on ``o_acc``, class 0 first,
    one per beat (``last`` on the final class); each row is zeroed once sent. ``rd``/``wr``
    are the accumulator memory's ports (this drives them while ``sending``); ``on_done()``
    runs in the cycle the final class leaves."""
    groups, lanes = layer.groups, layer.lanes
    o_row = Signal(range(groups))
    o_lane = Signal(range(lanes))
    loaded = Signal()
    last_lane = (layer.n_out - 1) % lanes
    final = (o_row == groups - 1) & (o_lane == last_lane)
    row_end = (o_lane == lanes - 1) | final
    with m.If(sending):
        m.d.comb += [rd.addr.eq(o_row), rd.en.eq(~loaded)]
        with m.If(~loaded):
            m.d.sync += loaded.eq(1)
        with m.Else():
            m.d.comb += [
                o_acc.valid.eq(1),
                o_acc.payload.data.eq(rd.data[o_lane]),
                o_acc.payload.last.eq(final),
            ]
            with m.If(o_acc.ready):
                m.d.sync += o_lane.eq(o_lane + 1)
                with m.If(row_end):
                    m.d.comb += [wr.en.eq(1), wr.addr.eq(o_row), wr.data.eq(0)]
                    m.d.sync += [loaded.eq(0), o_row.eq(o_row + 1), o_lane.eq(0)]
                with m.If(final):
                    m.d.sync += o_row.eq(0)
                    on_done()
