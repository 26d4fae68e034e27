"""Float training: config, loop, ``fit`` and checkpoints."""

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .fit import FitResult, build_model, encode_inputs, fit
from .loop import History, ce_mean_logits, evaluate, predict, train_model

__all__ = [
    "FitResult",
    "History",
    "TrainConfig",
    "build_model",
    "ce_mean_logits",
    "encode_inputs",
    "evaluate",
    "fit",
    "load_checkpoint",
    "predict",
    "save_checkpoint",
    "train_model",
]
