"""``lanes`` integer LIF neurons updated in one combinational step (semantics v1).

Per lane, exactly as ``spikeforge.golden.lif.lif_step``::

    v' = sat(v - (v >> k) + I, v_bits)     # no leak term when k is None
    s  = v' >= theta
    v' = v' - theta * s                    # reset="subtract"
    v' = v' * (1 - s)                      # reset="zero"

``>>`` is Amaranth's arithmetic shift of a signed value (floor), the same as NumPy's.
"""

from __future__ import annotations

from amaranth import Module, Mux, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from spikeforge.fixed import smax, smin
from spikeforge.spec import LIFSpec

from .signatures import refuse

__all__ = ["LIFLanes"]


class LIFLanes(wiring.Component):
    """Combinational update of ``lanes`` LIF neurons.

    Parameters
    ----------
    neuron : LIFSpec
        Width, threshold, leak and reset of the neurons.
    lanes : int
        Number of neurons updated at once.
    cur_bits : int
        Width of the input currents.

    Attributes
    ----------
    v : ArrayLayout(signed(v_bits), lanes), in
        Membranes before the step.
    current : ArrayLayout(signed(cur_bits), lanes), in
        Input currents ``I`` of the step.
    v_next : ArrayLayout(signed(v_bits), lanes), out
        Membranes after leak, integration, saturation and reset.
    spikes : unsigned(lanes), out
        Bit ``j`` is lane ``j``'s spike.
    """

    def __init__(self, *, neuron: LIFSpec, lanes: int, cur_bits: int):
        if not isinstance(neuron, LIFSpec):
            raise refuse(self, TypeError(f"neuron must be a LIFSpec, not {type(neuron).__name__}"))
        self.neuron = neuron
        self.lanes = lanes
        self.cur_bits = cur_bits
        v_layout = data.ArrayLayout(signed(neuron.v_bits), lanes)
        super().__init__(
            {
                "v": In(v_layout),
                "current": In(data.ArrayLayout(signed(cur_bits), lanes)),
                "v_next": Out(v_layout),
                "spikes": Out(lanes),
            }
        )

    def elaborate(self, platform):
        m = Module()
        spec = self.neuron
        lo, hi = smin(spec.v_bits), smax(spec.v_bits)
        for j in range(self.lanes):
            v = self.v[j]
            leaked = v if spec.leak_shift is None else v - (v >> spec.leak_shift)
            total = leaked + self.current[j]
            integrated = Mux(total > hi, hi, Mux(total < lo, lo, total))
            spike = integrated >= spec.theta
            if spec.reset == "subtract":
                after = Mux(spike, integrated - spec.theta, integrated)
            else:
                after = Mux(spike, 0, integrated)
            m.d.comb += [self.spikes[j].eq(spike), self.v_next[j].eq(after)]
        return m
