"""Spike activation map distillation (SAMD), the spatial half of CKDSNN (research/kd_methods.md §4).

The student's spike activation map is ``M_st[b] = sum_t sum_c F[t, b, c]`` of its feature
spikes ``F [T, B, C, H, W]`` at the last stage; the teacher's map ``M_te [B, H', W']`` is its
class activation map (``snn.teachers.CNNTeacher.cam``; for a global-average-pool + linear head,
Grad-CAM equals CAM divided by ``H*W``, so the two agree after normalisation). The teacher map
is resized bilinearly to ``H x W`` when the sizes differ. Then::

    M <- (M - min M) / (max M + 1e-3)       normalize="minmax_batch" (code; over the WHOLE batch)
                                            | "minmax_sample" (per sample) | "none"
    P = softmax(flatten_{HW}(M) / T_s)      T_s = temperature = 2
    L = T_s^2 * mean_b KL(P_te,b || P_st,b)   mode="paper"   (no T_s^2 factor in mode="code")

The code adds 1e-10 to both distributions; so does ``mode="code"``. The maps lie in [0, 1]
after normalisation, so the loss is small (typically ~1e-2) and bounded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import check_choice, check_positive, to_tensor

__all__ = ["SAMD", "spike_activation_map", "normalize_map", "NORMALIZE_MODES"]

NORMALIZE_MODES = ("minmax_batch", "minmax_sample", "none")
SAMD_MODES = ("paper", "code")


def spike_activation_map(features: torch.Tensor) -> torch.Tensor:
    """``sum_t sum_c`` of feature spikes ``[T, B, C, H, W]`` -> ``[B, H, W]``."""
    return features.sum(dim=(0, 2))


def normalize_map(m: torch.Tensor, mode: str) -> torch.Tensor:
    """Min-max normalise maps ``[B, H, W]`` over the batch, per sample, or not at all."""
    if mode == "none":
        return m
    if mode == "minmax_batch":
        m = m - m.min()
        return m / (m.max() + 1e-3)
    flat = m.flatten(1)
    flat = flat - flat.min(1, keepdim=True).values
    flat = flat / (flat.max(1, keepdim=True).values + 1e-3)
    return flat.view_as(m)


class SAMD(nn.Module):
    """Spike activation map distillation.

    Parameters
    ----------
    temperature : float
        ``T_s`` > 0 of the spatial softmax (default 2.0).
    mode : {"paper", "code"}
        ``"paper"`` scales by ``T_s^2`` (default); ``"code"`` does not and adds 1e-10.
    normalize : {"minmax_batch", "minmax_sample", "none"}
        Map normalisation before the softmax (default ``"minmax_batch"``, as the code).
    """

    def __init__(self, temperature: float = 2.0, mode: str = "paper",
                 normalize: str = "minmax_batch"):
        super().__init__()
        self.temperature = check_positive("SAMD", "temperature", temperature)
        self.mode = check_choice("SAMD", "mode", mode, SAMD_MODES)
        self.normalize = check_choice("SAMD", "normalize", normalize, NORMALIZE_MODES)

    def forward(self, student_features, teacher_map) -> torch.Tensor:
        """SAMD of feature spikes ``[T, B, C, H, W]`` against a teacher map ``[B, H', W']``."""
        f = to_tensor("SAMD", "student_features", student_features)
        if f.ndim != 5 or min(f.shape) < 1:
            raise ValueError(
                f"SAMD: student_features must have shape [T, B, C, H, W], not {list(f.shape)}"
            )
        if not bool(torch.isfinite(f).all()):
            raise ValueError("SAMD: student_features must be finite, but it contains NaN or inf")
        mt = to_tensor("SAMD", "teacher_map", teacher_map, like=f).detach()
        if mt.ndim != 3 or min(mt.shape) < 1:
            raise ValueError(f"SAMD: teacher_map must have shape [B, H, W], not {list(mt.shape)}")
        if mt.shape[0] != f.shape[1]:
            raise ValueError(
                f"SAMD: teacher_map has batch size {mt.shape[0]} but student_features has "
                f"{f.shape[1]}"
            )
        if not bool(torch.isfinite(mt).all()):
            raise ValueError("SAMD: teacher_map must be finite, but it contains NaN or inf")
        ms = spike_activation_map(f)
        if mt.shape[1:] != ms.shape[1:]:
            mt = F.interpolate(mt.unsqueeze(1), size=tuple(ms.shape[1:]), mode="bilinear",
                               align_corners=False).squeeze(1)
        tau = self.temperature
        log_ps = F.log_softmax(normalize_map(ms, self.normalize).flatten(1) / tau, -1)
        log_pt = F.log_softmax(normalize_map(mt, self.normalize).flatten(1) / tau, -1)
        if self.mode == "code":
            ps, pt = log_ps.exp() + 1e-10, log_pt.exp() + 1e-10
            return (pt * (pt.log() - ps.log())).sum(-1).mean()
        return tau**2 * (log_pt.exp() * (log_pt - log_ps)).sum(-1).mean()
