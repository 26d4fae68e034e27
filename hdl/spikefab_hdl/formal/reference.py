"""docs/semantics.md's neuron update, written once more in the proof's own terms.

This is the reference the neuron proof holds the gateware to. It is written from the
equations of docs/semantics.md ("One step" and "Named extensions"), not from the gateware:
every operation is the textbook one on values wide enough never to overflow (Amaranth
widens ``+``, ``-`` and ``*``; ``>>`` of a signed value is the floor shift), and
saturation is two comparisons::

    i' = sat(i - ((i * d_i) >> q_i) + I, i_bits)                 cuba; I' = i', else I' = I
    leak(v) = 0 | v >> k | (v * d) >> q                          no leak, shift, decay
    fire(v) = v >= theta  (v > theta with gt)
    v' = sat(v - leak(v) + I' - theta * fire(v), v_bits)         the last term: delayed-reset
    s  = fire(v')
    v'' = v' - theta * s | v' * (1 - s) | v'                     subtract, zero, delayed

The gateware's tricks (the adders side by side, saturation from the top bits, the
shift-and-add products of :mod:`~spikefab_hdl.core.arith`) appear nowhere here.
"""

from __future__ import annotations

from amaranth import Const, Mux, Value
from spikefab.fixed import smax, smin
from spikefab.spec import LIFSpec

__all__ = ["fire", "leak_reference", "lif_reference", "sat", "syn_leak_reference"]


def sat(x, bits: int) -> Value:
    """``x`` clamped to ``[-2^(bits-1), 2^(bits-1) - 1]``."""
    hi, lo = smax(bits), smin(bits)
    return Mux(x > hi, hi, Mux(x < lo, lo, x))


def fire(v, neuron: LIFSpec) -> Value:
    """``fire(v)``: ``v >= theta``, or ``v > theta`` with ``gt``."""
    return v > neuron.theta if neuron.threshold == "gt" else v >= neuron.theta


def leak_reference(v, neuron: LIFSpec) -> Value:
    """``leak(v)``: 0 (no leak), ``v >> k`` (v1) or ``(v * d) >> q`` (decay)."""
    if neuron.decay is not None:
        return (v * Const(neuron.decay)) >> neuron.decay_bits
    if neuron.leak_shift is not None:
        return v >> neuron.leak_shift
    return Const(0)


def syn_leak_reference(syn, neuron: LIFSpec) -> Value:
    """``(i * d_i) >> q_i`` of a ``cuba`` neuron."""
    s = neuron.synapse
    return (syn * Const(s.decay)) >> s.decay_bits


def lif_reference(v, current, syn, neuron: LIFSpec, *, leak=None,
                  syn_leak=None) -> tuple[Value, Value, Value | None]:
    """``(v_next, spike, syn_next)`` of one neuron; ``syn``/``syn_next`` only with ``cuba``.

    ``v_next`` is the membrane the layer stores and exposes: after the reset, or before it
    with ``subtract-delayed`` (whose reset is the ``theta * fire(v)`` of the next step).
    ``leak`` and ``syn_leak``, when given, stand for :func:`leak_reference` and
    :func:`syn_leak_reference` (the neuron proof's second half, :mod:`.neuron`).
    """
    n = neuron
    syn_next = None
    drive = current
    if n.synapse is not None:
        if syn_leak is None:
            syn_leak = syn_leak_reference(syn, n)
        syn_next = sat(syn - syn_leak + current, n.synapse.i_bits)
        drive = syn_next
    if leak is None:
        leak = leak_reference(v, n)
    total = v - leak + drive
    if n.reset == "subtract-delayed":
        total = total - Mux(fire(v, n), n.theta, 0)
    v_new = sat(total, n.v_bits)
    spike = fire(v_new, n)
    if n.reset == "subtract":
        v_out = Mux(spike, v_new - n.theta, v_new)
    elif n.reset == "zero":
        v_out = Mux(spike, 0, v_new)
    else:
        v_out = v_new
    return v_out, spike, syn_next
