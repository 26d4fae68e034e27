"""Noisy logit distillation (NLD), the logit half of CKDSNN (research/kd_methods.md §4).

Two forms, both on the time-mean student logits ``z = mean_t z_t`` against a detached ANN
teacher ``z_T``, with per-sample class statistics ``mu_b = mean_c z_b``,
``sigma_b = std_c z_b`` (unbiased, not detached: the noise is reparameterised) and
``n ~ N(0, I)``:

* ``mode="paper"`` (default; the paper's text)::

      z_soft = z + lambda * (mu + sigma * n)
      L = tau^2 * mean_b KL(softmax(z_T/tau) || softmax(z_soft/tau))      lambda = noise_scale 0.1

* ``mode="code"`` (SinoLeu/CKDSNN, the form that produced the published numbers)::

      p_soft = w * softmax(z/tau) + (1 - w) * softmax((mu + sigma^2 * n)/tau)   w = mix_weight 0.9
      L = tau^2 * mean_b KL(softmax(z_T/tau) || p_soft)

``tau = 2``. ``noise_scale = 0`` or ``mix_weight = 1`` reduce both to Hinton's ``tau^2 KL``.
The noise comes from ``generator`` (a ``torch.Generator``) when given, else torch's global RNG.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import (
    check_choice,
    check_fraction,
    check_logits,
    check_nonnegative,
    check_positive,
    check_teacher_logits,
    kd_rows,
)

__all__ = ["NLD", "NLD_MODES"]

NLD_MODES = ("paper", "code")


class NLD(nn.Module):
    """Noisy logit distillation.

    Parameters
    ----------
    mode : {"paper", "code"}
        Logit-space noise (paper, default) or the probability mixture of the public code.
    temperature : float
        ``tau`` > 0 (default 2.0).
    noise_scale : float
        ``lambda`` >= 0 of ``mode="paper"`` (default 0.1).
    mix_weight : float
        ``w`` in [0, 1] of ``mode="code"`` (default 0.9).
    generator : torch.Generator, optional
        Source of the Gaussian noise.
    """

    def __init__(self, mode: str = "paper", temperature: float = 2.0, noise_scale: float = 0.1,
                 mix_weight: float = 0.9, generator: torch.Generator | None = None):
        super().__init__()
        self.mode = check_choice("NLD", "mode", mode, NLD_MODES)
        self.temperature = check_positive("NLD", "temperature", temperature)
        self.noise_scale = check_nonnegative("NLD", "noise_scale", noise_scale)
        self.mix_weight = check_fraction("NLD", "mix_weight", mix_weight)
        self.generator = generator

    def _noise(self, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(like.shape, generator=self.generator, dtype=like.dtype,
                           device=like.device)

    def forward(self, student_logits, teacher_logits) -> torch.Tensor:
        """NLD of ``student_logits [T, B, C]`` (time-averaged) against ``teacher_logits [B, C]``."""
        z = check_logits("NLD", "student_logits", student_logits).mean(0)
        zt = check_teacher_logits("NLD", "teacher_logits", teacher_logits, z, allow_steps=False)
        tau = self.temperature
        if z.shape[-1] > 1:
            mu = z.mean(-1, keepdim=True)
            sigma = z.std(-1, keepdim=True)
        else:
            mu, sigma = z, torch.zeros_like(z)
        if self.mode == "paper":
            if self.noise_scale == 0:
                return kd_rows(z, zt, tau).mean()
            z_soft = z + self.noise_scale * (mu + sigma * self._noise(z))
            return kd_rows(z_soft, zt, tau).mean()
        if self.mix_weight == 1:
            return kd_rows(z, zt, tau).mean()
        noise_logits = mu + sigma**2 * self._noise(z)
        p_soft = (self.mix_weight * F.softmax(z / tau, -1)
                  + (1 - self.mix_weight) * F.softmax(noise_logits / tau, -1))
        log_q = F.log_softmax(zt / tau, -1)
        return tau**2 * (log_q.exp() * (log_q - torch.log(p_soft))).sum(-1).mean()
