"""A register slice with a registered ``ready``: the event stream between two layers.

Between a hidden layer's spike queue and the next layer, :class:`SkidBuffer` registers both
directions of the handshake: the next layer sees ``valid``/``payload`` from flip-flops, and
the queue sees ``ready`` from a flip-flop (the skid entry is empty). Without it the next
layer's handshake (its ``ready``: a few gates from its own state) ran combinationally into
the queue's FIFO read enable and read address, across the die: the ECP5 MNIST build's
critical path at 92 MHz (docs/hardware.md). The events and their order are unchanged; each
passes one cycle later, at one event a cycle, so a layer behind one costs one cycle more
per step (:func:`spikefab_hdl.sim.bound.step_latency`).
"""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """``i`` to ``o``, one cycle later, with ``i.ready`` and ``o.valid`` registers.

    Parameters
    ----------
    shape : shape-castable
        The payload.

    Attributes
    ----------
    i : stream of ``shape``, in
    o : stream of ``shape``, out
        The beats of ``i`` in order, each one cycle after it was taken at the earliest;
        one beat a cycle while ``o.ready`` holds.
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        i, o = self.i, self.o
        # the skid entry holds the beat taken while the output stalled; i.ready = it is empty
        skid_valid = Signal()
        skid = Signal.like(i.payload)
        m.d.comb += i.ready.eq(~skid_valid)
        with m.If(o.ready | ~o.valid):
            with m.If(skid_valid):
                m.d.sync += [o.valid.eq(1), o.payload.eq(skid), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [o.valid.eq(i.valid), o.payload.eq(i.payload)]
        with m.Elif(i.valid & ~skid_valid):
            m.d.sync += [skid.eq(i.payload), skid_valid.eq(1)]
        return m
