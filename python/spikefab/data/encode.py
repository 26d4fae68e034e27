"""Input encoders: floats in [0, 1] -> the integers (or spikes) the IR consumes.

* ``encode_direct(x01, in_bits)`` -> unsigned ints ``round(x * (2**in_bits - 1))``
  (ties to even, the one rounding rule of ``spikefab.fixed``).
* ``decode_direct(x_int, in_bits)`` -> ``x_int / (2**in_bits - 1)`` as float32: exactly
  what the float model must see so that float and integer inputs correspond.
* ``encode_rate(x01, timesteps, seed=...)`` -> Bernoulli spikes ``[T, B, n_in]`` of 0/1
  (uint8) from a seeded NumPy generator: the same seed gives the same spikes.
"""

from __future__ import annotations

import numpy as np

from ..fixed import is_int, round_half_even, umax
from ..spec import IN_BITS_RANGE, T_RANGE
from .datasets import check_seed

__all__ = ["encode_direct", "decode_direct", "quantize_input", "encode_rate"]


def _check_x01(x01) -> np.ndarray:
    x = np.asarray(x01)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"x must hold numbers, not dtype {x.dtype}")
    x = x.astype(np.float64)
    if x.size and (not np.all(np.isfinite(x)) or x.min() < 0.0 or x.max() > 1.0):
        raise ValueError(
            f"x values must lie in [0, 1], not [{float(np.nanmin(x))}, {float(np.nanmax(x))}]"
        )
    return x


def _check_in_bits(in_bits) -> int:
    lo, hi = IN_BITS_RANGE
    if not is_int(in_bits) or not lo <= in_bits <= hi:
        raise ValueError(f"in_bits must be an integer in [{lo}, {hi}], not {in_bits!r}")
    return in_bits


def encode_direct(x01, in_bits: int) -> np.ndarray:
    """Quantise floats in [0, 1] to unsigned ``in_bits`` integers (int64, same shape)."""
    in_bits = _check_in_bits(in_bits)
    x = _check_x01(x01)
    return round_half_even(x * umax(in_bits))


def decode_direct(x_int, in_bits: int) -> np.ndarray:
    """The float the model sees for integer input ``x_int``: ``x_int / (2**in_bits - 1)``."""
    in_bits = _check_in_bits(in_bits)
    x = np.asarray(x_int)
    if x.dtype.kind not in "iu":
        raise TypeError(f"x_int must hold integers, not dtype {x.dtype}")
    if x.size and (x.min() < 0 or x.max() > umax(in_bits)):
        raise ValueError(
            f"x_int values must lie in [0, {umax(in_bits)}], not [{int(x.min())}, {int(x.max())}]"
        )
    return (x.astype(np.float64) / umax(in_bits)).astype(np.float32)


def quantize_input(x01, in_bits: int) -> np.ndarray:
    """``decode_direct(encode_direct(x01))``: train on exactly the inputs the IR will get."""
    return decode_direct(encode_direct(x01, in_bits), in_bits)


def encode_rate(x01, timesteps: int, *, seed: int = 0) -> np.ndarray:
    """Rate-code ``[B, n_in]`` floats into ``[T, B, n_in]`` uint8 spikes, P(spike) = x."""
    lo, hi = T_RANGE
    if not is_int(timesteps) or not lo <= timesteps <= hi:
        raise ValueError(f"timesteps must be an integer in [{lo}, {hi}], not {timesteps!r}")
    seed = check_seed(seed)
    x = _check_x01(x01)
    if x.ndim != 2:
        raise ValueError(f"x must have shape [B, n_in], not {list(x.shape)}")
    rng = np.random.default_rng(seed)
    return (rng.random((timesteps, *x.shape)) < x).astype(np.uint8)
