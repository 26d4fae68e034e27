"""``lanes`` integer LIF neurons in two combinational halves (semantics v1).

Per lane, exactly as ``spikefab.golden.lif.lif_step``::

    v' = sat(v - (v >> k) + I, v_bits)     # no leak term when k is None
    s  = v' >= theta
    v' = v' - theta * s                    # reset="subtract"
    v' = v' * (1 - s)                      # reset="zero"

``>>`` is Amaranth's arithmetic shift of a signed value (floor), the same as NumPy's.

The update is split so that a layer can register it in the middle (the neuron pass is
pipelined, see :mod:`.layer`):

* :class:`LIFSum` (the adders): ``total = v - (v >> k) + I`` at full width and
  ``delta = total - theta``, side by side (two carry chains deep).
* :class:`LIFDecide` (muxes only): saturation from ``total``'s top bits, the spike from
  ``delta``'s sign, the reset. Since ``1 <= theta <= smax(v_bits)`` (``LIFSpec``), a
  value saturated high always spikes (to ``smax - theta`` or 0) and one saturated low
  never does; otherwise ``total`` fits ``v_bits`` and ``s = delta >= 0``.

:class:`LIFLanes` is both halves back to back (one combinational update).
"""

from __future__ import annotations

from amaranth import Module, Mux, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from spikefab.fixed import smax, smin
from spikefab.spec import LIFSpec

from .signatures import refuse

__all__ = ["LIFLanes", "LIFSum", "LIFDecide", "sum_bits"]


def sum_bits(neuron: LIFSpec, cur_bits: int) -> tuple[int, int]:
    """Widths of ``total`` and ``delta``: wide enough that neither can overflow."""
    total = max(neuron.v_bits, cur_bits) + 1
    return total, max(total, neuron.theta.bit_length() + 1) + 1


def _check(owner, neuron) -> None:
    if not isinstance(neuron, LIFSpec):
        raise refuse(owner, TypeError(f"neuron must be a LIFSpec, not {type(neuron).__name__}"))


class LIFSum(wiring.Component):
    """The adders of ``lanes`` LIF updates: ``total = v - (v >> k) + I``, ``delta = total - theta``.

    Attributes
    ----------
    v : ArrayLayout(signed(v_bits), lanes), in
    current : ArrayLayout(signed(cur_bits), lanes), in
    total : ArrayLayout(signed(sum_bits()[0]), lanes), out
    delta : ArrayLayout(signed(sum_bits()[1]), lanes), out
    """

    def __init__(self, *, neuron: LIFSpec, lanes: int, cur_bits: int):
        _check(self, neuron)
        self.neuron, self.lanes, self.cur_bits = neuron, lanes, cur_bits
        tw, dw = sum_bits(neuron, cur_bits)
        super().__init__(
            {
                "v": In(data.ArrayLayout(signed(neuron.v_bits), lanes)),
                "current": In(data.ArrayLayout(signed(cur_bits), lanes)),
                "total": Out(data.ArrayLayout(signed(tw), lanes)),
                "delta": Out(data.ArrayLayout(signed(dw), lanes)),
            }
        )

    def elaborate(self, platform):
        m = Module()
        spec = self.neuron
        for j in range(self.lanes):
            v = self.v[j]
            leaked = v if spec.leak_shift is None else v - (v >> spec.leak_shift)
            m.d.comb += [
                self.total[j].eq(leaked + self.current[j]),
                self.delta[j].eq(leaked + (self.current[j] - spec.theta)),
            ]
        return m


class LIFDecide(wiring.Component):
    """Saturation, spike and reset of ``lanes`` LIF updates from :class:`LIFSum`'s outputs.

    Attributes
    ----------
    total, delta : in (as :class:`LIFSum`'s outputs)
    v_next : ArrayLayout(signed(v_bits), lanes), out
        Membranes after leak, integration, saturation and reset.
    spikes : unsigned(lanes), out
        Bit ``j`` is lane ``j``'s spike.
    """

    def __init__(self, *, neuron: LIFSpec, lanes: int, cur_bits: int):
        _check(self, neuron)
        self.neuron, self.lanes, self.cur_bits = neuron, lanes, cur_bits
        tw, dw = sum_bits(neuron, cur_bits)
        super().__init__(
            {
                "total": In(data.ArrayLayout(signed(tw), lanes)),
                "delta": In(data.ArrayLayout(signed(dw), lanes)),
                "v_next": Out(data.ArrayLayout(signed(neuron.v_bits), lanes)),
                "spikes": Out(lanes),
            }
        )

    def elaborate(self, platform):
        m = Module()
        spec = self.neuron
        vb = spec.v_bits
        lo, hi = smin(vb), smax(vb)
        for j in range(self.lanes):
            total, delta = self.total[j], self.delta[j]
            top = total[vb - 1:]  # all equal <=> total fits v_bits
            fits = (top == 0) | (top == (1 << len(top)) - 1)
            neg = total[-1]
            low = total[:vb].as_signed()
            fire = fits & ~delta[-1]
            spike = fire | (~fits & ~neg)  # saturated high: hi >= theta always spikes
            if spec.reset == "subtract":
                high_after = hi - spec.theta
                on_spike = delta[:vb].as_signed()
            else:
                high_after = 0
                on_spike = 0
            after = Mux(fits, Mux(fire, on_spike, low), Mux(neg, lo, high_after))
            m.d.comb += [self.spikes[j].eq(spike), self.v_next[j].eq(after)]
        return m


class LIFLanes(wiring.Component):
    """Combinational update of ``lanes`` LIF neurons (:class:`LIFSum` then :class:`LIFDecide`).

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
        _check(self, neuron)
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
        kw = {"neuron": self.neuron, "lanes": self.lanes, "cur_bits": self.cur_bits}
        m.submodules.sum = add = LIFSum(**kw)
        m.submodules.decide = dec = LIFDecide(**kw)
        m.d.comb += [
            add.v.eq(self.v),
            add.current.eq(self.current),
            dec.total.eq(add.total),
            dec.delta.eq(add.delta),
            self.v_next.eq(dec.v_next),
            self.spikes.eq(dec.spikes),
        ]
        return m
