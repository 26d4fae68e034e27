"""Proof 1: a layer's neuron datapath computes docs/semantics.md's update for every input.

:class:`NeuronHarness` drives the layer's stages (``core.lif.LIFLanes``: every stage of
:func:`~spikefab_hdl.core.lif.lif_stages` back to back, the ones its neuron pass
registers between) with free membranes ``v``, currents ``I`` and synaptic currents ``i``
at the layer's widths (``v_bits``, ``cur_bits``, ``i_bits``) and lanes, and asserts that
each lane's ``v_next``, ``spike`` and ``syn_next`` equal :func:`~.reference.lif_reference`.
The harness has no state, so one step proves it for every input (combinational
equivalence). ``theta``, ``leak_shift``, ``decay`` and the other constants are the layer's.
"""

from __future__ import annotations

from amaranth import Cat, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.wiring import In
from spikefab.spec import LIFSpec

from ..core.lif import LIFPrep, lif_stages
from .checks import Harness
from .reference import fire, leak_reference, lif_reference, syn_leak_reference

__all__ = ["PrepHarness", "UpdateHarness", "describe_neuron"]


def describe_neuron(n: LIFSpec) -> str:
    """The neuron's mode in a few words (``v16 shift>>3 subtract ge``)."""
    if n.decay is not None:
        leak = f"decay {n.decay}/2^{n.decay_bits}"
    elif n.leak_shift is not None:
        leak = f"shift>>{n.leak_shift}"
    else:
        leak = "no leak"
    text = f"v_bits {n.v_bits}, theta {n.theta}, {leak}, {n.reset}, {n.threshold}"
    if n.synapse is not None:
        s = n.synapse
        text += f", cuba i_bits {s.i_bits} decay {s.decay}/2^{s.decay_bits}"
    return text


def _toward_zero(x, y):
    """``x`` lies between 0 and ``y`` (inclusive)."""
    return Mux(y >= 0, (x >= 0) & (x <= y), (x <= 0) & (x >= y))


class _NeuronBase(Harness):
    def __init__(self, *, neuron: LIFSpec, lanes: int, cur_bits: int,
                 gateware: LIFSpec | None = None, ports: dict):
        self.neuron, self.lanes, self.cur_bits = neuron, lanes, cur_bits
        self.gateware = gateware or neuron
        ports = {"v": In(data.ArrayLayout(signed(neuron.v_bits), lanes)), **ports}
        if neuron.synapse is not None:
            ports["syn"] = In(data.ArrayLayout(signed(neuron.synapse.i_bits), lanes))
        super().__init__(ports)

    def _stages(self, m, classes, bus):
        """Chain ``classes`` (stages of :func:`lif_stages`) by port name from ``bus``."""
        kw = {"neuron": self.gateware, "lanes": self.lanes, "cur_bits": self.cur_bits}
        for cls in classes:
            stage = cls(**kw)
            m.submodules[cls.__name__] = stage
            for name, member in stage.signature.members.items():
                if member.flow == In:
                    m.d.comb += getattr(stage, name).eq(bus[name])
                else:
                    bus[name] = getattr(stage, name)
        return bus


class PrepHarness(_NeuronBase):
    """First half: :class:`~spikefab_hdl.core.lif.LIFPrep` (``decay``, ``delayed-reset``,
    ``cuba``) against the reference, for every ``v`` (and ``i``).

    Checks per lane: ``leak == (v * d) >> q`` and that it lies between 0 and ``v``,
    ``fired == fire(v)``, ``syn_leak == (i * d_i) >> q_i`` likewise (those the neuron
    has). The products are the hard part of the neuron for a SAT solver (the solver's time
    doubles with every bit of ``v``), hence a proof of their own, in which every lane gets
    the same free ``v`` (and ``i``): yosys merges identical lanes, so the solver proves
    one product, and a lane that differs is proven (or refuted) on its own. (A lane reads
    only its own ``v``: ``LIFPrep`` builds each lane from ``v[j]`` alone.)
    """

    def __init__(self, **kw):
        super().__init__(ports={}, **kw)

    def build(self, m):
        n = self.neuron
        v0 = Signal(signed(n.v_bits), name="v_any")
        m.d.comb += v0.eq(self.v[0])
        self.assume(Cat(*(self.v[j] == v0 for j in range(self.lanes))).all())
        bus = {"v": Signal.like(self.v, name="v_lanes")}
        m.d.comb += [bus["v"][j].eq(v0) for j in range(self.lanes)]
        if n.synapse is not None:
            i0 = Signal(signed(n.synapse.i_bits), name="i_any")
            m.d.comb += i0.eq(self.syn[0])
            bus["syn"] = Signal.like(self.syn, name="syn_lanes")
            m.d.comb += [bus["syn"][j].eq(i0) for j in range(self.lanes)]
        bus = self._stages(m, [LIFPrep], bus)
        for j in range(self.lanes):
            if n.decay is not None:
                self.check(f"leak_{j}", bus["leak"][j] == leak_reference(v0, n),
                           f"lane {j}: leak = (v * {n.decay}) >> {n.decay_bits}")
                self.check(f"leak_range_{j}", _toward_zero(bus["leak"][j], v0),
                           f"lane {j}: leak lies between 0 and v (UpdateHarness assumes it)")
            if n.reset == "subtract-delayed":
                self.check(f"fired_{j}", bus["fired"][j] == fire(v0, n),
                           f"lane {j}: fired = the stored membrane's spike")
            if n.synapse is not None:
                s = n.synapse
                self.check(f"syn_leak_{j}", bus["syn_leak"][j] == syn_leak_reference(i0, n),
                           f"lane {j}: syn_leak = (i * {s.decay}) >> {s.decay_bits}")
                self.check(f"syn_leak_range_{j}", _toward_zero(bus["syn_leak"][j], i0),
                           f"lane {j}: syn_leak lies between 0 and i (UpdateHarness assumes it)")


class UpdateHarness(_NeuronBase):
    """The neuron update for every input: the stages after ``LIFPrep`` against the reference.

    With ``LIFPrep`` (a ``decay``, ``delayed-reset`` or ``cuba`` neuron) its outputs are
    inputs here: ``leak`` and ``syn_leak`` free between 0 and ``v`` (``i``) — where
    ``(v * d) >> q`` lies for ``0 <= d <= 2^q`` — and the reference uses the same values;
    ``fired`` is ``fire(v)``. :class:`PrepHarness` proves ``LIFPrep`` computes exactly
    those, so the two together prove the whole update.
    """

    def __init__(self, **kw):
        n, lanes = kw["neuron"], kw["lanes"]
        ports = {"current": In(data.ArrayLayout(signed(kw["cur_bits"]), lanes))}
        if n.decay is not None:
            ports["leak"] = In(data.ArrayLayout(signed(n.v_bits), lanes))
        if n.synapse is not None:
            ports["syn_leak"] = In(data.ArrayLayout(signed(n.synapse.i_bits), lanes))
        super().__init__(ports=ports, **kw)

    def build(self, m):
        n = self.neuron
        cuba = n.synapse is not None
        bus = {"v": self.v, "current": self.current}
        if cuba:
            bus["syn"] = self.syn
            bus["syn_leak"] = self.syn_leak
        if n.decay is not None:
            bus["leak"] = self.leak
        fired = Signal(self.lanes)
        bus["fired"] = fired
        classes = [c for c in lif_stages(self.gateware) if c is not LIFPrep]
        bus = self._stages(m, classes, bus)
        for j in range(self.lanes):
            v = self.v[j]
            m.d.comb += fired[j].eq(fire(v, n))
            kw = {}
            if n.decay is not None:
                self.assume(_toward_zero(self.leak[j], v))
                kw["leak"] = self.leak[j]
            if cuba:
                self.assume(_toward_zero(self.syn_leak[j], self.syn[j]))
                kw["syn_leak"] = self.syn_leak[j]
            v_ref, s_ref, i_ref = lif_reference(v, self.current[j], self.syn[j] if cuba else None,
                                                n, **kw)
            self.check(f"v_next_{j}", bus["v_next"][j] == v_ref,
                       f"lane {j}: the next membrane equals docs/semantics.md's")
            self.check(f"spike_{j}", bus["spikes"][j] == s_ref,
                       f"lane {j}: the spike equals docs/semantics.md's")
            if cuba:
                self.check(f"syn_next_{j}", bus["syn_next"][j] == i_ref,
                           f"lane {j}: the next synaptic current equals docs/semantics.md's")
