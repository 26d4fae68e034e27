"""Multiplication as shifts and adds, so that yosys never spends a DSP on it.

yosys maps every ``$mul`` it finds to a DSP block when the operands are wide enough
(ECP5: from 2 bits), even when one operand is a constant such as ``G = ceil(n_out /
lanes)``. The address arithmetic of the core uses :func:`times` instead, which leaves
the DSP blocks to the direct layer's products. The decay of a ``decay`` or ``cuba``
neuron (``v * d``, ``d`` a per-layer constant) uses :func:`times_const`: the canonical
signed-digit form of ``d`` (digits -1, 0, 1, no two adjacent nonzero), so a constant
with ``n`` nonzero digits costs ``n - 1`` adders, summed as a balanced tree
(``ceil(log2 n)`` adders deep). A direct layer's products beyond the device's DSP count
(``plan_core(dsp=...)``) use :func:`times_unsigned`: ``w * x`` for a signal ``x`` of a few
bits (the input's ``in_bits``) as ``x``'s bits selecting shifted copies of ``w``, added as
a balanced tree (``in_bits - 1`` adders, ``ceil(log2 in_bits)`` deep).
"""

from __future__ import annotations

from amaranth import Const, Mux, Value
from spikefab.fixed import is_int

__all__ = ["csd_terms", "times", "times_const", "times_unsigned"]


def _check_natural(k) -> int:
    """``k`` as a Python int if it is a non-negative (Python or NumPy) integer."""
    if not is_int(k) or k < 0:
        raise ValueError(f"k must be a non-negative integer, not {k!r}")
    return int(k)


def times(value, k: int) -> Value:
    """``value * k`` for a non-negative integer constant ``k``, built from shifts and adds."""
    k = _check_natural(k)
    value = Value.cast(value)
    terms = [value.shift_left(i) for i in range(k.bit_length()) if (k >> i) & 1]
    if not terms:
        return Const(0, 1)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def csd_terms(k: int) -> list[tuple[int, int]]:
    """``k`` (a non-negative integer) as ``[(shift, sign), ...]``, ``k = sum(sign << shift)``,
    in canonical signed-digit form: the fewest nonzero digits, lowest first."""
    k = _check_natural(k)
    terms, shift = [], 0
    while k:
        if k & 1:
            digit = 2 - (k & 3)  # +1 when k = 1 (mod 4), -1 when k = 3 (mod 4)
            terms.append((shift, digit))
            k -= digit
        k >>= 1
        shift += 1
    return terms


def times_const(value, k: int) -> Value:
    """``value * k`` (``value`` signed or unsigned, ``k`` a non-negative integer constant)
    from the canonical signed digits of ``k``, added as a balanced tree; signed result."""
    value = Value.cast(value)
    terms = [(value.shift_left(s), sign) for s, sign in csd_terms(k)]
    if not terms:
        return Const(0, 1)
    while len(terms) > 1:
        paired = []
        for (a, sa), (b, sb) in zip(terms[0::2], terms[1::2], strict=False):
            if sa == sb:
                paired.append((a + b, sa))
            else:  # one positive, one negative: their difference, positive
                paired.append((a - b, 1) if sa > 0 else (b - a, 1))
        if len(terms) % 2:
            paired.append(terms[-1])
        terms = paired
    total, sign = terms[0]
    return total if sign > 0 else -total


def times_unsigned(w, x) -> Value:
    """``w * x`` (``w`` signed or unsigned, ``x`` an unsigned value) from the bits of ``x``:
    ``sum(x[b] ? w << b : 0)``, added as a balanced tree; no ``$mul``, so no DSP."""
    w, x = Value.cast(w), Value.cast(x)
    if x.shape().signed:
        raise ValueError(f"x must be unsigned, not {x.shape()}")
    terms = [Mux(x[b], w.shift_left(b), 0) for b in range(len(x))]
    if not terms:
        return Const(0, 1)
    while len(terms) > 1:
        paired = [a + b for a, b in zip(terms[0::2], terms[1::2], strict=False)]
        terms = paired + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]
