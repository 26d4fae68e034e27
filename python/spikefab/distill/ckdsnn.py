"""CKDSNN = CE + SAMD + NLD (AAAI 2026, arXiv 2511.06902; code SinoLeu/CKDSNN).

::

    L = CE(z_bar, y) + samd_weight * SAMD(F_student, M_teacher) + nld_weight * NLD(z, z_T)

``mode="paper"`` (default) uses SAMD with the ``T_s^2`` factor and NLD in logit space;
``mode="code"`` uses SAMD without ``T_s^2`` and the probability-mixture NLD of the public code
(research/kd_methods.md §4.2). Both weights are 1 as in the paper (beta = gamma = 1). The
teacher map and logits come from an eval-mode teacher under ``no_grad`` and are detached here.
"""

from __future__ import annotations

import torch
from torch import nn

from .common import check_choice, check_logits, check_nonnegative, check_targets, task_ce
from .nld import NLD, NLD_MODES
from .samd import SAMD

__all__ = ["CKDSNN"]


class CKDSNN(nn.Module):
    """SAMD + NLD on top of CE for a spiking conv student.

    Parameters
    ----------
    mode : {"paper", "code"}
        Selects the paper's or the public code's SAMD scaling and NLD form.
    samd_weight, nld_weight : float
        ``beta``, ``gamma`` >= 0 (default 1.0 each).
    samd_temperature, nld_temperature : float
        Default 2.0 each.
    noise_scale : float
        NLD ``lambda`` for ``mode="paper"`` (0.1).
    mix_weight : float
        NLD ``w`` for ``mode="code"`` (0.9).
    normalize : str
        SAMD map normalisation (``"minmax_batch"``).
    generator : torch.Generator, optional
        Noise source of NLD.
    """

    def __init__(self, mode: str = "paper", *, samd_weight: float = 1.0,
                 nld_weight: float = 1.0, samd_temperature: float = 2.0,
                 nld_temperature: float = 2.0, noise_scale: float = 0.1,
                 mix_weight: float = 0.9, normalize: str = "minmax_batch",
                 generator: torch.Generator | None = None):
        super().__init__()
        self.mode = check_choice("CKDSNN", "mode", mode, NLD_MODES)
        self.samd_weight = check_nonnegative("CKDSNN", "samd_weight", samd_weight)
        self.nld_weight = check_nonnegative("CKDSNN", "nld_weight", nld_weight)
        self.samd = SAMD(samd_temperature, mode=mode, normalize=normalize)
        self.nld = NLD(mode, nld_temperature, noise_scale=noise_scale, mix_weight=mix_weight,
                       generator=generator)

    def compute(self, student_logits, student_features, teacher_logits, teacher_map,
                targets) -> dict:
        """``{'total_loss', 'task_loss', 'samd_loss', 'nld_loss'}``.

        Parameters
        ----------
        student_logits : torch.Tensor
            ``[T, B, C]`` per-step logits.
        student_features : torch.Tensor
            ``[T, B, C', H, W]`` last-stage feature spikes.
        teacher_logits : torch.Tensor
            ``[B, C]``.
        teacher_map : torch.Tensor
            ``[B, H', W']`` teacher CAM.
        targets : torch.Tensor
            ``[B]`` labels or ``[B, C]`` soft labels.
        """
        z = check_logits("CKDSNN", "student_logits", student_logits)
        y = check_targets("CKDSNN", "targets", targets, z.shape[1], z.shape[2], like=z)
        task = task_ce(z.mean(0), y)
        samd = self.samd(student_features, teacher_map)
        nld = self.nld(z, teacher_logits)
        total = task + self.samd_weight * samd + self.nld_weight * nld
        return {"total_loss": total, "task_loss": task, "samd_loss": samd, "nld_loss": nld}

    def forward(self, student_logits, student_features, teacher_logits, teacher_map,
                targets) -> torch.Tensor:
        """``total_loss`` of :meth:`compute`."""
        return self.compute(student_logits, student_features, teacher_logits, teacher_map,
                            targets)["total_loss"]
