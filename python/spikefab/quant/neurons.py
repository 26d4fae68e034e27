"""A float neuron stage (``snn.lif.LIF``) as integer neuron modes, and the ranges its integer
state can reach.

The float model's modes map onto ``LIFSpec`` one for one (docs/semantics.md):

* the leak: ``leak_shift = k`` as given; a ``beta`` that is exactly ``1 - 2**-k`` (``k`` below
  ``v_bits``) becomes that shift (semantics v1, bit for bit what ``decay = 2**(q-k)`` gives),
  ``beta = 1`` no leak, any other ``beta`` the ``decay`` extension with
  ``d = fixed.decay_of(beta, decay_bits)``;
* ``threshold`` and ``reset`` are copied; ``alpha`` becomes a ``SynapseSpec`` with
  ``decay_of(alpha, decay_bits)``.

``state_bounds`` propagates the exact integer current range through ``T`` steps of every
mode by interval arithmetic (sound for any input sequence): the range of the synaptic
current and of the pre-saturation membrane, from which export sizes ``i_bits`` and
``v_bits``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fixed import decay_beta, decay_of, floor_shift
from ..spec import LIFSpec, SynapseSpec

__all__ = ["StateBounds", "integer_leak", "integer_synapse", "membrane_bounds", "state_bounds"]


def integer_leak(lif, decay_bits: int, v_bits: int = 32) -> tuple[int | None, int | None]:
    """``(leak_shift, decay)`` of a float ``LIF`` (one of them None; both for no leak)."""
    if not getattr(lif, "decay_given", False):
        return lif.leak_shift, None
    beta = float(lif.beta)
    if beta == 1.0:
        return None, None
    for k in range(v_bits):
        if beta == 1.0 - 2.0**-k:
            return k, None
    return None, decay_of(beta, decay_bits)


def integer_synapse(alpha: float, decay_bits: int, i_bits: int) -> SynapseSpec:
    """The ``SynapseSpec`` of a float synaptic decay ``alpha``."""
    return SynapseSpec(i_bits=i_bits, decay=decay_of(alpha, decay_bits), decay_bits=decay_bits)


def leak_residual(lif, spec: LIFSpec) -> float:
    """``|beta_float - beta_int|``: what rounding the decay cost (0 for a shift or none)."""
    return 0.0 if spec.decay is None else abs(float(lif.beta) - decay_beta(spec.decay,
                                                                             spec.decay_bits))


def _after_leak(v: int, k, decay, bits) -> int:
    """``v - leak(v)``: non-decreasing in ``v`` (``decay <= 2**bits``), so interval ends map
    to interval ends."""
    if decay is not None:
        return v - floor_shift(v * decay, bits)
    return v if k is None else v - (v >> k)


@dataclass(frozen=True)
class StateBounds:
    """``membrane``: the pre-saturation membrane's range; ``synapse``: the synaptic current's
    (cuba, else None)."""

    membrane: tuple[int, int]
    synapse: tuple[int, int] | None = None


def state_bounds(lo: int, hi: int, spec: LIFSpec, timesteps: int) -> StateBounds:
    """Ranges of a layer's integer state over ``timesteps`` steps of currents in ``[lo, hi]``.

    The membrane interval is kept as (at most) two parts: the neurons that did not fire and,
    for ``subtract-delayed``, those that did and subtract ``theta`` at the next step. Each
    step splits a part at the threshold (``v >= theta``, or ``> theta`` with ``gt``) and
    resets the firing piece. Saturation is not applied: the bounds size widths so that no
    value saturates.
    """
    theta = spec.theta
    fire_at = theta + (spec.threshold == "gt")
    syn = spec.synapse
    i_a = i_b = 0
    syn_lo = syn_hi = 0
    parts = {0: (0, 0)}  # pending subtraction -> (lo, hi) of the exposed membrane
    low = high = 0
    for _ in range(timesteps):
        c_lo, c_hi = lo, hi
        if syn is not None:
            i_a = _after_leak(i_a, None, syn.decay, syn.decay_bits) + lo
            i_b = _after_leak(i_b, None, syn.decay, syn.decay_bits) + hi
            syn_lo, syn_hi = min(syn_lo, i_a), max(syn_hi, i_b)
            c_lo, c_hi = i_a, i_b
        nxt: dict[int, tuple[int, int]] = {}

        def add(key, a, b, into=nxt):
            if key in into:
                a, b = min(a, into[key][0]), max(b, into[key][1])
            into[key] = (a, b)

        for pending, (a, b) in parts.items():
            pa = _after_leak(a, spec.leak_shift, spec.decay, spec.decay_bits) + c_lo - pending
            pb = _after_leak(b, spec.leak_shift, spec.decay, spec.decay_bits) + c_hi - pending
            low, high = min(low, pa), max(high, pb)
            if pa < fire_at:
                add(0, pa, min(pb, fire_at - 1))
            if pb >= fire_at:
                a2, b2 = max(pa, fire_at), pb
                if spec.reset == "subtract":
                    add(0, a2 - theta, b2 - theta)
                elif spec.reset == "zero":
                    add(0, 0, 0)
                else:
                    add(theta, a2, b2)
        parts = nxt
    return StateBounds((low, high), None if syn is None else (syn_lo, syn_hi))


def membrane_bounds(lo: int, hi: int, spec: LIFSpec, timesteps: int) -> tuple[int, int]:
    """Range of the pre-saturation membrane ``v - leak(v) + I`` over ``timesteps`` steps
    (``state_bounds``; for a cuba neuron ``I`` is the synaptic current)."""
    return state_bounds(lo, hi, spec, timesteps).membrane
