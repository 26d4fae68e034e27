"""Hinton knowledge distillation on the time-mean student logits (the baseline).

Hinton, Vinyals, Dean 2015 (arXiv 1503.02531); for an SNN the student output is the time
mean ``z_bar = mean_t z_t`` of the per-step logits ``[T, B, C]`` (research/kd_methods.md §8)::

    L = alpha * tau^2 * mean_b KL(softmax(z_T/tau) || softmax(z_bar/tau))
        + (1 - alpha) * CE(z_bar, y)

``alpha = 1`` is pure KD (no labels needed, e.g. on a synthetic data-free pool);
``alpha = 0`` is plain CE on the time-mean logits (see also :class:`tet.MeanCE`).
"""

from __future__ import annotations

import torch
from torch import nn

from .common import (
    check_fraction,
    check_logits,
    check_positive,
    check_targets,
    check_teacher_logits,
    kd_rows,
    task_ce,
)

__all__ = ["HintonKD"]


class HintonKD(nn.Module):
    """Logit KD from an ANN (or time-averaged SNN) teacher to the time-mean student logits.

    Parameters
    ----------
    temperature : float
        ``tau`` > 0 (default 3.0, as in the spec's small-scale runs).
    alpha : float
        Weight in [0, 1] of the KD term (default 0.5).
    """

    def __init__(self, temperature: float = 3.0, alpha: float = 0.5):
        super().__init__()
        self.temperature = check_positive("HintonKD", "temperature", temperature)
        self.alpha = check_fraction("HintonKD", "alpha", alpha)

    def compute(self, student_logits, teacher_logits, targets=None) -> dict:
        """``{'total_loss', 'distill_loss', 'task_loss'}`` as tensors.

        Parameters
        ----------
        student_logits : torch.Tensor
            ``[T, B, C]`` per-step student logits.
        teacher_logits : torch.Tensor
            ``[B, C]``, or ``[T', B, C]`` (time-averaged); detached here.
        targets : torch.Tensor, optional
            ``[B]`` labels or ``[B, C]`` soft labels; required unless ``alpha == 1``.
        """
        z = check_logits("HintonKD", "student_logits", student_logits)
        zt = check_teacher_logits("HintonKD", "teacher_logits", teacher_logits, z)
        if zt.ndim == 3:
            zt = zt.mean(0)
        zbar = z.mean(0)
        distill = kd_rows(zbar, zt, self.temperature).mean()
        if targets is None:
            if self.alpha < 1:
                raise ValueError(f"HintonKD: targets are required when alpha < 1 "
                                 f"(alpha={self.alpha}), not None")
            task = zbar.new_zeros(())
        else:
            y = check_targets("HintonKD", "targets", targets, z.shape[1], z.shape[2], like=z)
            task = task_ce(zbar, y)
        total = self.alpha * distill + (1 - self.alpha) * task
        return {"total_loss": total, "distill_loss": distill, "task_loss": task}

    def forward(self, student_logits, teacher_logits, targets=None) -> torch.Tensor:
        """``total_loss`` of :meth:`compute`."""
        return self.compute(student_logits, teacher_logits, targets)["total_loss"]
