"""Quantization-aware fine-tuning of a trained float SpikingMLP.

``finetune_qat`` copies the float model into a ``QSpikingMLP`` (calibrated scales),
reports the accuracy of that calibrated integer network before any training, trains it
with the ordinary training loop (``train.loop.train_model``; any ``loss_fn``, e.g. a
distillation loss, works because the QAT model returns per-step logits ``[T, B, C]``),
and reports its integer test accuracy. Accuracies here are integer accuracies
(``predict_int``), which equal the golden model's on the exported network.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..data import Dataset
from ..snn.mlp import SpikingMLP
from ..snn.qmlp import QSpikingMLP
from ..train.config import TrainConfig
from ..train.fit import encode_inputs
from ..train.loop import History, train_model

__all__ = ["QATResult", "finetune_qat", "int_accuracy", "eval_inputs"]


@dataclass
class QATResult:
    """``model`` after fine-tuning; ``calib_acc`` before it (calibrated scales only)."""

    model: QSpikingMLP
    calib_acc: float
    qat_acc: float
    history: History
    seconds: float


def eval_inputs(cfg: TrainConfig, ds: Dataset) -> torch.Tensor:
    """The test inputs exactly as ``train.fit`` evaluates them (spikes drawn with the seed)."""
    return encode_inputs(cfg, ds.x_test, seed=cfg.seed)


def int_accuracy(model: QSpikingMLP, x: torch.Tensor, y, *, batch_size: int = 512) -> float:
    """Accuracy of the integer prediction ``argmax(acc)`` (golden's rule) on ``(x, y)``."""
    y = np.asarray(y)
    spikes = model.encoding == "spikes"
    n = x.shape[1] if spikes else x.shape[0]
    preds = []
    for start in range(0, n, batch_size):
        idx = slice(start, start + batch_size)
        preds.append(model.predict_int(x[:, idx] if spikes else x[idx]))
    pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    return float((pred == y).mean()) if len(y) else 0.0


def finetune_qat(
    model: SpikingMLP,
    ds: Dataset,
    cfg: TrainConfig,
    *,
    w_bits=8,
    v_bits=16,
    b_bits=16,
    epochs: int = 10,
    lr: float = 1e-3,
    scale_mode: str = "learned",
    headroom: float = 2.0,
    loss_fn=None,
    log=None,
) -> QATResult:
    """Quantization-aware fine-tuning of ``model`` (trained with ``cfg`` on ``ds``).

    Parameters
    ----------
    model : SpikingMLP
        The trained float model (left unchanged).
    ds, cfg : Dataset, TrainConfig
        Its data and training configuration (encoding, in_bits, batch size, seed).
    w_bits, v_bits, b_bits : int or per-layer sequences
        Widths of the QAT model (see ``QSpikingMLP``).
    epochs, lr : int, float
        Fine-tuning length and Adam learning rate (cosine-annealed).
    scale_mode, headroom : see ``QSpikingMLP``.
    loss_fn : callable, optional
        ``loss_fn(logits, y, x)``; default cross-entropy of the mean logits.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    try:
        torch.manual_seed(cfg.seed)
        q = QSpikingMLP.from_float(
            model, w_bits=w_bits, v_bits=v_bits, b_bits=b_bits, encoding=cfg.encoding,
            in_bits=cfg.in_bits, scale_mode=scale_mode, headroom=headroom,
        )
        x_test = eval_inputs(cfg, ds)
        calib_acc = int_accuracy(q, x_test, ds.y_test)
        spikes = cfg.encoding == "spikes"
        if spikes:
            def x_train(epoch):
                return encode_inputs(cfg, ds.x_train, seed=cfg.seed * 100_003 + 7919 + epoch)
        else:
            x_train = encode_inputs(cfg, ds.x_train, seed=0)
        hist = History()
        if epochs > 0:
            hist = train_model(
                q, x_train, torch.from_numpy(ds.y_train), epochs=epochs,
                batch_size=cfg.batch_size, lr=lr, seed=cfg.seed, spikes=spikes,
                loss_fn=loss_fn, log=log,
            )
        acc = int_accuracy(q, x_test, ds.y_test)
    finally:
        torch.set_num_threads(threads)
    return QATResult(q, calib_acc, acc, hist, time.perf_counter() - t0)
