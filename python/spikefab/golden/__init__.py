"""The golden model: integer semantics v1 and its named extensions in NumPy (no torch, no
amaranth), and the RTL-against-golden comparison."""

from .compare import compare_rtl
from .layers import conv_current, layer_current, or_pool
from .lif import LIFState, lif_init, lif_integrate, lif_step, reset_subtract, reset_zero
from .network import RunResult, check_input, run_network

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
    "conv_current",
    "layer_current",
    "or_pool",
    "run_network",
]
