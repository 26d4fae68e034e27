"""Fixed-point helpers: the only place rounding, saturation and widths are defined.

Every other part of spikefab (golden model, QAT, export, gateware) calls these
functions instead of restating the arithmetic.

* ``sat(x, b)`` clamps to the signed range ``[-2**(b-1), 2**(b-1) - 1]``.
* ``floor_shift(x, k)`` is an arithmetic right shift (rounds toward minus infinity).
* ``round_half_even`` is the one rounding used when floats become integers (export).
* ``signed_width`` / ``unsigned_width`` give the smallest register holding a range.
* ``decay_of(beta, bits)`` is the integer decay ``round((1 - beta) * 2**bits)`` of a float
  decay factor (extensions ``decay`` and ``cuba``), ``decay_beta`` the factor it stands for.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "is_int",
    "is_number",
    "smin",
    "smax",
    "umax",
    "sat",
    "floor_shift",
    "round_half_even",
    "quantize",
    "signed_width",
    "unsigned_width",
    "fits_signed",
    "dense_bounds",
    "decay_of",
    "decay_beta",
]


def is_int(value) -> bool:
    """True for Python and NumPy integers (``np.int64`` ...); bools are not integers here."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def is_number(value) -> bool:
    """True for Python and NumPy integers and floats (not bools), finite or not."""
    return is_int(value) or isinstance(value, float | np.floating)


def smin(bits: int) -> int:
    """Most negative value of a ``bits``-wide two's complement number."""
    return -(1 << (bits - 1))


def smax(bits: int) -> int:
    """Most positive value of a ``bits``-wide two's complement number."""
    return (1 << (bits - 1)) - 1


def umax(bits: int) -> int:
    """Largest value of a ``bits``-wide unsigned number."""
    return (1 << bits) - 1


def sat(x, bits: int):
    """Saturate ``x`` (int or int64 array) to ``bits`` signed bits."""
    if isinstance(x, np.ndarray | np.generic):
        return np.asarray(np.clip(x, smin(bits), smax(bits)), dtype=np.int64)
    return max(smin(bits), min(smax(bits), int(x)))


def floor_shift(x, k: int):
    """Arithmetic right shift by ``k`` (floor division by ``2**k``)."""
    if isinstance(x, np.ndarray | np.generic):
        return np.right_shift(np.asarray(x, dtype=np.int64), k)
    return int(x) >> k


def round_half_even(x: np.ndarray) -> np.ndarray:
    """Round floats to the nearest integer, ties to even, as int64."""
    return np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64)


def quantize(x: np.ndarray, scale: float, bits: int) -> np.ndarray:
    """``sat(round(x * scale), bits)``: how export turns a float tensor into integers."""
    return sat(round_half_even(np.asarray(x, dtype=np.float64) * scale), bits)


def signed_width(lo: int, hi: int) -> int:
    """Smallest two's complement width holding every integer in ``[lo, hi]``."""
    lo, hi = int(lo), int(hi)
    if lo > hi:
        raise ValueError(f"signed_width range is empty: lo={lo} > hi={hi}")
    bits = 1
    while lo < smin(bits) or hi > smax(bits):
        bits += 1
    return bits


def unsigned_width(hi: int) -> int:
    """Smallest unsigned width holding every integer in ``[0, hi]`` (at least 1)."""
    hi = int(hi)
    if hi < 0:
        raise ValueError(f"unsigned_width needs hi >= 0, not {hi}")
    return max(1, hi.bit_length())


def fits_signed(x: np.ndarray, bits: int) -> bool:
    """True when every element of ``x`` lies in the signed ``bits`` range."""
    x = np.asarray(x)
    return x.size == 0 or (int(x.min()) >= smin(bits) and int(x.max()) <= smax(bits))


def dense_bounds(weights: np.ndarray, bias: np.ndarray, x_max: int) -> tuple[int, int]:
    """Exact range of ``I = W @ x + b`` over all inputs ``x`` in ``[0, x_max]``.

    Used to size accumulators from the actual integer weights of a layer.
    """
    w = np.asarray(weights, dtype=np.int64)
    b = np.asarray(bias, dtype=np.int64)
    hi = (np.where(w > 0, w, 0).sum(axis=1) * x_max + b).max(initial=0)
    lo = (np.where(w < 0, w, 0).sum(axis=1) * x_max + b).min(initial=0)
    return int(lo), int(hi)


def decay_of(beta: float, bits: int) -> int:
    """The integer decay ``d = round((1 - beta) * 2**bits)`` (ties to even) that stands for
    the float decay factor ``beta`` in [0, 1]: ``v - ((v * d) >> bits)`` is ``beta * v`` up to
    the floor, and ``|beta - decay_beta(d, bits)| <= 2**-(bits + 1)``."""
    return int(round_half_even(np.float64((1.0 - float(beta)) * 2.0**bits)))


def decay_beta(decay: int, bits: int) -> float:
    """The float decay factor ``1 - decay / 2**bits`` an integer decay stands for."""
    return 1.0 - decay / 2.0**bits
