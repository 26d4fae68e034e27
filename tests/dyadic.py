"""Exact synaptic sums for engine comparisons.

The time-loop engines (``loop``, ``fused``, ``compiled``) differ in how they call the synaptic
layers: one ``[B]``-row matmul or convolution per step, or one over ``T * B`` rows. BLAS and
oneDNN pick kernels by shape, and a different kernel may sum the same products in another
order (MKL's sgemm does for the readout on Sapphire Rapids: 1 ulp). That is the library's
rounding, not the engine's. On parameters and inputs that are small multiples of a power of
two every partial sum is a float32 exactly, so any order gives the same currents, and the
engines must then agree bit for bit on spikes and logits on any CPU.
"""

import torch

WEIGHT_STEP = 2.0**-6
INPUT_STEP = 2.0**-4


def snap_parameters_(model: torch.nn.Module, step: float = WEIGHT_STEP) -> torch.nn.Module:
    """Round every parameter of ``model`` in place to a multiple of ``step``."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.round(p / step) * step)
    return model


def dyadic_rand(*shape: int, step: float = INPUT_STEP) -> torch.Tensor:
    """Uniform values in [0, 1] on a grid of ``step`` (direct-encoded inputs)."""
    return torch.randint(0, round(1 / step) + 1, shape).float() * step
