"""TSSD: temporal-spatial self-distillation (Zuo et al., arXiv 2406.07862; no public code).

Specification: research/kd_methods.md §5 ([inferred] parts marked there). One pass of
``T_t > T_s`` steps from a reset state gives the final head's logits ``z [T_t, B, C]`` and an
auxiliary (weak) head's logits ``a [T_t, B, C]`` on an intermediate layer's spikes::

    O_s = mean_{t < T_s} z_t      the deployed student = PREFIX of the run (an SNN is causal)
    O_t = mean_{t < T_t} z_t      the implicit teacher (detached in L_tsd)
    O_w = mean_{t < T_s} a_t      the weak classifier at the deployment horizon
    L_task = CE(O_s, y) + CE(O_t, y) + CE(O_w, y)            (each can be switched off)
    L_tsd  = tau^2 KL(softmax(O_t/tau).detach() || softmax(O_s/tau))
    L_ssd  = tau^2 KL(softmax(O_s/tau).detach() || softmax(O_w/tau))
    L      = L_task + alpha * L_tsd + beta * L_ssd            alpha = beta = 1, tau = 3

``divergence="mse"`` replaces both KLs by the mean squared difference of the logits.
Inference runs the plain model at ``T_s``; the auxiliary head is training-only.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from .common import (
    check_choice,
    check_logits,
    check_nonnegative,
    check_positive,
    check_steps_count,
    check_targets,
    kd_rows,
)

__all__ = ["TSSDLoss", "TSSD", "AuxHead", "run_for"]

TASK_HEADS = ("student", "teacher", "weak")


@contextlib.contextmanager
def run_for(model: nn.Module, steps: int):
    """Temporarily set ``model.timesteps`` (SpikingMLP, SpikingCNN, QSpikingMLP) to ``steps``."""
    if not hasattr(model, "timesteps"):
        raise TypeError(f"run_for model must have a 'timesteps' attribute, not "
                        f"{type(model).__name__}")
    old = model.timesteps
    model.timesteps = steps
    try:
        yield model
    finally:
        model.timesteps = old


class AuxHead(nn.Module):
    """Weak classifier on hidden spikes ``[T, B, n]`` (linear) or ``[T, B, C, H, W]``
    (global average pool, then linear); returns per-step logits ``[T, B, n_classes]``."""

    def __init__(self, n_features: int, n_classes: int):
        super().__init__()
        self.fc = nn.Linear(n_features, n_classes)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if h.ndim == 5:
            h = h.mean(dim=(3, 4))
        return self.fc(h)


class TSSDLoss(nn.Module):
    """The TSSD objective on the logits of one extended run.

    Parameters
    ----------
    T_student : int
        Deployment horizon ``T_s`` (the prefix that is the student).
    temperature : float
        ``tau`` > 0 (default 3.0).
    alpha, beta : float
        Weights >= 0 of ``L_tsd`` and ``L_ssd`` (default 1.0 each).
    divergence : {"kl", "mse"}
    task_heads : tuple of str
        Which of ``"student"``, ``"teacher"``, ``"weak"`` get a CE term (default all).
    """

    def __init__(self, T_student: int, temperature: float = 3.0, alpha: float = 1.0,
                 beta: float = 1.0, *, divergence: str = "kl",
                 task_heads: tuple[str, ...] = TASK_HEADS):
        super().__init__()
        self.T_student = check_steps_count("TSSDLoss", "T_student", T_student)
        self.temperature = check_positive("TSSDLoss", "temperature", temperature)
        self.alpha = check_nonnegative("TSSDLoss", "alpha", alpha)
        self.beta = check_nonnegative("TSSDLoss", "beta", beta)
        self.divergence = check_choice("TSSDLoss", "divergence", divergence, ("kl", "mse"))
        for head in task_heads:
            check_choice("TSSDLoss", "task_heads", head, TASK_HEADS)
        self.task_heads = tuple(task_heads)

    def _div(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        teacher = teacher.detach()
        if self.divergence == "mse":
            return F.mse_loss(student, teacher)
        return kd_rows(student, teacher, self.temperature).mean()

    def compute(self, logits, targets, aux_logits=None) -> dict:
        """``{'total_loss', 'task_loss', 'tsd_loss', 'ssd_loss'}``.

        Parameters
        ----------
        logits : torch.Tensor
            ``[T_t, B, C]`` final-head logits of the extended run (``T_t >= T_student``).
        targets : torch.Tensor
            ``[B]`` labels or ``[B, C]`` soft labels.
        aux_logits : torch.Tensor, optional
            ``[T_t, B, C]`` (or at least ``T_student`` steps) of the weak head.
        """
        z = check_logits("TSSDLoss", "logits", logits)
        if z.shape[0] < self.T_student:
            raise ValueError(
                f"TSSDLoss: logits has {z.shape[0]} timesteps, fewer than T_student "
                f"({self.T_student})"
            )
        y = check_targets("TSSDLoss", "targets", targets, z.shape[1], z.shape[2], like=z)
        o_s, o_t = z[:self.T_student].mean(0), z.mean(0)
        task = F.cross_entropy(o_s, y) if "student" in self.task_heads else z.new_zeros(())
        if "teacher" in self.task_heads:
            task = task + F.cross_entropy(o_t, y)
        tsd = self._div(o_s, o_t)
        ssd = z.new_zeros(())
        if aux_logits is not None:
            a = check_logits("TSSDLoss", "aux_logits", aux_logits)
            if a.shape[0] < self.T_student or a.shape[1:] != z.shape[1:]:
                raise ValueError(
                    f"TSSDLoss: aux_logits must have shape [>= {self.T_student}, "
                    f"{z.shape[1]}, {z.shape[2]}], not {list(a.shape)}"
                )
            o_w = a[:self.T_student].mean(0)
            if "weak" in self.task_heads:
                task = task + F.cross_entropy(o_w, y)
            ssd = self._div(o_w, o_s)
        total = task + self.alpha * tsd + self.beta * ssd
        return {"total_loss": total, "task_loss": task, "tsd_loss": tsd, "ssd_loss": ssd}

    def forward(self, logits, targets, aux_logits=None) -> torch.Tensor:
        """``total_loss`` of :meth:`compute`."""
        return self.compute(logits, targets, aux_logits)["total_loss"]


class TSSD(nn.Module):
    """A student plus its training-only auxiliary head, trained with :class:`TSSDLoss`.

    Parameters
    ----------
    model : nn.Module
        Student with a ``timesteps`` attribute and ``forward(x, return_hidden=True)``
        returning ``(logits [T, B, C], [hidden spikes per layer])``.
    n_features : int
        Width of ``hidden[layer]`` (channels for conv features).
    n_classes : int
    T_student, T_teacher : int
        Deployment and extended horizons (``T_teacher >= T_student``).
    layer : int
        Index of the hidden layer that feeds the auxiliary head (default 0).
    **loss_kwargs
        Passed to :class:`TSSDLoss` (``temperature``, ``alpha``, ``beta``, ...).
    """

    def __init__(self, model: nn.Module, n_features: int, n_classes: int, *, T_student: int,
                 T_teacher: int, layer: int = 0, **loss_kwargs):
        super().__init__()
        t_s = check_steps_count("TSSD", "T_student", T_student)
        t_t = check_steps_count("TSSD", "T_teacher", T_teacher)
        if t_t < t_s:
            raise ValueError(f"TSSD.T_teacher must be >= T_student ({t_s}), not {T_teacher!r}")
        self.model = model
        self.aux = AuxHead(n_features, n_classes)
        self.T_teacher = t_t
        self.layer = layer
        self.loss = TSSDLoss(t_s, **loss_kwargs)

    def compute(self, x: torch.Tensor, targets) -> dict:
        """Run ``model`` for ``T_teacher`` steps on static ``x`` and return the loss dict."""
        with run_for(self.model, self.T_teacher):
            logits, hidden = self.model(x, return_hidden=True)
        return self.loss.compute(logits, targets, self.aux(hidden[self.layer]))

    def forward(self, x: torch.Tensor, targets) -> torch.Tensor:
        """``total_loss`` of :meth:`compute`."""
        return self.compute(x, targets)["total_loss"]
