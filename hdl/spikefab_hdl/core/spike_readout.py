"""The spiking readout (extension ``spike-readout``): a LIF output layer whose spike counts
are the accumulators.

One step: input events are integrated as in any layer; on the ``eos`` beat the neuron
pass (:class:`~.neuron_pass.NeuronPass`, any neuron mode) updates every group exactly as
in a hidden layer and publishes it on ``trace`` (``spikes``, the exposed membranes, the
synaptic currents of a ``cuba`` layer), and each group's spikes are added to its *counts*
(``acc += s``, one ``acc_bits``-wide counter per class, read at stage 0 with the
membranes and carried along the pipeline, written back at the last stage). The per-step
logits are the spikes, ``acc`` the spike count in ``[0, T]``. After the last step the
counts leave on ``o_acc`` as the summing readout's accumulators do
(:func:`~.readout.send_accumulators`); the core's argmax (ties to the lowest class) makes
the prediction, so a sample in which no output neuron fires predicts class 0.

Nothing downstream waits on this layer's spikes, so its pass never stalls. After reset
its clear pass writes ``v = 0`` (``i = 0``), ``acc = 0`` and ``I = b``.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .neuron_pass import NeuronPass
from .plan import LayerPlan
from .readout import send_accumulators
from .signatures import TraceSignature, acc_layout, layer_event_layout, refuse, trace_layout
from .stepper import LayerStepper

__all__ = ["SpikingReadout"]


class SpikingReadout(wiring.Component):
    """The output layer of a ``readout="spikes"`` network.

    Parameters
    ----------
    layer : LayerPlan
        The output layer's plan (``layer.spike_readout``; ``acc_bits`` = the count width).
    timesteps : int
        Steps per sample ``T``.

    Attributes
    ----------
    i_events : stream of StructLayout({index, [value], eos}), in
        Input events of each step, closed by an ``eos`` beat.
    o_acc : stream of StructLayout({data: signed(acc_bits), last}), out
        The ``n_out`` spike counts after the last step, class 0 first; ``last`` on the
        final class.
    trace : TraceSignature, out
        One beat per group per step, as a hidden layer's: ``spikes`` (the per-step logits),
        ``values`` = the exposed membranes, ``synapses`` (``cuba``). No backpressure.
    """

    def __init__(self, *, layer: LayerPlan, timesteps: int):
        if not layer.spike_readout:
            msg = f"layer {layer.index} is not a spiking readout"
            raise refuse(self, ValueError(msg))
        self.layer = layer
        self.timesteps = timesteps
        super().__init__(
            {
                "i_events": In(stream.Signature(layer_event_layout(layer))),
                "o_acc": Out(stream.Signature(acc_layout(layer.acc_bits))),
                "trace": Out(TraceSignature(trace_layout(layer, timesteps))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        lp = self.layer
        lanes = lp.lanes
        out = Signal()  # sending the counts
        st = LayerStepper(
            m, layer=lp, timesteps=self.timesteps, source=self.i_events, accepting=~out
        )
        m.submodules.counts = cmem = memory.Memory(
            shape=data.ArrayLayout(signed(lp.acc_bits), lanes), depth=lp.groups, init=[]
        )
        c_wr = cmem.write_port()
        c_rd = cmem.read_port()
        neurons = NeuronPass(m, stepper=st, layer=lp, ready=1, extra={"count": c_rd.data})
        neurons.drive_trace(m, self.trace)
        m.d.comb += [c_rd.addr.eq(st.p_group), c_rd.en.eq(st.advance)]
        count = neurons.out["count"]
        counted = Signal.like(count)
        for j in range(lanes):
            m.d.comb += counted[j].eq(count[j] + neurons.spikes[j])
        with m.If(neurons.consume):
            m.d.comb += [
                c_wr.en.eq(1),
                c_wr.addr.eq(neurons.group),
                c_wr.data.eq(Mux(st.clearing, 0, counted)),
            ]

        def sample_done():
            m.d.sync += [st.in_pass.eq(0), out.eq(1)]

        with m.If(neurons.done):
            with m.If(st.clearing):
                m.d.sync += [st.clearing.eq(0), st.in_pass.eq(0)]
            with m.Else():
                st.next_step(m, on_last=sample_done)

        def sent():
            m.d.sync += [out.eq(0), st.step.eq(0)]

        send_accumulators(m, layer=lp, sending=out, rd=c_rd, wr=c_wr, o_acc=self.o_acc,
                          on_done=sent)
        return m
