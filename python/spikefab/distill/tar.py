"""Tail-aware regularisation (STARS' TAR), three readings (research/kd_methods.md §6.2).

STARS has no public code; the abstract says TAR "regularizes threshold-relevant tail
probabilities through soft exceedance over teacher-derived thresholds". With the soft
exceedance ``sigma((a - theta) / kappa)``:

* **A** (default; data-free, teacher only) for each teacher BN layer and channel ``c``:
  ``theta_c = mu_c + k sigma_c`` from the BN running statistics, ``k = Phi^-1(q)``;
  ``e_c = mean_{b,...} sigmoid((x_c - theta_c) / (kappa sigma_c))`` of the BN input;
  ``L = mean_c (e_c - (1 - q))^2``: the synthetic batch's tail mass matches the tail the
  BN statistics imply. (``kappa`` is in units of the channel's running std.)
* **B** (teacher-student agreement on corresponding activations ``[B, D]``):
  ``theta_c = quantile_q(a^T_c)`` (detached); ``L = mean_c (e^T_c - e^S_c)^2``.
* **C** (seed 004, literal): ``theta = quantile_q(teacher logits)``,
  ``L = -log(mean sigmoid(s - theta) + 1e-8)``. Its gradient in ``s`` is negative everywhere:
  it pushes every student output up without bound. Kept only to document why it is not used.
"""

from __future__ import annotations

from statistics import NormalDist

import torch

__all__ = ["tar_a", "tar_b", "tar_c"]


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(0, 1).reshape(x.shape[1], -1)  # [C, everything else]


def tar_a(records, q: float = 0.95, kappa: float = 0.1) -> torch.Tensor:
    """TAR-A over ``(bn_module, bn_input)`` records (``deepinversion.BNRecorder``)."""
    k = NormalDist().inv_cdf(q)
    terms = []
    for bn, x in records:
        sd = torch.sqrt(bn.running_var + bn.eps)
        theta = bn.running_mean + k * sd
        xc = _channels_last(x)
        e = torch.sigmoid((xc - theta[:, None]) / (kappa * sd[:, None])).mean(1)
        terms.append((e - (1.0 - q)).pow(2))
    return torch.cat(terms).mean()


def tar_b(teacher_act: torch.Tensor, student_act: torch.Tensor, q: float = 0.95,
          kappa: float = 0.1) -> torch.Tensor:
    """TAR-B for corresponding activations ``[B, D]`` (or ``[B, D, ...]``)."""
    if teacher_act.shape != student_act.shape:
        raise ValueError(
            f"tar_b: teacher_act and student_act must have the same shape, not "
            f"{list(teacher_act.shape)} and {list(student_act.shape)}"
        )
    at = _channels_last(teacher_act.detach())
    us = _channels_last(student_act)
    theta = torch.quantile(at, q, dim=1, keepdim=True)
    et = torch.sigmoid((at - theta) / kappa).mean(1)
    es = torch.sigmoid((us - theta) / kappa).mean(1)
    return (et - es).pow(2).mean()


def tar_c(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
          q: float = 0.95) -> torch.Tensor:
    """The seed's tail loss (monotone, no finite optimum)."""
    theta = torch.quantile(teacher_logits.detach().flatten(), q)
    return -torch.log(torch.sigmoid(student_logits - theta).mean() + 1e-8)

