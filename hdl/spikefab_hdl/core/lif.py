"""``lanes`` integer LIF neurons as a chain of combinational stages (docs/semantics.md).

Per lane, exactly as ``spikefab.golden.lif.lif_step``, for semantics v1 and the neuron
modes of its named extensions (``decay``, ``gt``, ``delayed-reset``, ``cuba``)::

    i' = sat(i - ((i * d_i) >> q_i) + I, i_bits)   # cuba; the membrane's input is then i'
    v' = sat(v - leak(v) + I [- theta * fire(v)], v_bits)
         leak(v) = v >> k | (v * d) >> q | 0       # shift leak, decay, none
         - theta * fire(v)                          # delayed-reset: the previous step's spike
    s  = v' >= theta                                # v' > theta with threshold "gt"
    v' = v' - theta * s | v' * (1 - s) | v'         # subtract, zero, subtract-delayed

``>>`` is Amaranth's arithmetic shift of a signed value (floor), the same as NumPy's; the
products by the per-layer constants ``d``, ``d_i`` are shifts and adds
(:func:`.arith.times_const`), no DSP block.

The update is a chain of stages, so that a layer can register between them (its neuron
pass is a pipeline, :mod:`.neuron_pass`); :func:`lif_stages` lists them for a neuron:

* :class:`LIFPrep` (only with ``decay``, ``delayed-reset`` or ``cuba``): what depends on
  the stored state alone: the products ``(v * d) >> q`` and ``(i * d_i) >> q_i`` and the
  previous step's spike ``fire(v)``;
* :class:`SynapseSum` (``cuba``): ``i - ((i * d_i) >> q_i) + I`` at full width;
* :class:`LIFSum` (the adders): ``total = v - leak(v) + I`` (``I`` = the saturated
  synaptic current with ``cuba``) and ``delta = total - theta`` side by side (two carry
  chains deep), ``total - theta - 1``'s sign for ``gt``;
* :class:`LIFDecide` (muxes only): saturation from ``total``'s top bits, the spike from
  ``delta``'s sign, the reset. Since ``1 <= theta <= smax(v_bits)`` (``- 1`` with ``gt``,
  ``LIFSpec``), a value saturated high always spikes (to ``smax - theta`` or 0, or stays
  ``smax`` with ``subtract-delayed``) and one saturated low never does; otherwise
  ``total`` fits ``v_bits`` and ``s = delta >= 0`` (``> 0`` with ``gt``).

A v1 neuron has only the last two (the core of v1 is unchanged). :class:`LIFLanes` is the
whole chain back to back (one combinational update, for tests).
"""

from __future__ import annotations

from amaranth import Module, Mux, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from spikefab.fixed import smax, smin
from spikefab.spec import LIFSpec

from .arith import times_const
from .signatures import refuse

__all__ = [
    "LIFDecide",
    "LIFLanes",
    "LIFPrep",
    "LIFSum",
    "SynapseSum",
    "input_bits",
    "lif_stages",
    "saturate",
    "sum_bits",
    "synapse_total_bits",
]


def input_bits(neuron: LIFSpec, cur_bits: int) -> int:
    """Width of the membrane's input: the synaptic current (``cuba``) or ``I``."""
    return neuron.synapse.i_bits if neuron.synapse is not None else cur_bits


def sum_bits(neuron: LIFSpec, cur_bits: int) -> tuple[int, int]:
    """Widths of ``total`` and ``delta``: wide enough that neither can overflow.

    ``v - leak(v) [- theta * fire(v)]`` stays in the ``v_bits`` range (the leak moves ``v``
    toward 0; ``theta`` is subtracted only from ``v >= theta``), so one bit more than the
    wider operand holds ``total``.
    """
    total = max(neuron.v_bits, input_bits(neuron, cur_bits)) + 1
    return total, max(total, (neuron.theta + 1).bit_length() + 1) + 1


def synapse_total_bits(neuron: LIFSpec, cur_bits: int) -> int:
    """Width of ``i - ((i * d_i) >> q_i) + I`` (``cuba``)."""
    return max(neuron.synapse.i_bits, cur_bits) + 1


def saturate(value, bits: int):
    """``(fits, sat(value, bits))``: whether ``value`` lies in the signed ``bits`` range."""
    top = value[bits - 1:]  # all equal <=> value fits
    fits = (top == 0) | (top == (1 << len(top)) - 1)
    return fits, Mux(fits, value[:bits].as_signed(), Mux(value[-1], smin(bits), smax(bits)))


def _check(owner, neuron) -> None:
    if not isinstance(neuron, LIFSpec):
        raise refuse(owner, TypeError(f"neuron must be a LIFSpec, not {type(neuron).__name__}"))


def _lanes(shape, lanes):
    return data.ArrayLayout(shape, lanes)


class _Stage(wiring.Component):
    """A stage of ``lanes`` LIF updates; its ports depend on the neuron (see each class)."""

    def __init__(self, *, neuron: LIFSpec, lanes: int, cur_bits: int):
        _check(self, neuron)
        self.neuron, self.lanes, self.cur_bits = neuron, lanes, cur_bits
        super().__init__(self.ports())

    def ports(self) -> dict:
        raise NotImplementedError


class LIFPrep(_Stage):
    """What depends on the stored state alone (``decay``, ``delayed-reset``, ``cuba``).

    Attributes
    ----------
    v : ArrayLayout(signed(v_bits), lanes), in
    syn : ArrayLayout(signed(i_bits), lanes), in (``cuba`` only)
    leak : ArrayLayout(signed(v_bits), lanes), out (``decay`` only): ``(v * d) >> q``
    fired : unsigned(lanes), out (``delayed-reset`` only): bit ``j`` = ``fire(v[j])``, the
        previous step's spike
    syn_leak : ArrayLayout(signed(i_bits), lanes), out (``cuba`` only): ``(i * d_i) >> q_i``
    """

    def ports(self):
        n, lanes = self.neuron, self.lanes
        ports = {"v": In(_lanes(signed(n.v_bits), lanes))}
        if n.synapse is not None:
            ports["syn"] = In(_lanes(signed(n.synapse.i_bits), lanes))
            ports["syn_leak"] = Out(_lanes(signed(n.synapse.i_bits), lanes))
        if n.decay is not None:
            ports["leak"] = Out(_lanes(signed(n.v_bits), lanes))
        if n.reset == "subtract-delayed":
            ports["fired"] = Out(unsigned(lanes))
        return ports

    def elaborate(self, platform):
        m = Module()
        n = self.neuron
        for j in range(self.lanes):
            v = self.v[j]
            if n.decay is not None:
                m.d.comb += self.leak[j].eq(times_const(v, n.decay) >> n.decay_bits)
            if n.reset == "subtract-delayed":
                m.d.comb += self.fired[j].eq(v > n.theta if n.threshold == "gt" else v >= n.theta)
            if n.synapse is not None:
                syn = n.synapse
                m.d.comb += self.syn_leak[j].eq(
                    times_const(self.syn[j], syn.decay) >> syn.decay_bits
                )
        return m


class SynapseSum(_Stage):
    """``cuba``: the synaptic current's update before saturation.

    Attributes
    ----------
    syn, syn_leak : ArrayLayout(signed(i_bits), lanes), in
    current : ArrayLayout(signed(cur_bits), lanes), in
    syn_total : ArrayLayout(signed(synapse_total_bits()), lanes), out
        ``syn - syn_leak + current``
    """

    def ports(self):
        n, lanes = self.neuron, self.lanes
        ib = n.synapse.i_bits
        return {
            "syn": In(_lanes(signed(ib), lanes)),
            "syn_leak": In(_lanes(signed(ib), lanes)),
            "current": In(_lanes(signed(self.cur_bits), lanes)),
            "syn_total": Out(_lanes(signed(synapse_total_bits(n, self.cur_bits)), lanes)),
        }

    def elaborate(self, platform):
        m = Module()
        for j in range(self.lanes):
            m.d.comb += self.syn_total[j].eq(self.syn[j] - self.syn_leak[j] + self.current[j])
        return m


class LIFSum(_Stage):
    """The adders: ``total = v - leak(v) + I [- theta * fired]``, ``delta = total - theta``.

    Attributes
    ----------
    v : ArrayLayout(signed(v_bits), lanes), in
    current : ArrayLayout(signed(cur_bits), lanes), in (not with ``cuba``)
    syn_total : in (``cuba`` only, as :class:`SynapseSum`'s output): saturated to
        ``i_bits``, it is the membrane's input
    leak : in (``decay`` only, as :class:`LIFPrep`'s output)
    fired : in (``delayed-reset`` only, as :class:`LIFPrep`'s output)
    total : ArrayLayout(signed(sum_bits()[0]), lanes), out
    delta : ArrayLayout(signed(sum_bits()[1]), lanes), out
    over : unsigned(lanes), out (``gt`` only): bit ``j`` = ``total - theta - 1 >= 0``
    syn_next : ArrayLayout(signed(i_bits), lanes), out (``cuba`` only): the new synaptic
        current
    """

    def ports(self):
        n, lanes, cb = self.neuron, self.lanes, self.cur_bits
        tw, dw = sum_bits(n, cb)
        ports = {"v": In(_lanes(signed(n.v_bits), lanes))}
        if n.synapse is not None:
            ports["syn_total"] = In(_lanes(signed(synapse_total_bits(n, cb)), lanes))
            ports["syn_next"] = Out(_lanes(signed(n.synapse.i_bits), lanes))
        else:
            ports["current"] = In(_lanes(signed(cb), lanes))
        if n.decay is not None:
            ports["leak"] = In(_lanes(signed(n.v_bits), lanes))
        if n.reset == "subtract-delayed":
            ports["fired"] = In(unsigned(lanes))
        ports["total"] = Out(_lanes(signed(tw), lanes))
        ports["delta"] = Out(_lanes(signed(dw), lanes))
        if n.threshold == "gt":
            ports["over"] = Out(unsigned(lanes))
        return ports

    def elaborate(self, platform):
        m = Module()
        n = self.neuron
        theta = n.theta
        for j in range(self.lanes):
            v = self.v[j]
            if n.decay is not None:
                leaked = v - self.leak[j]
            else:
                leaked = v if n.leak_shift is None else v - (v >> n.leak_shift)
            if n.synapse is not None:
                _, cur = saturate(self.syn_total[j], n.synapse.i_bits)
                m.d.comb += self.syn_next[j].eq(cur)
            else:
                cur = self.current[j]
            if n.reset == "subtract-delayed":
                f = self.fired[j]
                m.d.comb += [
                    self.total[j].eq(leaked + (cur - Mux(f, theta, 0))),
                    self.delta[j].eq(leaked + (cur - Mux(f, 2 * theta, theta))),
                ]
                over = leaked + (cur - Mux(f, 2 * theta + 1, theta + 1))
            else:
                m.d.comb += [
                    self.total[j].eq(leaked + cur),
                    self.delta[j].eq(leaked + (cur - theta)),
                ]
                over = leaked + (cur - (theta + 1))
            if n.threshold == "gt":
                m.d.comb += self.over[j].eq(~over[-1])
        return m


class LIFDecide(_Stage):
    """Saturation, spike and reset of ``lanes`` LIF updates from :class:`LIFSum`'s outputs.

    Attributes
    ----------
    total, delta, over : in (as :class:`LIFSum`'s outputs; ``over`` with ``gt`` only)
    v_next : ArrayLayout(signed(v_bits), lanes), out
        Membranes after leak, integration, saturation and reset (before the reset with
        ``subtract-delayed``).
    spikes : unsigned(lanes), out
        Bit ``j`` is lane ``j``'s spike.
    """

    def ports(self):
        n, lanes = self.neuron, self.lanes
        tw, dw = sum_bits(n, self.cur_bits)
        ports = {
            "total": In(_lanes(signed(tw), lanes)),
            "delta": In(_lanes(signed(dw), lanes)),
        }
        if n.threshold == "gt":
            ports["over"] = In(unsigned(lanes))
        ports["v_next"] = Out(_lanes(signed(n.v_bits), lanes))
        ports["spikes"] = Out(lanes)
        return ports

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
            fire = fits & (self.over[j] if spec.threshold == "gt" else ~delta[-1])
            spike = fire | (~fits & ~neg)  # saturated high: hi > theta always spikes
            if spec.reset == "subtract":
                high_after, on_spike = hi - spec.theta, delta[:vb].as_signed()
            elif spec.reset == "zero":
                high_after, on_spike = 0, 0
            else:  # subtract-delayed: no reset now
                high_after, on_spike = hi, low
            after = Mux(fits, Mux(fire, on_spike, low), Mux(neg, lo, high_after))
            m.d.comb += [self.spikes[j].eq(spike), self.v_next[j].eq(after)]
        return m


def lif_stages(neuron: LIFSpec) -> tuple[type[_Stage], ...]:
    """The stages of ``neuron``'s update, in order (see the module docstring)."""
    stages = [LIFSum, LIFDecide]
    if neuron.synapse is not None:
        stages.insert(0, SynapseSum)
    if neuron.decay is not None or neuron.synapse is not None or \
            neuron.reset == "subtract-delayed":
        stages.insert(0, LIFPrep)
    return tuple(stages)


class LIFLanes(wiring.Component):
    """Combinational update of ``lanes`` LIF neurons: :func:`lif_stages` back to back.

    Parameters
    ----------
    neuron : LIFSpec
        Width, threshold, leak, reset and synapse of the neurons.
    lanes : int
        Number of neurons updated at once.
    cur_bits : int
        Width of the input currents ``I``.

    Attributes
    ----------
    v : ArrayLayout(signed(v_bits), lanes), in
        Membranes before the step.
    current : ArrayLayout(signed(cur_bits), lanes), in
        Input currents ``I`` of the step.
    syn : ArrayLayout(signed(i_bits), lanes), in (``cuba`` only)
        Synaptic currents before the step.
    v_next : ArrayLayout(signed(v_bits), lanes), out
        Membranes the layer exposes after the step.
    spikes : unsigned(lanes), out
        Bit ``j`` is lane ``j``'s spike.
    syn_next : ArrayLayout(signed(i_bits), lanes), out (``cuba`` only)
        Synaptic currents after the step.
    """

    def __init__(self, *, neuron: LIFSpec, lanes: int, cur_bits: int):
        _check(self, neuron)
        self.neuron, self.lanes, self.cur_bits = neuron, lanes, cur_bits
        v_layout = _lanes(signed(neuron.v_bits), lanes)
        ports = {"v": In(v_layout), "current": In(_lanes(signed(cur_bits), lanes))}
        if neuron.synapse is not None:
            ports["syn"] = In(_lanes(signed(neuron.synapse.i_bits), lanes))
        ports.update(v_next=Out(v_layout), spikes=Out(lanes))
        if neuron.synapse is not None:
            ports["syn_next"] = Out(_lanes(signed(neuron.synapse.i_bits), lanes))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        kw = {"neuron": self.neuron, "lanes": self.lanes, "cur_bits": self.cur_bits}
        bus = {name: getattr(self, name) for name in ("v", "current", "syn") if
               name in self.signature.members}
        for k, cls in enumerate(lif_stages(self.neuron)):
            stage = cls(**kw)
            m.submodules[f"stage{k}"] = stage
            for name, member in stage.signature.members.items():
                if member.flow == In:
                    m.d.comb += getattr(stage, name).eq(bus[name])
                else:
                    bus[name] = getattr(stage, name)
        for name in ("v_next", "spikes", "syn_next"):
            if name in self.signature.members:
                m.d.comb += getattr(self, name).eq(bus[name])
        return m
