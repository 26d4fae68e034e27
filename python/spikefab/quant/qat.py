"""Quantization-aware fine-tuning of a trained float SpikingMLP or SpikingCNN.

``finetune_qat`` copies the float model into a ``QSpikingMLP`` (calibrated scales),
reports the accuracy of that calibrated integer network before any training, trains it
with the ordinary training loop (``train.loop.train_model``; any ``loss_fn``, e.g. a
distillation loss, works because the QAT model returns per-step logits ``[T, B, C]``),
and reports its integer test accuracy. Accuracies here are integer accuracies
(``predict_int``), which equal the golden model's on the exported network.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..data import Dataset
from ..snn.qlif import EXACT_DTYPE
from ..snn.qmlp import QSpikingMLP
from ..snn.surrogate import SLOPE
from ..train.config import TrainConfig
from ..train.fit import encode_inputs, train_inputs
from ..train.loop import History, train_model
from .calibrate import calibrate_scale
from .float_net import float_layers
from .neurons import integer_leak, integer_synapse

__all__ = ["QATResult", "eval_inputs", "finetune_qat", "holdout", "int_accuracy",
           "qat_from_float"]


@dataclass
class QATResult:
    """``model`` after fine-tuning; ``calib_acc`` before it (calibrated scales only).

    ``best_epoch`` is the epoch kept (0: the calibrated model), ``epochs`` without
    validation.
    """

    model: QSpikingMLP
    calib_acc: float
    qat_acc: float
    history: History
    seconds: float
    best_epoch: int = -1


def eval_inputs(cfg: TrainConfig, ds: Dataset) -> torch.Tensor:
    """The test inputs exactly as ``train.fit`` evaluates them (spikes drawn with the seed)."""
    return encode_inputs(cfg, ds.x_test, seed=cfg.seed)


def holdout(ds: Dataset, fraction: float, seed: int) -> tuple[Dataset, tuple]:
    """Carve a validation set out of ``ds``'s training set (stratified, seeded).

    Returns ``(rest, (x_val, y_val))``: ``rest`` keeps ``ds``'s test set. Train the float
    model on ``rest`` so that the validation set is unseen by every model.
    """
    from sklearn.model_selection import train_test_split

    if isinstance(fraction, bool) or not isinstance(fraction, float) or not 0 < fraction < 1:
        raise ValueError(f"holdout fraction must be a float in (0, 1), not {fraction!r}")
    x_fit, x_val, y_fit, y_val = train_test_split(
        ds.x_train, ds.y_train, test_size=fraction, stratify=ds.y_train, random_state=seed)
    meta = dict(ds.meta) | {"n_train": int(len(y_fit)), "n_val": int(len(y_val))}
    return Dataset(x_fit, y_fit, ds.x_test, ds.y_test, meta), (x_val, y_val)


class _BestEpoch:
    """Per-epoch hook (``train_model``'s ``log``): keep the weights with the best val accuracy."""

    def __init__(self, model: QSpikingMLP, x_val, y_val, log=None):
        self.model, self.x, self.y, self.log = model, x_val, y_val, log
        self.epoch = 0
        self.best = (int_accuracy(model, x_val, y_val), 0, copy.deepcopy(model.state_dict()))

    def __call__(self, line: str) -> None:
        self.epoch += 1
        acc = int_accuracy(self.model, self.x, self.y)
        if acc > self.best[0]:
            self.best = (acc, self.epoch, copy.deepcopy(self.model.state_dict()))
        if self.log is not None:
            self.log(f"{line} int_val_acc {acc:.4f}")

    def restore(self) -> int:
        self.model.load_state_dict(self.best[2])
        return self.best[1]


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


def qat_from_float(model, *, decay_bits: int = 12, i_bits=None, **kwargs) -> QSpikingMLP:
    """A QAT copy of a trained ``SpikingMLP`` or ``SpikingCNN`` (its conv stages become conv
    layers, extension ``conv2d``): same sizes, neuron modes and weights.

    Scales are calibrated per layer (``calibrate_scale``, MSE-optimal clipping for the
    layer's ``w_bits``), then capped to fit ``v_bits`` with ``headroom``. ``kwargs`` are
    the ``QSpikingMLP`` bit widths, ``encoding``, ``in_bits``, ``scale_mode``, ``headroom``.
    A float ``beta`` that is not ``1 - 2**-k`` becomes the integer ``decay`` with
    ``decay_bits`` fraction bits (``quant.neurons``), an ``alpha`` a synapse of ``i_bits``
    (default: ``v_bits``).
    """
    net = float_layers(model, "qat_from_float")
    lifs = net.lifs
    slope = lifs[0].slope if lifs else SLOPE
    leaks = [integer_leak(lif, decay_bits) for lif in lifs]
    i_bits = kwargs.get("v_bits", 16) if i_bits is None else i_bits
    synapses = [None if lif.alpha is None else integer_synapse(
        lif.alpha, decay_bits, i_bits if isinstance(i_bits, int) else i_bits[j])
        for j, lif in enumerate(lifs)]
    q = QSpikingMLP(net.sizes, timesteps=net.timesteps,
                    leak_shift=[k for k, _ in leaks], theta=[lif.theta for lif in lifs],
                    reset=[lif.reset for lif in lifs], slope=slope,
                    decay=[d for _, d in leaks], decay_bits=decay_bits,
                    threshold=[lif.threshold for lif in lifs], synapse=synapses,
                    readout=net.readout, convs=net.convs, **kwargs)
    with torch.no_grad():
        for dst, src in zip(q.fcs, net.modules, strict=True):
            dst.weight.copy_(src.weight.to(EXACT_DTYPE))
            dst.bias.copy_(src.bias.to(EXACT_DTYPE))
        s = [
            min(calibrate_scale(fc.weight.numpy(), q.w_bits[i], q.x_max[i]), q.caps[i])
            for i, fc in enumerate(q.fcs)
        ]
        for i in range(len(q.v_bits)):  # theta_int >= 1 even for tiny weights
            s[i] = max(s[i], 1.0 / q.theta[i])
        q.log_scale.copy_(torch.tensor([math.log(x) for x in s], dtype=EXACT_DTYPE))
    return q


def finetune_qat(
    model,
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
    val=None,
    log=None,
    decay_bits: int = 12,
    i_bits=None,
) -> QATResult:
    """Quantization-aware fine-tuning of ``model`` (trained with ``cfg`` on ``ds``).

    Parameters
    ----------
    model : SpikingMLP or SpikingCNN
        The trained float model (left unchanged).
    ds, cfg : Dataset, TrainConfig
        Its data and training configuration (encoding, in_bits, batch size, seed).
    w_bits, v_bits, b_bits : int or per-layer sequences
        Widths of the QAT model (see ``QSpikingMLP``).
    epochs, lr : int, float
        Fine-tuning length and Adam learning rate (cosine-annealed).
    scale_mode, headroom : see ``QSpikingMLP``.
    decay_bits, i_bits : see ``qat_from_float``.
    loss_fn : callable, optional
        ``loss_fn(logits, y, x)``; default cross-entropy of the mean logits.
    val : (x, y), optional
        Validation inputs (floats in [0, 1], ``[N, n_in]``) and labels, disjoint from the
        data the float model was trained on (see ``holdout``). With it the epoch (0 = the
        calibrated model before training) with the best integer validation accuracy is
        kept: early stopping that never looks at the test set.
    log : callable, optional
        One line per epoch.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    try:
        torch.manual_seed(cfg.seed)
        q = qat_from_float(
            model, w_bits=w_bits, v_bits=v_bits, b_bits=b_bits, encoding=cfg.encoding,
            in_bits=cfg.in_bits, scale_mode=scale_mode, headroom=headroom,
            decay_bits=decay_bits, i_bits=i_bits,
        )
        x_test = eval_inputs(cfg, ds)
        calib_acc = int_accuracy(q, x_test, ds.y_test)
        keeper = None
        if val is not None:
            x_val = encode_inputs(cfg, np.asarray(val[0]), seed=cfg.seed + 1)
            keeper = _BestEpoch(q, x_val, np.asarray(val[1]), log)
        spikes = cfg.encoding == "spikes"
        x_train = train_inputs(cfg, ds, offset=7919)
        hist = History()
        if epochs > 0:
            hist = train_model(
                q, x_train, torch.from_numpy(ds.y_train), epochs=epochs,
                batch_size=cfg.batch_size, lr=lr, seed=cfg.seed, spikes=spikes,
                loss_fn=loss_fn, log=keeper or log,
            )
        best_epoch = epochs
        if keeper is not None:
            best_epoch = keeper.restore()
        acc = int_accuracy(q, x_test, ds.y_test)
    finally:
        torch.set_num_threads(threads)
    return QATResult(q, calib_acc, acc, hist, time.perf_counter() - t0, best_epoch)
