"""Per-layer scale calibration for quantization-aware training (NumPy only)."""

from __future__ import annotations

import math

import numpy as np

from ..fixed import quantize, smax

__all__ = ["calibrate_scale"]


def calibrate_scale(w: np.ndarray, bits: int, x_max: int = 1) -> float:
    """Layer scale ``S`` whose grid ``sat(round(w * S / x_max), bits)`` has least MSE to ``w``.

    Searches 41 clipping levels between 0.2 and 1.0 of ``max|w|`` (1.0 is plain max-abs
    scaling, the post-training choice). Returns 1.0 for an all-zero ``w``.
    """
    w = np.asarray(w, dtype=np.float64).ravel()
    top = float(np.abs(w).max(initial=0.0))
    if top == 0.0:
        return 1.0
    best, best_err = None, math.inf
    for frac in np.linspace(1.0, 0.2, 41):
        s = smax(bits) / (top * frac)
        q = quantize(w, s, bits) / s
        err = float(np.mean((q - w) ** 2))
        if err < best_err:
            best, best_err = s, err
    return float(best * x_max)
