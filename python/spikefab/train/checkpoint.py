"""Checkpoints: a SpikingMLP's (or SpikingCNN's) weights, constructor arguments, train config
and history in one ``.pt`` file, written atomically; ``load_checkpoint`` rebuilds the model.
A conv student's arguments carry ``"kind": "cnn"``; an MLP's have no kind (the format
predates conv students and reads as before)."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from ..atomic import atomic_write_bytes
from ..snn.cnn import SpikingCNN
from ..snn.mlp import SpikingMLP
from .config import TrainConfig

__all__ = ["CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint"]

CHECKPOINT_FORMAT = "spikefab-checkpoint-v1"


def _model_args(model) -> dict:
    if isinstance(model, SpikingCNN):
        return {"kind": "cnn", "image_shape": list(model.image_shape),
                "channels": list(model.channels), "n_classes": model.n_classes,
                "timesteps": model.timesteps, "leak_shift": model.lifs[0].leak_shift,
                "theta": model.lifs[0].theta, "reset": model.lifs[0].reset,
                "slope": model.lifs[0].slope}
    return {
        "sizes": list(model.sizes),
        "timesteps": model.timesteps,
        "leak_shift": model.leak_shift,
        "theta": model.theta,
        "reset": model.reset,
        **model.neuron_args(),
    }


def save_checkpoint(path, model, *, config: TrainConfig | None = None,
                    extra: dict | None = None) -> Path:
    """Write ``model`` (a SpikingMLP or SpikingCNN; optionally its config and JSON-able
    ``extra``) to ``path``."""
    if not isinstance(model, SpikingMLP | SpikingCNN):
        raise TypeError(f"save_checkpoint model must be a SpikingMLP or a SpikingCNN, not "
                        f"{type(model).__name__}")
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


def load_checkpoint(path) -> tuple[SpikingMLP | SpikingCNN, TrainConfig | None, dict]:
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
    if args.pop("kind", "mlp") == "cnn":
        model = SpikingCNN(args.pop("image_shape"), args.pop("channels"), **args)
    else:
        model = SpikingMLP(args.pop("sizes"), **args)
    model.load_state_dict(doc["state_dict"])
    model.eval()
    cfg = None if doc["config"] is None else TrainConfig.from_dict(doc["config"])
    return model, cfg, dict(doc["extra"])
