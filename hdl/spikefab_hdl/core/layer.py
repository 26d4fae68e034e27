"""A hidden LIF layer: integrate input events, then update the neurons and emit spike events.

One step of the layer (semantics v1, DESIGN §2):

1. *Accumulate.* Input events go to the :class:`~.integrator.Integrator` (``I = b``
   plus one ``lanes``-wide weight row per event and group) until the ``eos`` beat.
2. *Neuron pass* (:class:`~.neuron_pass.NeuronPass`). For each group ``g`` of ``lanes``
   neurons (one per cycle, in a pipeline: v1's four stages are read; register ``v`` and
   ``I``; add, :class:`~.lif.LIFSum`; decide, :class:`~.lif.LIFDecide`; a neuron mode
   adds its stages): read ``v`` (and ``i``) and ``I``, update, write the state back
   (zero after the last step of a sample), rewrite ``I`` with the bias, publish the
   group on ``trace`` and queue its spikes in a :class:`~.spike_queue.SpikeQueue`, which
   sends each spike as one event ``{index, eos=0}`` and, after the last group, one
   ``{eos=1}`` beat. The queue holds a whole step, so the pass does not wait for the
   next layer: this layer goes on with step ``t + 1`` while the next one integrates
   step ``t``.

A *repeat* layer (a direct first layer) receives its events once per sample and runs
``timesteps`` passes on the same currents, rewriting the biases only after the last.

After reset the layer makes one silent *clear pass* (no trace, no events) that writes
``v = 0`` (``i = 0``) and ``I = b`` to every group, so a reset in the middle of a sample leaves no
stale state.
"""

from __future__ import annotations

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .neuron_pass import NeuronPass
from .plan import LayerPlan
from .signatures import TraceSignature, event_layout, layer_event_layout, refuse, trace_layout
from .spike_queue import SpikeQueue
from .stepper import LayerStepper

__all__ = ["HiddenLayer"]


class HiddenLayer(wiring.Component):
    """One hidden spiking layer of the core (any neuron mode of :mod:`.lif`).

    Parameters
    ----------
    layer : LayerPlan
        A hidden layer's plan (``layer.neuron`` is a LIFSpec).
    timesteps : int
        Steps per sample ``T``.

    Attributes
    ----------
    i_events : stream of StructLayout({index, [value], eos}), in
        Input events of each step, closed by an ``eos`` beat (see :mod:`.signatures`).
    o_events : stream of StructLayout({index: unsigned(out_index_bits), [mask], eos}), out
        This layer's spikes of each step, lowest group first, closed by an ``eos`` beat
        (into a layer taking masks ``K`` wide: one beat per nonzero ``K``-bit slice).
    trace : TraceSignature, out
        One beat per group per step: ``step``, ``group``, ``spikes``, ``values`` = the
        membranes the layer exposes (after the reset; before it with
        ``subtract-delayed``), ``synapses`` (``cuba``). No backpressure.
    """

    def __init__(self, *, layer: LayerPlan, timesteps: int):
        if layer.is_readout or layer.last:
            msg = f"layer {layer.index} is the readout, not a hidden layer"
            raise refuse(self, ValueError(msg))
        self.layer = layer
        self.timesteps = timesteps
        super().__init__(
            {
                "i_events": In(stream.Signature(layer_event_layout(layer))),
                "o_events": Out(stream.Signature(event_layout(layer.out_index_bits,
                                                              mask=layer.next_mask))),
                "trace": Out(TraceSignature(trace_layout(layer, timesteps))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        lp = self.layer
        st = LayerStepper(m, layer=lp, timesteps=self.timesteps, source=self.i_events)
        # Spike masks of the step's groups wait in a queue (one entry per group with a
        # spike, then one end-of-step entry), so the pass never waits for the next layer.
        spike_q = SpikeQueue(lanes=lp.lanes, groups=lp.groups, index_bits=lp.out_index_bits,
                             chunk=lp.next_mask)
        m.submodules.spike_queue = spike_q
        wiring.connect(m, spike_q.o_events, wiring.flipped(self.o_events))
        neurons = NeuronPass(m, stepper=st, layer=lp, ready=spike_q.w_ready,
                             ready_next=spike_q.w_ready_next)
        neurons.drive_trace(m, self.trace)
        with m.If(neurons.consume):
            m.d.comb += [  # (a group without a spike too: the queue drops it, no OR here)
                spike_q.w_valid.eq(~st.clearing),
                spike_q.w_group.eq(neurons.group),
                spike_q.w_mask.eq(neurons.spikes),
            ]

        # --- after the last group: the end-of-step entry ----------------------------
        st.end_pass(m, done=neurons.done, spike_q=spike_q)
        return m
