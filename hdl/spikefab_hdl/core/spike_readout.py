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
from amaranth.lib import data, memory

from .neuron_pass import NeuronPass
from .readout import OutputLayer

__all__ = ["SpikingReadout"]


class SpikingReadout(OutputLayer):
    """The output layer of a ``readout="spikes"`` network.

    Parameters and attributes as :class:`~.readout.OutputLayer`'s (``layer.spike_readout``;
    ``acc_bits`` = the count width); ``o_acc`` carries the spike counts. Its ``trace``: one
    beat per group per step, as a hidden layer's: ``spikes`` (the per-step logits),
    ``values`` = the exposed membranes, ``synapses`` (``cuba``).
    """

    @staticmethod
    def refusal(layer):
        if not layer.spike_readout:
            return f"layer {layer.index} is not a spiking readout"
        return None

    def elaborate(self, platform):
        m = Module()
        lp = self.layer
        st = self.begin(m)
        m.submodules.counts = cmem = memory.Memory(
            shape=data.ArrayLayout(signed(lp.acc_bits), lp.lanes), depth=lp.groups, init=[]
        )
        c_wr = cmem.write_port()
        c_rd = cmem.read_port()
        neurons = NeuronPass(m, stepper=st, layer=lp, ready=1, extra={"count": c_rd.data})
        neurons.drive_trace(m, self.trace)
        m.d.comb += [c_rd.addr.eq(st.p_group), c_rd.en.eq(st.advance)]
        count = neurons.out["count"]
        counted = Signal.like(count)
        for j in range(lp.lanes):
            m.d.comb += counted[j].eq(count[j] + neurons.spikes[j])
        with m.If(neurons.consume):
            m.d.comb += [
                c_wr.en.eq(1),
                c_wr.addr.eq(neurons.group),
                c_wr.data.eq(Mux(st.clearing, 0, counted)),
            ]
        self.finish(m, st, pass_done=neurons.done, rd=c_rd, wr=c_wr)
        return m
