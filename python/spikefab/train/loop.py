"""Training loop for per-step-logit spiking models (SpikingMLP, and any model whose
``forward(x)`` returns logits ``[T, B, C]``).

``train_model`` runs Adam with a cosine-annealed learning rate over fixed-seed shuffled
mini-batches. The default loss is cross-entropy on the time-averaged logits (the
prediction is the argmax of their sum); pass ``loss_fn(logits, y, x)`` to train with
another objective (a distillation loss, say). ``evaluate`` gives accuracy.

Launched by ``torchrun`` (see ``train.dist``), the step runs in ``DistributedDataParallel``
and each rank trains on its share of every batch; otherwise it is one plain process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .dist import DistContext, LossStep, all_sum, init_distributed, share, wrap
from .heap import keep_freed_memory
from .optim import adam

__all__ = ["History", "ce_mean_logits", "evaluate", "predict", "train_model"]


@dataclass
class History:
    """Per-epoch record: mean training ``loss``, optional ``val_acc``, wall ``seconds``."""

    loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"loss": list(self.loss), "val_acc": list(self.val_acc), "seconds": self.seconds}


def ce_mean_logits(logits: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``logits.mean(0)`` (``[T, B, C]`` -> ``[B, C]``) against ``y``."""
    del x
    return F.cross_entropy(logits.mean(0), y)


def _take(x: torch.Tensor, idx, spikes: bool) -> torch.Tensor:
    return x[:, idx] if spikes else x[idx]


def _device(model) -> torch.device:
    p = next(iter(model.parameters()), None)
    return torch.device("cpu") if p is None else p.device


def predict(model, x: torch.Tensor, *, batch_size: int = 512, spikes: bool = False) -> np.ndarray:
    """Predicted class (argmax of the logits summed over time) for every sample, int64."""
    n = x.shape[1] if spikes else x.shape[0]
    out = []
    was_training = model.training
    model.eval()
    dev = _device(model)
    with torch.no_grad():
        for start in range(0, n, batch_size):
            idx = slice(start, start + batch_size)
            out.append(model(_take(x, idx, spikes).to(dev)).sum(0).argmax(1).cpu())
    model.train(was_training)
    return torch.cat(out).numpy().astype(np.int64) if out else np.zeros(0, np.int64)


def evaluate(model, x: torch.Tensor, y, *, batch_size: int = 512, spikes: bool = False) -> float:
    """Accuracy of ``model`` on ``(x, y)``; ``spikes=True`` when ``x`` is ``[T, B, n_in]``."""
    y = np.asarray(y)
    return float((predict(model, x, batch_size=batch_size, spikes=spikes) == y).mean())


def train_model(
    model: torch.nn.Module,
    x: torch.Tensor | Callable[[int], torch.Tensor],
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 5e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    spikes: bool = False,
    loss_fn: Callable | None = None,
    val: tuple | None = None,
    log: Callable[[str], None] | None = None,
    ctx: DistContext | None = None,
) -> History:
    """Train ``model`` in place; return its ``History``.

    Parameters
    ----------
    x : torch.Tensor or callable
        Inputs ``[N, n_in]`` (direct) or ``[T, N, n_in]`` (``spikes=True``); or a function
        ``epoch -> tensor`` for inputs that change every epoch (fresh rate-coded spikes).
    y : torch.Tensor
        int64 labels ``[N]``.
    loss_fn : callable, optional
        ``loss_fn(logits [T, B, C], y [B], x_batch) -> scalar``; default ``ce_mean_logits``.
    val : (x_val, y_val), optional
        Evaluated after each epoch into ``History.val_acc``.
    log : callable, optional
        Called with one line per epoch.
    ctx : train.dist.DistContext, optional
        Default ``train.dist.init_distributed()``: DDP over ``torchrun``'s process group when
        launched by ``torchrun`` (under nccl the model moves to ``cuda:LOCAL_RANK``), else
        one plain process. The logged loss is the mean over all ranks' rows.
    """
    loss_fn = loss_fn or ce_mean_logits
    keep_freed_memory()  # whole-[T, B, ...] buffers are reused, not page-faulted in (train.heap)
    ctx = init_distributed() if ctx is None else ctx
    if ctx.device.type != "cpu":
        model.to(ctx.device)
    runner = wrap(LossStep(model, lambda m, xb, yb: loss_fn(m(xb), yb, xb)), ctx)
    gen = torch.Generator().manual_seed(seed)
    opt = adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    hist = History()
    t0 = time.perf_counter()
    n = int(y.shape[0])
    for epoch in range(epochs):
        xe = x(epoch) if callable(x) else x
        model.train()
        order = torch.randperm(n, generator=gen)
        total, seen = 0.0, 0
        for start in range(0, n, batch_size):
            idx, scale = share(order[start : start + batch_size], ctx)
            xb, yb = _take(xe, idx, spikes).to(ctx.device), y[idx].to(ctx.device)
            loss = runner(xb, yb)
            opt.zero_grad(set_to_none=True)
            (loss if scale == 1.0 else loss * scale).backward()
            opt.step()
            if scale:
                total += float(loss.detach()) * len(idx)
                seen += len(idx)
        total, seen = all_sum([total, seen], ctx)
        sched.step()
        hist.loss.append(total / seen)
        line = f"epoch {epoch + 1:3d}/{epochs} loss {hist.loss[-1]:.4f}"
        if val is not None:
            hist.val_acc.append(evaluate(model, val[0], val[1], spikes=spikes))
            line += f" val_acc {hist.val_acc[-1]:.4f}"
        if log is not None:
            log(line)
    hist.seconds = time.perf_counter() - t0
    return hist
