"""Torch spiking models: surrogate spike, float LIF, SpikingMLP (and, from other modules,
QAT layers, CNN students and ANN teachers)."""

from .lif import LIF, beta_from_leak_shift, lif_step_float
from .mlp import SpikingMLP
from .surrogate import SLOPE, spike

__all__ = ["LIF", "SLOPE", "SpikingMLP", "beta_from_leak_shift", "lif_step_float", "spike"]
