"""The network core: a QuantizedNetwork as event-driven, time-multiplexed gateware.

Data path (docs/core.md has the port-level description and the timing)::

    i_stream ─► input adapter ─► layer 0 ─► layer 1 ─► … ─► readout ─► results ─► o_stream
                                                  (summing, or spiking: spike counts)
                                    │          │                │
                                 trace.l0   trace.l1   …    trace.l<n-1>      (trace=True)

Layers are chained by event streams (spike addresses, then an end-of-step beat) that
leave each hidden layer through its spike queue, which holds a whole step: so layer
``l`` works on step ``t + 1`` while layer ``l + 1`` is still busy with step ``t``'s
spikes; the order of events and steps, hence the arithmetic, is exactly that of the
golden model. The core takes one sample at a time: a new sample's first input beat
is accepted once the previous sample's last output beat has left.
"""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from spikefab.ir import QuantizedNetwork

from .conv_layer import ConvLayer
from .input_adapter import direct_adapter, spike_adapter
from .layer import HiddenLayer
from .plan import CYCLE_BITS, CorePlan, plan_core
from .readout import ReadoutLayer
from .signatures import TraceSignature, input_layout, output_layout, refuse, trace_layout
from .skid import SkidBuffer
from .spike_readout import SpikingReadout

__all__ = ["NetworkCore"]


class NetworkCore(wiring.Component):
    """Executes a QuantizedNetwork, one sample at a time.

    Parameters
    ----------
    net : QuantizedNetwork
        The network; every constant (weights, biases, widths, thresholds, leaks,
        resets, neuron modes, timesteps, encoding, readout) comes from it. Semantics v1
        and the extensions in ``plan.EXTENSIONS``; any other is refused.
    lanes : int, list or "auto"
        Weights read (and neurons updated) per cycle, in ``[1, 128]``: one for every layer,
        one ``L`` or ``"LxK"`` per layer (``K`` spike events of the previous layer taken
        per cycle), or ``"auto"`` (``core.lanes``).
    budget : dict, optional
        The resources ``lanes="auto"`` plans for (a board's ``capacity`` and ``family``;
        default the ULX3S-25F's).
    dsp : int, optional
        At most this many of a direct layer's products in DSP blocks (the device's count),
        the rest shifts and adds in logic (``plan.plan_core``). Default: all in DSPs.
    mac8x8 : bool
        Two products a DSP block: iCE40 SB_MAC16 instances in dual 8x8 mode (``core.sb_mac16``;
        board builds for iCE40 where the widths fit). Simulation needs the model
        ``sb_mac16.MODEL`` (``build.verilog`` adds it); Amaranth's simulator cannot run it.
        Default False.
    trace : bool
        Add the ``trace`` ports (for verification); board builds use ``False``.
    spram : dict, optional
        ``{layer: {memory: banks}}``: conv layers' state memories in single-port RAM (the
        UP5K's SPRAM; ``plan.check_spram``). Default: none.
    in_pack : int
        Direct input values per ``i_stream`` beat, in ``[1, 64]`` (``input_adapter``);
        ``P > 1`` also keeps zeros away from the integrator. Default 1.
    bram_outreg : bool
        Block-RAM weight memories as ECP5 DP16KD instances with their output register
        (``core.dp16kd``; board builds for ECP5). Simulation needs the model
        ``dp16kd.MODEL`` (``build.verilog`` adds it); Amaranth's simulator cannot run it.
        Default False.

    Attributes
    ----------
    i_stream : stream of StructLayout({data: unsigned(in_data_bits), eos: unsigned(1)}), in
        ``encoding="direct"``: one sample is ``n_in`` beats, ``data`` = input ``i``'s value
        (unsigned ``in_bits``) in index order; ``eos`` is ignored. With ``in_pack = P``:
        ``ceil(n_in / P)`` beats of ``P`` values, value ``b * P + j`` in bits
        ``[j * in_bits, (j + 1) * in_bits)`` of beat ``b``, the last beat padded with zeros.
        ``encoding="spikes"``: per step, one beat per active input (``data`` = its
        address, ``eos = 0``, any order, each address at most once per step) then one
        beat with ``eos = 1``; ``timesteps`` such steps make a sample. Addresses
        ``>= n_in`` are dropped.
    o_stream : stream of StructLayout({data: unsigned(out_data_bits), last: unsigned(1)}), out
        Per sample ``n_classes + 2`` beats: the accumulators (two's complement, class 0
        first), the prediction (argmax, ties to the lowest class), the cycle count
        (``last = 1``).
    trace : Signature({"l<i>": TraceSignature}), out
        Only when ``trace=True``: per layer ``valid`` + ``payload`` {step, group, spikes,
        values}, one beat per group per step; never stalls the core.
    """

    def __init__(self, *, net: QuantizedNetwork, lanes: int = 4, trace: bool = True,
                 spram=None, in_pack: int = 1, budget=None, dsp: int | None = None,
                 mac8x8: bool = False, bram_outreg: bool | str = False):
        try:
            self.plan: CorePlan = plan_core(net, lanes=lanes, spram=spram, in_pack=in_pack,
                                            budget=budget, dsp=dsp, mac8x8=mac8x8,
                                            bram_outreg=bram_outreg)
        except (TypeError, ValueError) as e:
            raise refuse(self, e) from None
        if not isinstance(trace, bool):
            raise refuse(self, TypeError(f"trace must be a bool, not {type(trace).__name__}"))
        self.net = net
        self.with_trace = trace
        members = {
            "i_stream": In(stream.Signature(input_layout(self.plan))),
            "o_stream": Out(stream.Signature(output_layout(self.plan))),
        }
        if trace:
            members["trace"] = Out(
                wiring.Signature(
                    {
                        f"l{lp.index}": Out(TraceSignature(trace_layout(lp, self.plan.timesteps)))
                        for lp in self.plan.layers
                    }
                )
            )
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        steps = plan.timesteps
        layers = []
        for lp in plan.layers:
            cls = (ReadoutLayer if lp.is_readout else SpikingReadout if lp.last
                   else HiddenLayer if lp.conv is None else ConvLayer)
            layer = cls(layer=lp, timesteps=steps)
            m.submodules[f"layer{lp.index}"] = layer
            layers.append(layer)
        # each layer's event input: a registered handshake (core.skid: Fmax on ECP5) or
        # the layer's own port
        inputs = [self._skid(m, lp, layer) for lp, layer in zip(plan.layers, layers,
                                                                 strict=True)]
        for a, b in zip(layers, inputs[1:], strict=False):
            wiring.connect(m, a.o_events, b)
        if self.with_trace:
            for lp, layer in zip(plan.layers, layers, strict=True):
                wiring.connect(m, wiring.flipped(getattr(self.trace, f"l{lp.index}")), layer.trace)

        busy = Signal()  # a sample is in flight (from its first input beat to its last output)
        in_done = Signal()  # all of the sample's input has entered layer 0
        src, ev = self.i_stream, inputs[0]
        start = src.valid & src.ready & ~busy
        with m.If(start):
            m.d.sync += busy.eq(1)
        with m.If(~in_done):
            adapter = direct_adapter if plan.encoding == "direct" else spike_adapter
            adapter(m, plan, src, ev, in_done)

        readout = layers[-1]
        self._results(m, readout.o_acc, start, busy, in_done)
        return m

    @staticmethod
    def _skid(m, lp, layer):
        """The stream that feeds ``layer``: its ``i_events``, or a skid buffer's input in
        front of it (``lp.skid``; layer 0's: the input adapter's event, held in the adapter,
        then reached the walk's next weight address through a combinational ``valid``)."""
        if not lp.skid:
            return layer.i_events
        skid = m.submodules[f"skid{lp.index}"] = SkidBuffer(layer.i_events.payload.shape())
        wiring.connect(m, skid.o, layer.i_events)
        return skid.i

    def _results(self, m, acc, start, busy, in_done):
        """Accumulators pass through; then the argmax and the cycle count follow."""
        plan = self.plan
        out = self.o_stream
        cycles = Signal(CYCLE_BITS)
        counting = Signal()
        # The count starts from a registered ``start`` (the cycle after the first beat, one
        # more preloaded): ``start`` is ``i_stream.ready``, which layer 0's handshake drives,
        # so it reaches one flip-flop here, not the counter's reset across the die.
        started = Signal()
        m.d.sync += started.eq(start)
        with m.If(started):
            m.d.sync += [cycles.eq(2), counting.eq(1)]
        with m.Elif(counting):
            with m.If(acc.valid):
                m.d.sync += counting.eq(0)
            with m.Else():
                m.d.sync += cycles.eq(cycles + 1)

        # The argmax compares a registered copy of each accumulator (``pend_*``) one cycle
        # after it passed, so the comparison starts at flip-flops, not at the readout's
        # memory and lane multiplexer; a one-cycle "Fold" state lets the last one land.
        best = Signal.like(acc.payload.data)
        best_class = Signal(range(plan.n_classes))
        cls = Signal(range(plan.n_classes))
        pend = Signal()
        pend_data = Signal.like(acc.payload.data)
        pend_cls = Signal.like(cls)
        m.d.sync += pend.eq(0)
        with m.If(pend & ((pend_cls == 0) | (pend_data > best))):
            m.d.sync += [best.eq(pend_data), best_class.eq(pend_cls)]
        with m.FSM():
            with m.State("Accumulators"):
                m.d.comb += [
                    out.valid.eq(acc.valid),
                    out.payload.data.eq(acc.payload.data),
                    acc.ready.eq(out.ready),
                ]
                with m.If(acc.valid & out.ready):
                    m.d.sync += [
                        cls.eq(cls + 1),
                        pend.eq(1),
                        pend_data.eq(acc.payload.data),
                        pend_cls.eq(cls),
                    ]
                    with m.If(acc.payload.last):
                        m.next = "Fold"
            with m.State("Fold"):
                m.next = "Prediction"
            with m.State("Prediction"):
                m.d.comb += [out.valid.eq(1), out.payload.data.eq(best_class)]
                with m.If(out.ready):
                    m.next = "Cycles"
            with m.State("Cycles"):
                m.d.comb += [out.valid.eq(1), out.payload.data.eq(cycles), out.payload.last.eq(1)]
                with m.If(out.ready):
                    m.d.sync += [cls.eq(0), busy.eq(0), in_done.eq(0)]
                    m.next = "Accumulators"
