"""Shared pieces of every distillation loss: argument checks, soft targets, KL and entropy.

Conventions (research/kd_methods.md §1):

* student logits are per-timestep ``[T, B, C]``; the inference output is their time mean;
* an ANN teacher gives ``[B, C]``; the teacher is always detached here, so it never gets a
  gradient whatever the caller did;
* ``softmax`` runs over the last (class) axis only;
* ``kd_rows(s, t, tau)`` is ``tau**2 * KL(softmax(t/tau) || softmax(s/tau))`` per row (the
  Hinton convention, forward KL from the teacher).

Every check raises a one-line ``ValueError``/``TypeError`` that names the owner, the argument,
the value and what is allowed, e.g. ``"HintonKD.temperature must be a positive number, not 0"``
for constructor fields and ``"HintonKD: student_logits must have shape [T, B, C], not [32, 10]"``
for call arguments.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "check_positive",
    "check_fraction",
    "check_nonnegative",
    "check_choice",
    "check_steps_count",
    "to_tensor",
    "check_logits",
    "check_teacher_logits",
    "check_targets",
    "task_ce",
    "kd_rows",
    "kd_rows_probs",
    "entropy_rows",
]


def _is_number(value) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def check_positive(owner: str, name: str, value) -> float:
    """A finite number > 0 (temperatures, scales); returned as float."""
    if not _is_number(value) or not value > 0:
        raise ValueError(f"{owner}.{name} must be a positive number, not {value!r}")
    return float(value)


def check_fraction(owner: str, name: str, value) -> float:
    """A number in [0, 1] (mixing weights such as ``alpha``); returned as float."""
    if not _is_number(value) or not 0 <= value <= 1:
        raise ValueError(f"{owner}.{name} must be a number in [0, 1], not {value!r}")
    return float(value)


def check_nonnegative(owner: str, name: str, value) -> float:
    """A finite number >= 0 (loss weights); returned as float."""
    if not _is_number(value) or not value >= 0:
        raise ValueError(f"{owner}.{name} must be a number >= 0, not {value!r}")
    return float(value)


def check_choice(owner: str, name: str, value, choices) -> str:
    """One of ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{owner}.{name} must be one of {allowed}, not {value!r}")
    return value


def check_steps_count(owner: str, name: str, value) -> int:
    """A positive integer number of timesteps."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}.{name} must be an integer >= 1, not {value!r}")
    return int(value)


def to_tensor(owner: str, name: str, x, *, like: torch.Tensor | None = None) -> torch.Tensor:
    """A torch tensor from a tensor or a NumPy array (NumPy floats become float64)."""
    if isinstance(x, torch.Tensor):
        t = x
    elif isinstance(x, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(x))
        if t.is_floating_point():
            t = t.to(torch.float64)
    else:
        raise TypeError(
            f"{owner}: {name} must be a torch.Tensor or numpy.ndarray, not {type(x).__name__}"
        )
    if like is not None and t.is_floating_point():
        t = t.to(dtype=like.dtype, device=like.device)
    return t


def _shape(t: torch.Tensor) -> list[int]:
    return list(t.shape)


def check_logits(owner: str, name: str, z, *, ndim: int = 3) -> torch.Tensor:
    """Floating logits of ``ndim`` dims (3: ``[T, B, C]``, 2: ``[B, C]``), all finite."""
    z = to_tensor(owner, name, z)
    layout = {3: "[T, B, C]", 2: "[B, C]"}[ndim]
    if z.ndim != ndim or min(z.shape, default=0) < 1:
        raise ValueError(f"{owner}: {name} must have shape {layout}, not {_shape(z)}")
    if not z.is_floating_point():
        raise TypeError(f"{owner}: {name} must be floating point, not {z.dtype}")
    if not bool(torch.isfinite(z).all()):
        raise ValueError(f"{owner}: {name} must be finite, but it contains NaN or inf")
    return z


def check_teacher_logits(owner: str, name: str, zt, student: torch.Tensor, *,
                         allow_steps: bool = True) -> torch.Tensor:
    """Teacher logits ``[B, C]`` (or ``[T', B, C]`` when ``allow_steps``) matching ``student``.

    The result is detached and has the student's dtype and device. A ``[T', B, C]`` teacher
    is returned as is (the caller decides between its time mean and per-step alignment).
    """
    zt = to_tensor(owner, name, zt, like=student)
    ok = (2, 3) if allow_steps else (2,)
    if zt.ndim not in ok or min(zt.shape, default=0) < 1:
        layout = "[B, C] or [T, B, C]" if allow_steps else "[B, C]"
        raise ValueError(f"{owner}: {name} must have shape {layout}, not {_shape(zt)}")
    if not zt.is_floating_point():
        raise TypeError(f"{owner}: {name} must be floating point, not {zt.dtype}")
    if zt.shape[-1] != student.shape[-1]:
        raise ValueError(
            f"{owner}: {name} has {zt.shape[-1]} classes but student_logits has "
            f"{student.shape[-1]}"
        )
    if zt.shape[-2] != student.shape[-2]:
        raise ValueError(
            f"{owner}: {name} has batch size {zt.shape[-2]} but student_logits has "
            f"{student.shape[-2]}"
        )
    if not bool(torch.isfinite(zt).all()):
        raise ValueError(f"{owner}: {name} must be finite, but it contains NaN or inf")
    return zt.detach()


def check_targets(owner: str, name: str, y, batch: int, n_classes: int,
                  *, like: torch.Tensor) -> torch.Tensor:
    """Integer labels ``[B]`` in ``[0, C)`` (int64) or soft labels ``[B, C]`` (rows >= 0)."""
    y = to_tensor(owner, name, y)
    if y.ndim == 1 and not y.is_floating_point() and y.dtype != torch.bool:
        if y.shape[0] != batch:
            raise ValueError(
                f"{owner}: {name} has batch size {y.shape[0]} but student_logits has {batch}"
            )
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_classes):
            raise ValueError(
                f"{owner}: {name} must hold class indices in [0, {n_classes}), "
                f"not values in [{int(y.min())}, {int(y.max())}]"
            )
        return y.to(device=like.device, dtype=torch.long)
    if y.ndim == 2 and y.is_floating_point():
        if list(y.shape) != [batch, n_classes]:
            raise ValueError(
                f"{owner}: {name} as soft labels must have shape [{batch}, {n_classes}], "
                f"not {_shape(y)}"
            )
        if not bool(torch.isfinite(y).all()) or bool((y < 0).any()):
            raise ValueError(f"{owner}: {name} soft labels must be finite and >= 0")
        return y.to(dtype=like.dtype, device=like.device)
    raise ValueError(
        f"{owner}: {name} must be integer labels [B] or soft labels [B, C], "
        f"not {y.dtype} {_shape(y)}"
    )


def task_ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits [..., C]`` against labels broadcast over leading axes.

    ``targets`` is ``[B]`` (int) or ``[B, C]`` (soft); ``logits`` is ``[B, C]`` or
    ``[T, B, C]`` (then every step is scored and the mean is over ``T*B`` rows: TET).
    """
    c = logits.shape[-1]
    if logits.ndim == 3:
        steps = logits.shape[0]
        rep = targets.unsqueeze(0).expand(steps, *targets.shape)
        return F.cross_entropy(logits.reshape(-1, c), rep.reshape(-1, *targets.shape[1:]))
    return F.cross_entropy(logits, targets)


def kd_rows(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """``tau**2 * KL(softmax(teacher/tau) || softmax(student/tau))`` per row (last axis).

    ``teacher`` broadcasts against ``student`` and is used as given (callers detach it).
    """
    log_p = F.log_softmax(student / temperature, dim=-1)
    log_q = F.log_softmax(teacher / temperature, dim=-1)
    return temperature**2 * (log_q.exp() * (log_q - log_p)).sum(-1)


def kd_rows_probs(student: torch.Tensor, target_probs: torch.Tensor,
                  temperature: float) -> torch.Tensor:
    """Like :func:`kd_rows` with the teacher already a distribution ``[..., C]``."""
    log_p = F.log_softmax(student / temperature, dim=-1)
    return temperature**2 * (torch.xlogy(target_probs, target_probs) - target_probs * log_p).sum(-1)


def entropy_rows(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Shannon entropy (nats) of ``softmax(logits/tau)`` per row."""
    log_p = F.log_softmax(logits / temperature, dim=-1)
    return -(log_p.exp() * log_p).sum(-1)
