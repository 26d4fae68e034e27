"""Train a student with a distillation recipe against cached teacher outputs.

``spikefab.train.train_model`` passes only ``model(x)`` logits to its loss; distillation
also needs the batch's teacher logits (and CAMs), hidden features (CKDSNN), an extended run
(TSSD), extra training-only parameters (TSSD's auxiliary head) and a KD warm-up. This loop
adds exactly that and keeps the rest the same: Adam, cosine-annealed lr, fixed-seed batch
order, per-epoch mean loss. The teacher runs once over the training set (``teacher_outputs``),
in eval mode and under ``no_grad``; its outputs are indexed per batch. Launched by
``torchrun``, the step runs in ``DistributedDataParallel`` as in ``train.train_model``
(``spikefab.train.dist``): each rank takes its share of every batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..train.dist import DistContext, LossStep, all_sum, init_distributed, share, wrap
from ..train.heap import keep_freed_memory
from ..train.optim import adam
from .common import check_fraction
from .recipes import Recipe

__all__ = ["TeacherOutputs", "teacher_outputs", "train_student", "StudentHistory"]


@dataclass
class TeacherOutputs:
    """Teacher logits ``[N, C]`` and, when asked for, CAMs ``[N, H, W]`` of a dataset."""

    logits: torch.Tensor
    maps: torch.Tensor | None = None


def teacher_outputs(teacher: nn.Module, x: torch.Tensor, *, cam: bool = False,
                    batch_size: int = 512) -> TeacherOutputs:
    """Run the (eval-mode, no-grad) teacher over ``x [N, ...]`` once."""
    teacher.eval()
    logits, maps = [], []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size]
            if cam:
                lg, m = teacher.cam(xb)
                maps.append(m)
            else:
                lg = teacher(xb)
            logits.append(lg)
    return TeacherOutputs(torch.cat(logits), torch.cat(maps) if cam else None)


@dataclass
class StudentHistory:
    """Per-epoch mean ``loss`` and the wall ``seconds`` of the run."""

    loss: list = field(default_factory=list)
    seconds: float = 0.0


def train_student(student: nn.Module, recipe: Recipe,
                  x: torch.Tensor | Callable[[int], torch.Tensor], y: torch.Tensor, *,
                  teacher: TeacherOutputs | Callable[[int], TeacherOutputs] | None = None,
                  epochs: int = 20,
                  batch_size: int = 64, lr: float = 3e-3, weight_decay: float = 0.0,
                  warmup: float = 0.0, seed: int = 0,
                  log: Callable[[str], None] | None = None,
                  on_epoch: Callable[[int], None] | None = None,
                  ctx: DistContext | None = None) -> StudentHistory:
    """Train ``student`` in place with ``recipe``.

    Parameters
    ----------
    x, y : torch.Tensor
        Static inputs ``[N, ...]`` and int64 labels ``[N]``; ``x`` may also be a function
        ``epoch -> [N, ...]`` for inputs that change every epoch (augmentation).
    teacher : TeacherOutputs or callable, optional
        Required when ``recipe.needs_teacher``; rows aligned with ``x``. A function
        ``epoch -> TeacherOutputs`` gives the teacher's outputs on that epoch's inputs, so
        an augmented student and its teacher see the same view (consistent KD).
    warmup : float
        Fraction in [0, 1] of the run over which the KD weights ramp linearly from 0 to
        their full value (0: no warm-up).
    on_epoch : callable, optional
        Called with ``k`` after the ``k``-th epoch (1-based), after the lr step (weight
        averaging, curves).
    ctx : spikefab.train.dist.DistContext, optional
        Default ``init_distributed()``: DDP when launched by ``torchrun``, else one process.
    """
    warmup = check_fraction("train_student", "warmup", warmup)
    if recipe.needs_teacher and teacher is None:
        raise ValueError(f"train_student: recipe {recipe.name!r} needs teacher outputs, "
                         f"not None")
    if isinstance(teacher, TeacherOutputs) and len(teacher.logits) != len(y):
        raise ValueError(f"train_student: teacher has {len(teacher.logits)} rows but y has "
                         f"{len(y)}")
    keep_freed_memory()  # whole-[T, B, ...] buffers are reused, not page-faulted in (train.heap)
    ctx = init_distributed() if ctx is None else ctx
    extra = list(recipe.parameters())
    step_module = LossStep(student, lambda m, *a: recipe.loss(m, *a)["total_loss"],
                           nn.ParameterList(extra) if extra else None)
    dev = ctx.device
    if dev.type != "cpu":  # nccl: student and training-only parameters on cuda:LOCAL_RANK
        step_module.to(dev)
    runner = wrap(step_module, ctx)
    gen = torch.Generator().manual_seed(seed)
    params = list(student.parameters()) + extra
    opt = adam(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    n = len(y)
    steps_total = epochs * -(-n // batch_size)
    step = 0
    hist = StudentHistory()
    t0 = time.perf_counter()
    for epoch in range(epochs):
        xe = x(epoch) if callable(x) else x
        te = teacher(epoch) if callable(teacher) else teacher
        if te is not None and len(te.logits) != n:
            raise ValueError(f"train_student: teacher has {len(te.logits)} rows but y has {n}")
        student.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, batch_size):
            idx, scale = share(order[start:start + batch_size], ctx)
            xb = xe[idx].to(dev)
            w = 1.0 if warmup == 0 else min(1.0, step / (warmup * steps_total))
            t_logits = te.logits[idx].to(dev) if te is not None else None
            t_maps = te.maps[idx].to(dev) if te is not None and te.maps is not None else None
            loss = runner(xb, y[idx].to(dev), t_logits, t_maps, w)
            opt.zero_grad(set_to_none=True)
            (loss if scale == 1.0 else loss * scale).backward()
            opt.step()
            total += float(loss.detach()) * len(idx) if scale else 0.0
            step += 1
        (total,) = all_sum([total], ctx)
        sched.step()
        hist.loss.append(total / n)
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs} {recipe.name} loss {hist.loss[-1]:.4f}")
        if on_epoch is not None:
            on_epoch(epoch + 1)
    hist.seconds = time.perf_counter() - t0
    return hist
