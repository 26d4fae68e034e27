"""The golden model: integer semantics v1 in NumPy (no torch, no amaranth)."""

from .lif import LIFState, lif_init, lif_integrate, lif_step, reset_subtract, reset_zero
from .network import RunResult, check_input, layer_current, run_network

__all__ = [
    "LIFState",
    "lif_init",
    "lif_integrate",
    "lif_step",
    "reset_subtract",
    "reset_zero",
    "RunResult",
    "check_input",
    "layer_current",
    "run_network",
]
