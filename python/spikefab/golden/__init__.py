"""The golden model: integer semantics v1 in NumPy (no torch, no amaranth), and the
RTL-against-golden comparison."""

from .compare import compare_rtl
from .lif import LIFState, lif_init, lif_integrate, lif_step, reset_subtract, reset_zero
from .network import RunResult, check_input, layer_current, run_network

__all__ = [
    "compare_rtl",
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
