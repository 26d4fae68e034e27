"""The integer LIF neuron, semantics v1 (DESIGN §2, docs/semantics.md).

One step, on int64 arrays::

    v = sat(v - (v >> k) + I, v_bits)      # leak (skipped when k is None), integrate, saturate
    s = v >= theta                          # fire
    v = v - theta * s                       # reset="subtract"
    v = v * (1 - s)                         # reset="zero"

``lif_step`` is a pure function over an explicit state tuple; the reset modes are
separate functions chosen by the spec.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..fixed import floor_shift, sat
from ..spec import LIFSpec

__all__ = ["LIFState", "lif_init", "lif_integrate", "lif_step", "reset_subtract", "reset_zero"]


class LIFState(NamedTuple):
    """Neuron state: ``v`` is the membrane in LSBs (int64, any leading shape)."""

    v: np.ndarray


def lif_init(shape, spec: LIFSpec) -> LIFState:
    """Membranes start at zero."""
    del spec
    return LIFState(np.zeros(shape, dtype=np.int64))


def lif_integrate(current: np.ndarray, v: np.ndarray, spec: LIFSpec) -> np.ndarray:
    """Leak and integrate with saturation: ``sat(v - (v >> k) + I, v_bits)``."""
    v = np.asarray(v, dtype=np.int64)
    leak = 0 if spec.leak_shift is None else floor_shift(v, spec.leak_shift)
    return sat(v - leak + np.asarray(current, dtype=np.int64), spec.v_bits)


def reset_subtract(v: np.ndarray, s: np.ndarray, theta: int) -> np.ndarray:
    """``v - theta * s``."""
    return v - theta * s.astype(np.int64)


def reset_zero(v: np.ndarray, s: np.ndarray, theta: int) -> np.ndarray:
    """``v * (1 - s)``."""
    del theta
    return np.where(s, 0, v).astype(np.int64)


_RESETS = {"subtract": reset_subtract, "zero": reset_zero}


def lif_step(current: np.ndarray, state: LIFState, spec: LIFSpec) -> tuple[np.ndarray, LIFState]:
    """One integer LIF step. Returns ``(spikes as uint8, new state)``."""
    v = lif_integrate(current, state.v, spec)
    s = np.asarray(v >= spec.theta)
    v = _RESETS[spec.reset](v, s, spec.theta)
    return s.astype(np.uint8), LIFState(v)
