"""The conv student's stage, LIF neurons then a 2x2 max pool, as one autograd node.

``SpikingCNN`` runs ``conv -> LIF -> maxpool 2`` per stage. In layer-major order
(``cnn_forward``) a stage is one convolution over all ``T * B`` images, the LIF recurrence over
``T`` and one max pool over ``T * B`` spike maps. ``lif_pool_sequence`` computes the last two
together:

- kernel ``"fused"``: ``snn.fused.lif_sequence`` (eager), then ``max_pool2d``: two nodes;
- kernel ``"compiled"``: one ``torch.compile`` graph runs the recurrence and pools the spikes of
  every step in the same pass (Inductor writes one loop), so the full-resolution spike maps are
  never written out, and the node saves only ``v - theta`` per step and the pool's indices.
  Measured on the MNIST conv student at ``T = 16`` (``docs/speed.md``), PyTorch's
  ``max_pool2d`` over the ``T * B`` spike maps was a quarter of a training step.

Exactness: max-pooling binary spikes is an OR, and the pool's gradient goes to the first
maximum of each window in scan order (for a window without a spike, its first element) —
PyTorch's rule. The compiled kernel computes those indices itself and routes the gradient with
PyTorch's own ``max_pool2d_with_indices_backward``, so pooled spikes and the gradient with
respect to the current equal ``max_pool2d(lif_sequence(...))`` bit for bit
(``tests/test_fused_cnn.py``).
A row or column that an odd height or width leaves out of every window never reaches the output
and gets a zero gradient, as with ``max_pool2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .fused import (
    _backward_pure,
    _compiled,
    _forward_pure,
    check_sequence_args,
    lif_sequence,
)
from .surrogate import SLOPE

__all__ = ["cnn_forward", "lif_pool_sequence"]


def _pool_with_indices(s: torch.Tensor):
    """2x2 max pool of binary spikes ``s [..., H, W]`` (H, W even) and ``max_pool2d``'s flat
    indices into each ``H x W`` plane (first maximum of a window in scan order)."""
    width = s.shape[-1]
    a, b = s[..., 0::2, 0::2], s[..., 0::2, 1::2]
    c, d = s[..., 1::2, 0::2], s[..., 1::2, 1::2]
    m = torch.maximum(torch.maximum(a, b), torch.maximum(c, d))
    h2, w2 = m.shape[-2], m.shape[-1]
    corner = torch.arange(h2).view(h2, 1) * (2 * width) + torch.arange(w2).view(1, w2) * 2
    offset = torch.where(a == m, 0, torch.where(b == m, 1, torch.where(c == m, width,
                                                                          width + 1)))
    return m, corner + offset


def _forward_pool(cur, steps: int, beta: float, theta: float, zero: bool, const: bool):
    spk, xs, vs = _forward_pure(cur, steps, beta, theta, zero, const)
    pooled, idx = _pool_with_indices(spk)
    return pooled, idx, xs, vs


class _LIFPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, current, timesteps, beta, theta, reset, slope):
        const = timesteps is not None
        steps = timesteps if const else current.shape[0]
        height, width = current.shape[-2:]
        ctx.pad = (0, width % 2, 0, height % 2)
        if any(ctx.pad):  # the last row / column is in no window: it cannot reach the output
            current = current[..., : height - height % 2, : width - width % 2].contiguous()
        fwd = _compiled("pool_forward", _forward_pool)
        pooled, idx, xs, vs = fwd(current, steps, beta, theta, reset == "zero", const)
        ctx.save_for_backward(idx, xs, vs)
        ctx.args = (beta, theta, slope, const)
        return pooled

    @staticmethod
    def backward(ctx, grad_p):
        idx, xs, vs = ctx.saved_tensors
        beta, theta, slope, const = ctx.args
        planes = xs.flatten(0, 1)  # only its shape is read
        grad_s = torch.ops.aten.max_pool2d_with_indices_backward(
            grad_p.flatten(0, 1).contiguous(), planes, [2, 2], [2, 2], [0, 0], [1, 1], False,
            idx.flatten(0, 1))
        bwd = _compiled("backward", _backward_pure)
        grad = bwd(grad_s.view(xs.shape).flatten(2), xs.flatten(2),
                   None if vs is None else vs.flatten(2), beta, theta, slope, const)
        grad = grad.view(xs.shape[1:] if const else xs.shape)
        if any(ctx.pad):
            grad = F.pad(grad, ctx.pad)
        return grad, None, None, None, None, None


def lif_pool_sequence(
    current: torch.Tensor,
    *,
    beta: float,
    theta: float,
    reset: str,
    slope: float = SLOPE,
    timesteps: int | None = None,
    kernel: str = "fused",
) -> torch.Tensor:
    """2x2-max-pooled spikes ``[T, ..., H // 2, W // 2]`` of float LIF neurons driven by
    ``current`` ``[T, ..., H, W]`` (or ``[..., H, W]`` with ``timesteps``, a constant current).

    Equal, bit for bit and in gradient, to ``max_pool2d`` (kernel 2) of every step of
    ``lif_sequence(current, ...)``; the arguments are ``lif_sequence``'s. ``current`` needs at
    least two spatial axes (``[..., H, W]``, ``H, W >= 2``).
    """
    check_sequence_args("lif_pool_sequence", current, reset, kernel, timesteps)
    lead = 0 if timesteps is not None else 1
    if current.ndim < lead + 3 or min(current.shape[-2:]) < 2:
        raise ValueError(
            "lif_pool_sequence current must have shape [T, N, ..., H, W] (or [N, ..., H, W] "
            f"with timesteps) with H, W >= 2, not {list(current.shape)}"
        )
    if kernel == "fused":
        s = lif_sequence(current, beta=beta, theta=theta, reset=reset, slope=slope,
                         timesteps=timesteps, kernel="fused")
        return F.max_pool2d(s.flatten(0, 1), 2).unflatten(0, s.shape[:2])
    return _LIFPool.apply(current, timesteps, float(beta), float(theta), reset, float(slope))


def _per_step(module, x):
    """``module`` applied to every ``[T, B, ...]`` slice at once (T folded into the batch)."""
    return module(x.flatten(0, 1)).unflatten(0, x.shape[:2])


def cnn_forward(model, x: torch.Tensor, spikes: bool, return_hidden: bool = False):
    """Layer-major forward of a ``SpikingCNN`` on images ``x`` (``[B, C, H, W]``, or with a
    leading ``T`` when ``spikes``); its per-step loop's outputs (exactly where the convolutions
    and the readout give the same currents for ``T * B`` rows as per step).

    Each stage's LIF and 2x2 pool is one ``lif_pool_sequence`` with ``model.engine`` as the
    kernel (``"fused"``: ``lif_sequence`` then ``max_pool2d``; ``"compiled"``: one graph).
    """
    steps, kernel = model.timesteps, model.engine
    cur = _per_step(model.convs[0], x) if spikes else model.convs[0](x)
    hidden, h = [], None
    for i, lif in enumerate(model.lifs):
        if i:
            cur = _per_step(model.convs[i], h)
        h = lif_pool_sequence(cur, beta=lif.beta, theta=lif.theta, reset=lif.reset,
                              slope=lif.slope, timesteps=None if (spikes or i) else steps,
                              kernel=kernel)
        hidden.append(h)
    out = _per_step(model.readout, h.flatten(2))
    return (out, hidden) if return_hidden else out
