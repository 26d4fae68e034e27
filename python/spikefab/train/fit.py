"""``fit(config)``: load the dataset, encode the inputs, build and train a SpikingMLP.

Deterministic for a given config: seeds torch, the split, the batch order and the spike
encoder from ``config.seed``, turns on ``torch.use_deterministic_algorithms`` for the run
(restoring the previous setting after) and uses ``config.threads`` threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import Dataset, encode_rate, epoch_shifts, load_dataset, quantize_input
from ..data.augment import check_shift
from ..snn.mlp import SpikingMLP
from .config import TrainConfig
from .loop import History, evaluate, train_model

__all__ = ["FitResult", "build_model", "encode_inputs", "fit"]


@dataclass
class FitResult:
    """A trained model with its data: ``float_acc`` is the test accuracy of the float model."""

    model: SpikingMLP
    dataset: Dataset
    history: History
    float_acc: float
    config: TrainConfig


def encode_inputs(cfg: TrainConfig, x01: np.ndarray, *, seed: int) -> torch.Tensor:
    """What the model sees for floats ``x01`` ``[N, n_in]``.

    direct: ``x_int / (2**in_bits - 1)`` float32 ``[N, n_in]``; spikes: Bernoulli
    ``[T, N, n_in]`` 0./1. drawn with ``seed``.
    """
    if cfg.encoding == "direct":
        return torch.from_numpy(quantize_input(x01, cfg.in_bits))
    return torch.from_numpy(encode_rate(x01, cfg.timesteps, seed=seed).astype(np.float32))


def build_model(cfg: TrainConfig, n_in: int, n_classes: int) -> SpikingMLP:
    """The SpikingMLP ``n_in -> *cfg.hidden -> n_classes`` described by ``cfg``."""
    return SpikingMLP(
        (n_in, *cfg.hidden, n_classes),
        timesteps=cfg.timesteps,
        leak_shift=cfg.leak_shift,
        theta=cfg.theta,
        reset=cfg.reset,
        beta=cfg.beta,
        threshold=cfg.threshold,
        alpha=cfg.alpha,
        readout=cfg.readout,
    )


def fit(cfg: TrainConfig, *, dataset: Dataset | None = None, log=None) -> FitResult:
    """Train a float SpikingMLP as ``cfg`` says and report its test accuracy.

    Parameters
    ----------
    cfg : TrainConfig
    dataset : Dataset, optional
        Use these arrays instead of ``load_dataset(cfg.dataset, seed=cfg.seed)``.
    log : callable, optional
        Receives one line per epoch.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"fit config must be a TrainConfig, not {type(cfg).__name__}")
    ds = dataset if dataset is not None else load_dataset(cfg.dataset, seed=cfg.seed)
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(cfg.seed)
        model = build_model(cfg, ds.n_features, ds.n_classes)
        spikes = cfg.encoding == "spikes"
        shape = ds.meta.get("image_shape")
        shift = check_shift("TrainConfig", cfg.augment_shift, shape)
        if shift:
            shifted = epoch_shifts(ds.x_train, shape, shift, cfg.seed)

            def x_train(epoch):
                return encode_inputs(cfg, shifted(epoch), seed=cfg.seed * 100_003 + epoch + 1)
        elif spikes:
            def x_train(epoch):
                return encode_inputs(cfg, ds.x_train, seed=cfg.seed * 100_003 + epoch + 1)
        else:
            x_train = encode_inputs(cfg, ds.x_train, seed=0)
        x_test = encode_inputs(cfg, ds.x_test, seed=cfg.seed)
        y_train = torch.from_numpy(ds.y_train)
        hist = train_model(
            model, x_train, y_train, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
            weight_decay=cfg.weight_decay, seed=cfg.seed, spikes=spikes, log=log,
        )
        acc = evaluate(model, x_test, ds.y_test, spikes=spikes)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    return FitResult(model, ds, hist, acc, cfg)
