"""Per-timestep (TSER-style) distillation: ``TemporalDistillationLoss`` and ``SelfDistiller``.

The API is the seed library's (sc-neurocore ``distillation/distill.py``), its bugs are not
(research/kd_methods.md §2): the softmax runs over the class axis only, integer or soft
targets both work, every timestep is matched separately, and torch inputs give
differentiable tensors. With ``p_{t,b} = softmax(z_s[t,b]/tau)`` and
``q_b = softmax(z_t[b]/tau)`` (teacher detached)::

    L_distill = tau^2 * mean_{t,b} KL(q_b || p_{t,b})
    L_task    = mean_{t,b} CE(z_s[t,b], y_b)        (task="per_step", TSER/TET)
              | mean_b CE(mean_t z_s[t,b], y_b)     (task="mean", the seed's choice)
    L_entropy = -beta * mean_{t,b} H(p_{t,b})       (minimising it RAISES the entropy)
    L_total   = alpha * L_distill + (1 - alpha) * L_task + L_entropy

Defaults are the seed's: ``tau=3``, ``alpha=0.5``, ``beta (entropy_weight)=0.1``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .common import (
    check_choice,
    check_fraction,
    check_logits,
    check_nonnegative,
    check_positive,
    check_steps_count,
    check_targets,
    check_teacher_logits,
    entropy_rows,
    kd_rows,
    kd_rows_probs,
    task_ce,
    to_tensor,
)

__all__ = ["TemporalDistillationLoss", "SelfDistiller"]

TASK_MODES = ("per_step", "mean")
TEACHER_TIME = ("mean", "align")


def _student(owner: str, z) -> torch.Tensor:
    z = to_tensor(owner, "student_logits", z)
    if z.ndim == 2:  # [B, C] is one timestep (spec §2.2)
        z = z.unsqueeze(0)
    if z.ndim != 3:
        raise ValueError(
            f"{owner}: student_logits must have shape [T, B, C] or [B, C], not {list(z.shape)}"
        )
    return check_logits(owner, "student_logits", z)


class TemporalDistillationLoss(nn.Module):
    """TSER-style temporal distillation: per-timestep KL + CE, with an entropy term.

    Parameters
    ----------
    temperature : float
        ``tau`` > 0 of the soft distributions (default 3.0).
    alpha : float
        Weight in [0, 1] of the distillation term; the task term gets ``1 - alpha``
        (default 0.5). The entropy term is not scaled by ``alpha`` (as in the seed).
    entropy_weight : float
        ``beta`` >= 0 (default 0.1); ``L_entropy = -beta * H`` at temperature ``tau``.
    task : {"per_step", "mean"}
        CE on every timestep (TSER/TET, default) or on the time-mean logits (the seed).
    teacher_time : {"mean", "align"}
        For an SNN teacher ``[T', B, C]``: match its time mean (default) or align step by
        step (needs ``T' == T``). An ANN teacher ``[B, C]`` is used at every step.
    """

    def __init__(self, temperature: float = 3.0, alpha: float = 0.5,
                 entropy_weight: float = 0.1, *, task: str = "per_step",
                 teacher_time: str = "mean"):
        super().__init__()
        name = type(self).__name__
        self.temperature = check_positive(name, "temperature", temperature)
        self.alpha = check_fraction(name, "alpha", alpha)
        self.entropy_weight = check_nonnegative(name, "entropy_weight", entropy_weight)
        self.task = check_choice(name, "task", task, TASK_MODES)
        self.teacher_time = check_choice(name, "teacher_time", teacher_time, TEACHER_TIME)

    def _terms(self, student_logits, teacher_logits, targets) -> dict:
        owner = type(self).__name__
        z = _student(owner, student_logits)
        steps, batch, n_classes = z.shape
        zt = check_teacher_logits(owner, "teacher_logits", teacher_logits, z)
        if zt.ndim == 3:
            if self.teacher_time == "mean":
                zt = zt.mean(0)
            elif zt.shape[0] != steps:
                raise ValueError(
                    f"{owner}: teacher_logits has {zt.shape[0]} timesteps but student_logits "
                    f"has {steps}; teacher_time='align' needs equal counts"
                )
        tau = self.temperature
        distill = kd_rows(z, zt, tau).mean()
        entropy = -self.entropy_weight * entropy_rows(z, tau).mean()
        if targets is None:
            task = z.new_zeros(())
        else:
            y = check_targets(owner, "targets", targets, batch, n_classes, like=z)
            task = task_ce(z if self.task == "per_step" else z.mean(0), y)
        total = self.alpha * distill + (1.0 - self.alpha) * task + entropy
        return {"total_loss": total, "distill_loss": distill, "task_loss": task,
                "entropy_loss": entropy}

    def compute(self, student_logits, teacher_logits, targets=None) -> dict:
        """The four losses as a dict.

        Parameters
        ----------
        student_logits : torch.Tensor or numpy.ndarray
            ``[T, B, C]`` per-timestep logits (``[B, C]`` counts as ``T = 1``).
        teacher_logits : torch.Tensor or numpy.ndarray
            ``[B, C]`` (ANN) or ``[T', B, C]`` (SNN); detached.
        targets : optional
            ``[B]`` integer labels or ``[B, C]`` soft labels; None gives ``task_loss = 0``.

        Returns
        -------
        dict
            ``total_loss``, ``distill_loss``, ``task_loss``, ``entropy_loss``: Python floats
            when ``student_logits`` is a NumPy array, tensors (autograd) otherwise.
        """
        numpy_in = isinstance(student_logits, np.ndarray)
        terms = self._terms(student_logits, teacher_logits, targets)
        if numpy_in:
            return {k: float(v.detach()) for k, v in terms.items()}
        return terms

    def forward(self, student_logits, teacher_logits, targets=None) -> torch.Tensor:
        """``total_loss`` as a tensor (see :meth:`compute`)."""
        return self._terms(student_logits, teacher_logits, targets)["total_loss"]


class SelfDistiller:
    """Soft targets from a longer run of the same SNN (the temporal half of TSSD, spec §2.2).

    Parameters
    ----------
    T_teacher : int
        Timesteps of the teacher pass (default 32).
    T_student : int
        Timesteps the caller runs the student for (default 8; ``<= T_teacher``).
    temperature : float
        ``tau`` > 0 of the targets (default 3.0).
    """

    def __init__(self, T_teacher: int = 32, T_student: int = 8, temperature: float = 3.0):
        self.T_teacher = check_steps_count("SelfDistiller", "T_teacher", T_teacher)
        self.T_student = check_steps_count("SelfDistiller", "T_student", T_student)
        if self.T_student > self.T_teacher:
            raise ValueError(
                f"SelfDistiller.T_student must be <= T_teacher ({self.T_teacher}), "
                f"not {T_student!r}"
            )
        self.temperature = check_positive("SelfDistiller", "temperature", temperature)

    def generate_targets(self, run_fn, inputs):
        """``softmax(mean_t run_fn(inputs, T_teacher) / tau)`` over classes, detached.

        ``run_fn(inputs, T)`` is called exactly once, under ``torch.no_grad``, and returns
        ``[T, B, C]`` or ``[B, C]`` logits (tensor or NumPy; the result has the same kind).
        """
        with torch.no_grad():
            out = run_fn(inputs, self.T_teacher)
        numpy_out = isinstance(out, np.ndarray)
        z = to_tensor("SelfDistiller", "run_fn output", out)
        if z.ndim == 3:
            z = z.mean(0)
        z = check_logits("SelfDistiller", "run_fn output", z, ndim=2)
        probs = F.softmax(z / self.temperature, dim=-1).detach()
        return probs.numpy() if numpy_out else probs

    def distill_loss(self, student_logits, targets) -> torch.Tensor:
        """``tau^2 * mean_{t,b} KL(targets_b || softmax(z_s[t,b]/tau))`` for the student run."""
        z = _student("SelfDistiller", student_logits)
        q = to_tensor("SelfDistiller", "targets", targets, like=z).detach()
        if list(q.shape) != list(z.shape[1:]):
            raise ValueError(
                f"SelfDistiller: targets must have shape {list(z.shape[1:])}, "
                f"not {list(q.shape)}"
            )
        return kd_rows_probs(z, q, self.temperature).mean()
