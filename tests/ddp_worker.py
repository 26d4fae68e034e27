"""One training + one distillation run, saved to ``OUT/rank<r>.pt``; run by ``tests/test_ddp.py``
as a plain process, in-process at world size 1, and under ``torchrun`` with two gloo ranks.

    python tests/ddp_worker.py OUT
"""

import sys
from pathlib import Path

import torch
from spikefab.data import load_dataset, quantize_input
from spikefab.distill import make_recipe
from spikefab.distill.trainer import train_student
from spikefab.snn.mlp import SpikingMLP
from spikefab.train import train_model
from spikefab.train.dist import finish_distributed, init_distributed

N = 193  # batches of 32: the last has one row, so at world size 2 one rank's share is empty


def run(out) -> dict:
    """Train a SpikingMLP (CE) and distil another with TSSD (auxiliary head); save both."""
    torch.set_num_threads(1)
    ctx = init_distributed()
    ds = load_dataset("digits", seed=0)
    x = torch.from_numpy(quantize_input(ds.x_train[:N], 4))
    y = torch.from_numpy(ds.y_train[:N])
    torch.manual_seed(0)
    model = SpikingMLP((64, 24, 10), timesteps=3)
    hist = train_model(model, x, y, epochs=1, batch_size=32, lr=2e-3, seed=1)
    torch.manual_seed(1)
    student = SpikingMLP((64, 16, 10), timesteps=2)
    recipe = make_recipe("tssd", student=student, n_features=16, n_classes=10)
    kd = train_student(student, recipe, x, y, epochs=1, batch_size=32, lr=2e-3, seed=2)
    doc = {"rank": ctx.rank, "world_size": ctx.world_size, "backend": ctx.backend,
           "model": model.state_dict(), "student": student.state_dict(),
           "aux": recipe.module.aux.state_dict(), "loss": hist.loss, "kd_loss": kd.loss}
    torch.save(doc, Path(out) / f"rank{ctx.rank}.pt")
    return doc


if __name__ == "__main__":
    run(sys.argv[1])
    finish_distributed()
