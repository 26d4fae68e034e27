"""``fit(config)``: load the dataset, encode the inputs, build and train a SpikingMLP (or a
SpikingCNN with ``kind="cnn"``).

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
from ..snn.cnn import SpikingCNN
from ..snn.mlp import SpikingMLP
from .config import TrainConfig
from .loop import History, evaluate, train_model

__all__ = ["FitResult", "build_model", "encode_inputs", "fit", "image_chw", "train_inputs"]


@dataclass
class FitResult:
    """A trained model with its data: ``float_acc`` is the test accuracy of the float model."""

    model: SpikingMLP | SpikingCNN
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


def image_chw(image_shape) -> tuple | None:
    """``(C, H, W)`` of a dataset's ``image_shape`` (``(H, W)`` means one channel)."""
    if image_shape is None:
        return None
    shape = tuple(int(n) for n in image_shape)
    return (1, *shape) if len(shape) == 2 else shape


def build_model(cfg: TrainConfig, n_in: int, n_classes: int, image_shape=None):
    """The SpikingMLP ``n_in -> *cfg.hidden -> n_classes`` described by ``cfg``, or with
    ``kind="cnn"`` the SpikingCNN on images of ``image_shape`` (the dataset's)."""
    if cfg.kind == "cnn":
        chw = image_chw(image_shape)
        if chw is None or int(np.prod(chw)) != n_in:
            raise ValueError(f"TrainConfig.kind 'cnn' needs a dataset of images of {n_in} "
                             f"pixels, not image_shape {image_shape!r}")
        return SpikingCNN(chw, cfg.channels, n_classes, timesteps=cfg.timesteps,
                          leak_shift=cfg.leak_shift, theta=cfg.theta, reset=cfg.reset)
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


def train_inputs(cfg: TrainConfig, ds: Dataset, *, offset: int = 1):
    """The training inputs of ``cfg`` on ``ds``: a tensor, or ``epoch -> tensor`` when they
    change every epoch (``augment_shift``: fresh shifts; spikes: fresh spike trains drawn
    with seed ``cfg.seed * 100_003 + epoch + offset``)."""
    shift = check_shift("TrainConfig", cfg.augment_shift, ds.meta.get("image_shape"))
    if shift:
        shifted = epoch_shifts(ds.x_train, ds.meta["image_shape"], shift, cfg.seed)

        def x_shifted(epoch):
            return encode_inputs(cfg, shifted(epoch), seed=cfg.seed * 100_003 + epoch + offset)

        return x_shifted
    if cfg.encoding == "spikes":
        def x_spikes(epoch):
            return encode_inputs(cfg, ds.x_train, seed=cfg.seed * 100_003 + epoch + offset)

        return x_spikes
    return encode_inputs(cfg, ds.x_train, seed=0)


def fit(cfg: TrainConfig, *, dataset: Dataset | None = None, log=None) -> FitResult:
    """Train a float SpikingMLP (SpikingCNN) as ``cfg`` says and report its test accuracy.

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
        model = build_model(cfg, ds.n_features, ds.n_classes, ds.meta.get("image_shape"))
        spikes = cfg.encoding == "spikes"
        x_train = train_inputs(cfg, ds)
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
