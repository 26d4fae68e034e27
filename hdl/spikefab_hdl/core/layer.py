"""A hidden LIF layer: integrate input events, then update the neurons and emit spike events.

One step of the layer (semantics v1, DESIGN §2):

1. *Accumulate.* Input events go to the :class:`~.integrator.Integrator` (``I = b``
   plus one ``lanes``-wide weight row per event and group) until the ``eos`` beat.
2. *Neuron pass.* For each group ``g`` of ``lanes`` neurons (one per cycle, in a
   four-stage pipeline: read; register ``v`` and ``I``; add, :class:`~.lif.LIFSum`;
   decide, :class:`~.lif.LIFDecide`): read ``v`` and ``I``, update, write ``v`` back
   (zero after the last step of a sample), rewrite ``I`` with the bias, publish the
   group on ``trace`` and queue its spikes in a :class:`~.spike_queue.SpikeQueue`, which
   sends each spike as one event ``{index, eos=0}`` and, after the last group, one
   ``{eos=1}`` beat. The queue holds a whole step, so the pass does not wait for the
   next layer: this layer goes on with step ``t + 1`` while the next one integrates
   step ``t``.

A *repeat* layer (a direct first layer) receives its events once per sample and runs
``timesteps`` passes on the same currents, rewriting the biases only after the last.

After reset the layer makes one silent *clear pass* (no trace, no events) that writes
``v = 0`` and ``I = b`` to every group, so a reset in the middle of a sample leaves no
stale state.
"""

from __future__ import annotations

from amaranth import Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .lif import LIFDecide, LIFSum
from .plan import LayerPlan
from .signatures import TraceSignature, event_layout, layer_event_layout, refuse, trace_layout
from .spike_queue import SpikeQueue
from .stepper import LayerStepper

__all__ = ["HiddenLayer"]


class HiddenLayer(wiring.Component):
    """One spiking layer of the core.

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
    o_events : stream of StructLayout({index: unsigned(out_index_bits), eos}), out
        This layer's spikes of each step, lowest group first, closed by an ``eos`` beat.
    trace : TraceSignature, out
        One beat per group per step: ``step``, ``group``, ``spikes``, ``values`` = the
        post-reset membranes. No backpressure.
    """

    def __init__(self, *, layer: LayerPlan, timesteps: int):
        if layer.is_readout:
            msg = f"layer {layer.index} is the readout, not a hidden layer"
            raise refuse(self, ValueError(msg))
        self.layer = layer
        self.timesteps = timesteps
        super().__init__(
            {
                "i_events": In(stream.Signature(layer_event_layout(layer))),
                "o_events": Out(stream.Signature(event_layout(layer.out_index_bits))),
                "trace": Out(TraceSignature(trace_layout(layer, timesteps))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        lp = self.layer
        groups, lanes = lp.groups, lp.lanes
        spec = lp.neuron
        st = LayerStepper(m, layer=lp, timesteps=self.timesteps, source=self.i_events)
        integ = st.integrator
        kw = {"neuron": spec, "lanes": lanes, "cur_bits": lp.cur_bits}
        m.submodules.lif_sum = lif_sum = LIFSum(**kw)
        m.submodules.lif = lif = LIFDecide(**kw)
        m.submodules.membranes = vmem = memory.Memory(
            shape=data.ArrayLayout(signed(spec.v_bits), lanes), depth=groups, init=[]
        )
        v_wr = vmem.write_port()
        v_rd = vmem.read_port()
        # Spike masks of the step's groups wait in a queue (one entry per group with a
        # spike, then one end-of-step entry), so the pass never waits for the next layer.
        spike_q = SpikeQueue(lanes=lanes, groups=groups, index_bits=lp.out_index_bits)
        m.submodules.spike_queue = spike_q
        wiring.connect(m, spike_q.o_events, wiring.flipped(self.o_events))

        # The pass is a pipeline of four stages moving together while ``advance`` is high:
        # 0 reads (stepper), 1 registers v and I, 2 adds (LIFSum), 3 decides (LIFDecide),
        # writes v back, publishes the trace and queues the spikes. Groups in flight are
        # distinct, and a pass ends only once stage 3 is empty, so no read sees a stale v.
        s2_valid = Signal()
        s3_valid = Signal()
        s2_group = Signal(range(groups))
        s3_group = Signal(range(groups))
        s2_v = Signal.like(lif_sum.v)
        s2_i = Signal.like(lif_sum.current)
        s3_total = Signal.like(lif_sum.total)
        s3_delta = Signal.like(lif_sum.delta)
        m.d.comb += [
            st.advance.eq(st.in_pass & (~s3_valid | spike_q.w_ready)),
            v_rd.addr.eq(st.p_group),
            v_rd.en.eq(st.advance),
            lif_sum.v.eq(s2_v),
            lif_sum.current.eq(s2_i),
            lif.total.eq(s3_total),
            lif.delta.eq(s3_delta),
        ]
        with m.If(st.advance):
            m.d.sync += [
                s2_valid.eq(st.s1_valid),
                s2_group.eq(st.s1_group),
                s2_v.eq(v_rd.data),
                s2_i.eq(integ.rd_data),
                s3_valid.eq(s2_valid),
                s3_group.eq(s2_group),
                s3_total.eq(lif_sum.total),
                s3_delta.eq(lif_sum.delta),
            ]
            with m.If(st.s1_valid):
                st.rewrite_currents(m)  # I is read (stage 0) once per pass: back to b
        consume = s3_valid & spike_q.w_ready

        # --- stage 3: write back, trace, queue spikes ---------------------------------
        tail = lp.n_out - (groups - 1) * lanes  # live lanes of the last group
        mask = Mux(s3_group == groups - 1, Const((1 << tail) - 1, lanes), (1 << lanes) - 1)
        spikes = Signal(lanes)
        m.d.comb += [
            spikes.eq(lif.spikes & mask),
            self.trace.payload.step.eq(st.step),
            self.trace.payload.group.eq(s3_group),
            self.trace.payload.spikes.eq(spikes),
            self.trace.payload.values.eq(lif.v_next),
        ]
        with m.If(consume):
            m.d.comb += [
                self.trace.valid.eq(~st.clearing),
                v_wr.en.eq(1),
                v_wr.addr.eq(s3_group),
                v_wr.data.eq(Mux(st.last_step | st.clearing, 0, lif.v_next)),
                spike_q.w_valid.eq(~st.clearing & (spikes != 0)),
                spike_q.w_group.eq(s3_group),
                spike_q.w_mask.eq(spikes),
            ]

        # --- after the last group: the end-of-step entry ----------------------------
        done = st.pass_end & ~s2_valid & ~s3_valid
        with m.If(done & ~st.clearing):
            m.d.comb += [spike_q.w_valid.eq(1), spike_q.w_eos.eq(1)]

        def sample_done():
            m.d.sync += [st.step.eq(0), st.in_pass.eq(0)]

        with m.If(done):
            with m.If(st.clearing):
                m.d.sync += [st.clearing.eq(0), st.in_pass.eq(0)]
            with m.Elif(spike_q.w_ready):
                st.next_step(m, on_last=sample_done)
        return m
