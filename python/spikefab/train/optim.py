"""The optimiser of every spikefab training loop: Adam with PyTorch's fused kernel.

``torch.optim.Adam``'s default on the CPU updates each parameter with about a dozen separate
tensor operations; ``fused=True`` (PyTorch >= 2.4, CPU and CUDA) does the whole update in
one kernel per parameter, with the same algorithm (it may differ from the default in the
last bit of a float). On the MNIST MLP student that was 37 % of a training step
(``docs/speed.md``). ``adam`` falls back to the default implementation where the fused kernel
cannot run (a parameter on another device type or of an unsupported dtype).
"""

from __future__ import annotations

import torch

__all__ = ["adam"]

_FUSED_DEVICES = ("cpu", "cuda")


def adam(params, *, lr: float, weight_decay: float = 0.0, betas=(0.9, 0.999),
         fused: bool = True) -> torch.optim.Adam:
    """``torch.optim.Adam`` over ``params``, fused where every parameter allows it."""
    params = list(params)
    flat = [p for group in params for p in (group["params"] if isinstance(group, dict)
                                            else [group])]
    ok = fused and all(p.device.type in _FUSED_DEVICES and p.is_floating_point() for p in flat)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=betas,
                            **({"fused": True} if ok else {}))
