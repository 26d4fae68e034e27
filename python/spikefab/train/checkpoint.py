"""Checkpoints: a SpikingMLP's weights, constructor arguments, train config and history in
one ``.pt`` file, written atomically; ``load_checkpoint`` rebuilds the model."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from ..atomic import atomic_write_bytes
from ..snn.mlp import SpikingMLP
from .config import TrainConfig

__all__ = ["CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint"]

CHECKPOINT_FORMAT = "spikefab-checkpoint-v1"


def _model_args(model: SpikingMLP) -> dict:
    return {
        "sizes": list(model.sizes),
        "timesteps": model.timesteps,
        "leak_shift": model.leak_shift,
        "theta": model.theta,
        "reset": model.reset,
        **model.neuron_args(),
    }


def save_checkpoint(path, model: SpikingMLP, *, config: TrainConfig | None = None,
                    extra: dict | None = None) -> Path:
    """Write ``model`` (and optionally its config and JSON-able ``extra``) to ``path``."""
    if not isinstance(model, SpikingMLP):
        raise TypeError(f"save_checkpoint model must be a SpikingMLP, not {type(model).__name__}")
    doc = {
        "format": CHECKPOINT_FORMAT,
        "model_args": _model_args(model),
        "state_dict": model.state_dict(),
        "config": None if config is None else config.to_dict(),
        "extra": extra or {},
    }
    buf = io.BytesIO()
    torch.save(doc, buf)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_checkpoint(path) -> tuple[SpikingMLP, TrainConfig | None, dict]:
    """Read a checkpoint: ``(model in eval mode, config or None, extra)``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {path}: file not found")
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad file
        raise ValueError(f"checkpoint {path}: unreadable ({type(e).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path}: format must be {CHECKPOINT_FORMAT!r}")
    args = dict(doc["model_args"])
    model = SpikingMLP(args.pop("sizes"), **args)
    model.load_state_dict(doc["state_dict"])
    model.eval()
    cfg = None if doc["config"] is None else TrainConfig.from_dict(doc["config"])
    return model, cfg, dict(doc["extra"])
