"""The two label-only baselines: TET per-timestep CE and plain CE on the time-mean logits.

* ``TET`` (Deng et al., ICLR 2022, "Temporal Efficient Training"): ``(1/T) sum_t CE(z_t, y)``,
  the task loss inside SeAl-KD, TSER and Yu et al. 2025. The paper's optional MSE term
  (pulling every step's output towards a constant ``phi``) is offered as ``mse_weight``
  (``lambda``; 0 by default, as in the KD papers that reuse TET).
* ``MeanCE``: ``CE(mean_t z_t, y)``, the "CE-only" row of every benchmark table.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import check_fraction, check_logits, check_targets, task_ce

__all__ = ["TET", "MeanCE"]


class TET(nn.Module):
    """``(1 - lambda) * mean_{t} CE(z_t, y) + lambda * mean_t MSE(z_t, phi)``.

    Parameters
    ----------
    mse_weight : float
        ``lambda`` in [0, 1] (default 0: pure per-timestep CE).
    phi : float
        Target of the MSE regulariser (TET's ``phi``, default 1.0).
    """

    def __init__(self, mse_weight: float = 0.0, phi: float = 1.0):
        super().__init__()
        self.mse_weight = check_fraction("TET", "mse_weight", mse_weight)
        self.phi = float(phi)

    def forward(self, student_logits, targets) -> torch.Tensor:
        """Loss of ``student_logits [T, B, C]`` against ``targets [B]`` or ``[B, C]``."""
        z = check_logits("TET", "student_logits", student_logits)
        y = check_targets("TET", "targets", targets, z.shape[1], z.shape[2], like=z)
        loss = task_ce(z, y)
        if self.mse_weight:
            mse = F.mse_loss(z, torch.full_like(z, self.phi))
            loss = (1 - self.mse_weight) * loss + self.mse_weight * mse
        return loss


class MeanCE(nn.Module):
    """Cross-entropy of the time-mean logits: the CE-only baseline."""

    def forward(self, student_logits, targets) -> torch.Tensor:
        """``CE(mean_t z_t, y)`` for ``student_logits [T, B, C]``."""
        z = check_logits("MeanCE", "student_logits", student_logits)
        y = check_targets("MeanCE", "targets", targets, z.shape[1], z.shape[2], like=z)
        return task_ce(z.mean(0), y)
