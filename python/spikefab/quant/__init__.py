"""Quantization helpers: scale calibration (``calibrate``) and the bit-width search
(``search``, imported explicitly: it needs torch and the QAT model)."""

from .calibrate import calibrate_scale

__all__ = ["calibrate_scale"]
