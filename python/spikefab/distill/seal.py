"""SeAl-KD: TET cross-entropy + error-aware logit alignment (ELA) + self-temporal alignment (STA).

As in the public code (github KaiSUN1/SeAl @b30ead6, ``model/layer.py``), not the seed's
pseudo-code (research/kd_methods.md §3)::

    L     = (1/T) sum_t CE(z_t, y) + alpha * L_ELA + beta * L_STA     alpha 0.6, beta 0.15, tau 3
    ELA   at each step t, for each sample predicted wrongly (y_hat = argmax z_t != y):
            s'[y_hat] := s[y]                                  (student: wrong logit := true logit)
            t'[y] = t'[y_hat] := min(t[y], t[y_hat])           (teacher: both to their minimum)
          L_ELA = (1/T) sum_t tau^2 * mean_b KL(softmax(t'_b/tau) || softmax(s'_b/tau))
    STA   conf_{t,b} = (ln C - H(softmax z_{t,b})) / ln C ;  sim_{i,j,b} = cos(z_{i,b}, z_{j,b})
          w_{i,j,b} = softmax_{j != i}(conf_{j,b} * sim_{i,j,b}) ;  z~_i = sum_j w_ij z_j (detached)
          L_STA = tau^2 * mean_{i,b} KL(softmax(z~_{i,b}/tau) || softmax(z_{i,b}/tau));  0 if T = 1
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .common import (
    check_logits,
    check_nonnegative,
    check_positive,
    check_targets,
    check_teacher_logits,
    entropy_rows,
    kd_rows,
    task_ce,
)

__all__ = ["SeAlKD", "ela_align", "sta_targets"]


def ela_align(student: torch.Tensor, teacher: torch.Tensor, targets: torch.Tensor):
    """Error-aware logit alignment of one timestep (``[B, C]`` each, ``targets [B]``).

    Returns ``(s', t')``: new tensors (the inputs are not changed). Only wrongly predicted
    rows differ: the student's predicted wrong-class logit takes the value (and the
    gradient path) of its true-class logit, and the teacher's two logits both become their
    minimum. ``t'`` is detached.
    """
    s_new = student.clone()
    t_new = teacher.detach().clone()
    pred = student.detach().argmax(-1)
    wrong = (pred != targets).nonzero(as_tuple=True)[0]
    if wrong.numel():
        y_w, p_w = targets[wrong], pred[wrong]
        s_new[wrong, p_w] = student[wrong, y_w]
        m = torch.minimum(t_new[wrong, y_w], t_new[wrong, p_w])
        t_new[wrong, y_w] = m
        t_new[wrong, p_w] = m
    return s_new, t_new


def sta_targets(z: torch.Tensor):
    """STA's detached targets ``z~ [T, B, C]`` and weights ``w [T, T, B]`` (``w[i, i] = 0``).

    ``conf`` uses the source step ``j``'s normalised negative entropy at temperature 1;
    weights are a softmax over ``j != i`` of ``conf_j * cos(z_i, z_j)`` per sample.
    """
    z = z.detach()
    steps, _, n_classes = z.shape
    conf = (math.log(n_classes) - entropy_rows(z)) / math.log(n_classes)  # [T, B]
    zn = F.normalize(z, dim=-1, eps=1e-8)
    sim = torch.einsum("ibc,jbc->ijb", zn, zn)  # [T, T, B]
    scores = conf.unsqueeze(0) * sim  # conf of the source j
    eye = torch.eye(steps, dtype=torch.bool, device=z.device).unsqueeze(-1)
    w = torch.softmax(scores.masked_fill(eye, float("-inf")), dim=1)
    target = torch.einsum("ijb,jbc->ibc", w, z)
    return target, w


class SeAlKD(nn.Module):
    """SeAl-KD loss (public code's method).

    Parameters
    ----------
    temperature : float
        ``tau`` > 0 of both KD terms (default 3.0).
    alpha : float
        Weight >= 0 of ELA (default 0.6, the README's value; the code's config default is 0).
    beta : float
        Weight >= 0 of STA (default 0.15).
    """

    def __init__(self, temperature: float = 3.0, alpha: float = 0.6, beta: float = 0.15):
        super().__init__()
        self.temperature = check_positive("SeAlKD", "temperature", temperature)
        self.alpha = check_nonnegative("SeAlKD", "alpha", alpha)
        self.beta = check_nonnegative("SeAlKD", "beta", beta)

    def compute(self, student_logits, teacher_logits, targets) -> dict:
        """``{'total_loss', 'task_loss', 'ela_loss', 'sta_loss'}`` as tensors.

        Parameters
        ----------
        student_logits : torch.Tensor
            ``[T, B, C]`` per-step logits.
        teacher_logits : torch.Tensor
            ``[B, C]`` ANN teacher logits (detached here).
        targets : torch.Tensor
            ``[B]`` integer labels (ELA needs the true class).
        """
        z = check_logits("SeAlKD", "student_logits", student_logits)
        zt = check_teacher_logits("SeAlKD", "teacher_logits", teacher_logits, z,
                                  allow_steps=False)
        y = check_targets("SeAlKD", "targets", targets, z.shape[1], z.shape[2], like=z)
        if y.ndim != 1:
            raise ValueError("SeAlKD: targets must be integer labels [B] (ELA needs the true "
                             "class), not soft labels")
        tau = self.temperature
        task = task_ce(z, y)
        steps, batch, n_classes = z.shape
        # every step's rows at once (ela_align is row-wise): no per-step Python loop
        s_al, t_al = ela_align(z.reshape(steps * batch, n_classes),
                               zt.expand(steps, batch, n_classes).reshape(-1, n_classes),
                               y.repeat(steps))
        ela = kd_rows(s_al, t_al, tau).view(steps, batch).mean(1).mean(0)
        if z.shape[0] > 1:
            target, _ = sta_targets(z)
            sta = kd_rows(z, target, tau).mean()
        else:
            sta = z.new_zeros(())
        total = task + self.alpha * ela + self.beta * sta
        return {"total_loss": total, "task_loss": task, "ela_loss": ela, "sta_loss": sta}

    def forward(self, student_logits, teacher_logits, targets) -> torch.Tensor:
        """``total_loss`` of :meth:`compute`."""
        return self.compute(student_logits, teacher_logits, targets)["total_loss"]
