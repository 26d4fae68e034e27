"""The integer LIF neuron: semantics v1 and its named extensions (docs/semantics.md).

One step, on int64 arrays (each line a separate function chosen by the spec)::

    i = sat(i - ((i * d_i) >> q_i) + I, i_bits)   # cuba only; then the membrane gets i
    v = sat(v - leak(v) + I [- theta * s_prev], v_bits)
        leak(v) = v >> k                        # v1 shift leak (none when k is None)
                = (v * d) >> q                  # decay
        - theta * s_prev                        # delayed-reset only: s_prev = fire(v_prev)
    s = v >= theta                              # v1;   v > theta  with threshold "gt"
    v = v - theta * s                           # reset "subtract"
    v = v * (1 - s)                             # reset "zero"
                                                # reset "subtract-delayed": v kept as is

``lif_step`` is a pure function over an explicit state tuple; every variant is its own
function, picked from the spec, never a flag inside the arithmetic.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..fixed import floor_shift, sat
from ..spec import LIFSpec, SynapseSpec

__all__ = [
    "LIFState",
    "fire_ge",
    "fire_gt",
    "leak_decay",
    "leak_none",
    "leak_shift",
    "lif_init",
    "lif_integrate",
    "lif_step",
    "reset_subtract",
    "reset_zero",
    "synapse_step",
]


class LIFState(NamedTuple):
    """Neuron state in LSBs (int64, any leading shape): the membrane ``v`` and, for a
    ``cuba`` neuron, the synaptic current ``i`` (None otherwise)."""

    v: np.ndarray
    i: np.ndarray | None = None


def lif_init(shape, spec: LIFSpec) -> LIFState:
    """Membranes (and synaptic currents) start at zero."""
    zeros = np.zeros(shape, dtype=np.int64)
    return LIFState(zeros, None if spec.synapse is None else zeros.copy())


def leak_none(v: np.ndarray, spec) -> np.ndarray:
    del spec
    return np.zeros_like(v)


def leak_shift(v: np.ndarray, spec: LIFSpec) -> np.ndarray:
    """v1: ``v >> leak_shift`` (floor)."""
    return floor_shift(v, spec.leak_shift)


def leak_decay(v: np.ndarray, spec: LIFSpec | SynapseSpec) -> np.ndarray:
    """decay: ``(v * decay) >> decay_bits`` (floor); exact in int64 (v < 2**32, d <= 2**16)."""
    return floor_shift(np.asarray(v, dtype=np.int64) * spec.decay, spec.decay_bits)


def _leak(spec: LIFSpec):
    if spec.decay is not None:
        return leak_decay
    return leak_none if spec.leak_shift is None else leak_shift


def fire_ge(v: np.ndarray, theta: int) -> np.ndarray:
    """v1: ``v >= theta``."""
    return np.asarray(v >= theta)


def fire_gt(v: np.ndarray, theta: int) -> np.ndarray:
    """gt: ``v > theta``."""
    return np.asarray(v > theta)


_FIRE = {"ge": fire_ge, "gt": fire_gt}


def reset_subtract(v: np.ndarray, s: np.ndarray, theta: int) -> np.ndarray:
    """``v - theta * s``."""
    return v - theta * s.astype(np.int64)


def reset_zero(v: np.ndarray, s: np.ndarray, theta: int) -> np.ndarray:
    """``v * (1 - s)``."""
    del theta
    return np.where(s, 0, v).astype(np.int64)


def reset_none(v: np.ndarray, s: np.ndarray, theta: int) -> np.ndarray:
    """subtract-delayed: nothing now (the next step subtracts ``theta``)."""
    del s, theta
    return v


_RESETS = {"subtract": reset_subtract, "zero": reset_zero, "subtract-delayed": reset_none}


def synapse_step(current: np.ndarray, i: np.ndarray, syn: SynapseSpec) -> np.ndarray:
    """cuba: ``sat(i - ((i * decay) >> decay_bits) + I, i_bits)``."""
    i = np.asarray(i, dtype=np.int64)
    return sat(i - leak_decay(i, syn) + np.asarray(current, dtype=np.int64), syn.i_bits)


def lif_integrate(current: np.ndarray, v: np.ndarray, spec: LIFSpec) -> np.ndarray:
    """Leak and integrate with saturation: ``sat(v - leak(v) + I [- theta * s_prev], v_bits)``.

    ``current`` is the membrane's input (the synaptic current for a ``cuba`` neuron).
    """
    v = np.asarray(v, dtype=np.int64)
    total = v - _leak(spec)(v, spec) + np.asarray(current, dtype=np.int64)
    if spec.reset == "subtract-delayed":
        total = total - spec.theta * _FIRE[spec.threshold](v, spec.theta).astype(np.int64)
    return sat(total, spec.v_bits)


def lif_step(current: np.ndarray, state: LIFState, spec: LIFSpec) -> tuple[np.ndarray, LIFState]:
    """One integer LIF step on the layer's input current ``I``.

    Returns ``(spikes as uint8, new state)``; ``state.v`` is the membrane the layer
    exposes: after the reset, or before it with ``subtract-delayed`` (whose reset is the
    next step's).
    """
    i = None
    if spec.synapse is not None:
        i = synapse_step(current, state.i, spec.synapse)
        current = i
    v = lif_integrate(current, state.v, spec)
    s = _FIRE[spec.threshold](v, spec.theta)
    v = _RESETS[spec.reset](v, s, spec.theta)
    return s.astype(np.uint8), LIFState(v, i)
