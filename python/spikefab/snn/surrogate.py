"""Heaviside spike with a surrogate gradient.

Forward: ``spike(x) = 1.0 if x >= 0 else 0.0`` with ``x = v - theta``, so a neuron fires
when ``v >= theta`` exactly as in the integer semantics (DESIGN §2). ``spike_gt`` is the
strict compare ``x > 0`` of the ``gt`` extension (snnTorch, Norse and NIR fire at
``v > theta``), with the same surrogate.

Backward: the fast-sigmoid (SuperSpike, Zenke & Ganguli 2018) derivative

    d spike / dx = 1 / (1 + slope * |x|) ** 2

with ``slope = 5.0`` by default (peak 1 at the threshold, half-width ~0.08 in units of
theta = 1). The slope is per call; the default is ``SLOPE``.
"""

from __future__ import annotations

import torch

from ..fixed import is_number

__all__ = ["SLOPE", "spike", "spike_gt"]

#: Default slope of the fast-sigmoid surrogate derivative.
SLOPE = 5.0


class _FastSigmoidSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out / (1.0 + ctx.slope * x.abs()) ** 2, None


class _FastSigmoidSpikeGT(_FastSigmoidSpike):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)


def spike(x: torch.Tensor, slope: float = SLOPE) -> torch.Tensor:
    """Heaviside step ``x >= 0`` (as ``x``'s dtype) with a fast-sigmoid surrogate gradient.

    Parameters
    ----------
    x : torch.Tensor
        ``v - theta``: the distance of the membrane above threshold.
    slope : float
        Sharpness of the surrogate derivative ``1 / (1 + slope * |x|)**2``; must be > 0.
    """
    _check_slope(slope)
    return _FastSigmoidSpike.apply(x, float(slope))


def spike_gt(x: torch.Tensor, slope: float = SLOPE) -> torch.Tensor:
    """Strict Heaviside step ``x > 0`` (extension ``gt``) with the surrogate of ``spike``."""
    _check_slope(slope)
    return _FastSigmoidSpikeGT.apply(x, float(slope))


def _check_slope(slope) -> None:
    if not is_number(slope) or not slope > 0:
        raise ValueError(f"slope must be a positive number, not {slope!r}")
