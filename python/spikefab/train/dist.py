"""Data-parallel training with ``torch.distributed``: DDP when launched by ``torchrun``,
one plain process otherwise.

``torchrun --nproc-per-node N script.py`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` then joins the process group
(``gloo`` on CPU, ``nccl`` when CUDA is available) and the training loops
(``train.train_model``, ``distill.train_student``) wrap the step in
``DistributedDataParallel``. Without those variables nothing changes: one process, no DDP.

The global batch stays ``batch_size``: every rank draws the same shuffled order (same seed)
and takes its share ``batch[rank::world_size]``; its mean loss is scaled by
``len(share) * world_size / len(batch)``, so the gradient DDP averages is the gradient of
the whole batch's mean loss. At world size 1 the loops run the very same operations as a
single process, so the weights are identical bit for bit (``tests/test_ddp.py``); at larger
world sizes they agree up to float summation order. Every rank ends with the same weights;
only rank 0 should write files (:attr:`DistContext.is_main`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

__all__ = ["BACKENDS", "DistContext", "LossStep", "all_sum", "context", "finish_distributed",
           "init_distributed", "launched_by_torchrun", "share", "wrap"]

BACKENDS = ("gloo", "nccl")
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``backend`` is None for a single plain process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """``cuda:LOCAL_RANK`` under nccl, else the CPU."""
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" \
            else torch.device("cpu")


def launched_by_torchrun(env=None) -> bool:
    """True when the environment has the variables ``torchrun`` sets for each worker."""
    env = os.environ if env is None else env
    return all(k in env for k in _TORCHRUN_VARS)


def context() -> DistContext:
    """The current process group's context, or a single-process one when there is none."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistContext()
    backend = dist.get_backend()
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return DistContext(dist.get_rank(), dist.get_world_size(), local, str(backend))


def init_distributed(backend: str | None = None) -> DistContext:
    """Join the ``torchrun`` process group if this process was launched by ``torchrun``.

    Parameters
    ----------
    backend : str, optional
        ``"gloo"`` or ``"nccl"``; default ``nccl`` when CUDA is available, else ``gloo``.

    Returns
    -------
    DistContext
        Single-process (``backend=None``) when not launched by ``torchrun``; the existing
        group's context when one is already initialised.
    """
    if backend is not None and backend not in BACKENDS:
        allowed = ", ".join(repr(b) for b in BACKENDS)
        raise ValueError(f"init_distributed backend must be one of {allowed}, not {backend!r}")
    if dist.is_available() and dist.is_initialized():
        return context()
    if not launched_by_torchrun():
        return DistContext()
    if not dist.is_available():
        raise RuntimeError("launched by torchrun but this torch has no torch.distributed")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(backend)
    return context()


def finish_distributed() -> None:
    """Leave ``torchrun``'s process group: wait for every rank, then destroy the group.

    A rank that exits with the group alive races gloo's threads at interpreter exit (seen
    as "terminate called without an active exception", SIGABRT, under load). No-op when no
    group is initialised.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class LossStep(nn.Module):
    """``forward(*args) -> loss_fn(model, *args)``: the module DDP wraps, so that DDP sees
    one forward per step while ``loss_fn`` uses the plain model (its attributes, extra
    outputs) and ``extra`` training-only modules (e.g. an auxiliary head) get synced too."""

    def __init__(self, model: nn.Module, loss_fn, extra: nn.Module | None = None):
        super().__init__()
        self.model = model
        self.extra = extra
        self.loss_fn = loss_fn

    def forward(self, *args):
        return self.loss_fn(self.model, *args)


def wrap(step: LossStep, ctx: DistContext) -> nn.Module:
    """``step`` in ``DistributedDataParallel`` when ``ctx`` is distributed, else ``step``."""
    if not ctx.distributed:
        return step
    ids = [ctx.local_rank] if ctx.backend == "nccl" else None
    return DistributedDataParallel(step, device_ids=ids)


def share(idx: torch.Tensor, ctx: DistContext) -> tuple[torch.Tensor, float]:
    """This rank's rows of the global batch ``idx`` and the factor for its mean loss.

    A rank left without rows (a last batch smaller than the world) gets one row and factor
    0, so it still takes part in DDP's gradient all-reduce with a zero gradient.
    """
    if not ctx.distributed or ctx.world_size == 1:
        return idx, 1.0
    mine = idx[ctx.rank::ctx.world_size]
    if len(mine) == 0:
        return idx[:1], 0.0
    return mine, len(mine) * ctx.world_size / len(idx)


def all_sum(values: list[float], ctx: DistContext) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (unchanged for a single process)."""
    if not ctx.distributed or ctx.world_size == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return t.tolist()
