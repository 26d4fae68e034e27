"""Multiplication by a constant as shifts and adds, so that yosys never spends a DSP on it.

yosys maps every ``$mul`` it finds to a DSP block when the operands are wide enough
(ECP5: from 2 bits), even when one operand is a constant such as ``G = ceil(n_out /
lanes)``. The address arithmetic of the core uses :func:`times` instead, which leaves
the DSP blocks to the direct layer's products.
"""

from __future__ import annotations

from amaranth import Const, Value
from spikefab.fixed import is_int

__all__ = ["times"]


def times(value, k: int) -> Value:
    """``value * k`` for a non-negative integer constant ``k``, built from shifts and adds."""
    if not is_int(k) or k < 0:
        raise ValueError(f"k must be a non-negative integer, not {k!r}")
    k = int(k)
    value = Value.cast(value)
    terms = [value.shift_left(i) for i in range(k.bit_length()) if (k >> i) & 1]
    if not terms:
        return Const(0, 1)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
