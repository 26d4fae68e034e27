"""The conv2d extension in the QAT model: layer shapes, convolution currents and OR pooling on
float64 tensors holding integers (docs/semantics.md "conv2d"; golden ``conv_current``,
``or_pool``).

A QAT network is a chain of layers, each dense (``None``) or a convolution (a ``ConvSpec``);
``sizes[l]`` is what layer ``l`` reads and ``sizes[l + 1]`` what it passes on — the pooled
spikes of a pooling conv layer, as ``LayerSpec.n_next``. Inputs and outputs are flat,
channel-major (``(c * H + y) * W + x``), so a dense layer after a conv layer reads exactly
what golden's does.

Exactness: every product and partial sum of ``F.conv2d`` is an integer below ``2**53`` (the
bound of ``snn.qlif``), so float64 gives the exact sum in any summation order. Max pooling of
0/1 spikes is the window's OR; its gradient goes to the first maximum of each window
(PyTorch's rule, as the float ``SpikingCNN``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..spec import ConvSpec
from .qlif import EXACT_DTYPE

__all__ = ["check_convs", "layer_current", "make_layer", "n_neurons", "pass_on"]


def check_convs(owner: str, convs, sizes: Sequence[int]) -> tuple:
    """``convs`` (one ``ConvSpec`` or None per layer; None: every layer dense) checked against
    the layer sizes: a conv layer reads ``conv.n_in`` and passes on ``conv.n_pooled``, a conv
    after a conv reads the shape the other passes on, the last layer is dense."""
    n = len(sizes) - 1
    if convs is None:
        return (None,) * n
    if isinstance(convs, str | bytes) or not isinstance(convs, Sequence) or len(convs) != n:
        raise ValueError(f"{owner} convs must have one entry (a ConvSpec or None) per layer "
                         f"({n}), not {convs!r}")
    for i, c in enumerate(convs):
        if c is not None and not isinstance(c, ConvSpec):
            raise TypeError(f"{owner} layer {i}: conv must be a ConvSpec or None, not "
                            f"{type(c).__name__}")
    if convs[-1] is not None:
        raise ValueError(f"{owner} layer {n - 1} is a conv layer; the last layer (the readout) "
                         "must be dense")
    for i, c in enumerate(convs):
        if c is None:
            continue
        if sizes[i] != c.n_in:
            shape = [c.in_channels, c.height, c.width]
            raise ValueError(f"{owner} layer {i}: the convolution reads {shape} = {c.n_in} "
                             f"inputs, but the layer before passes on {sizes[i]}")
        if sizes[i + 1] != c.n_pooled:
            raise ValueError(f"{owner} layer {i}: the convolution passes on "
                             f"{[c.out_channels, *c.pooled_hw]} = {c.n_pooled} values, not "
                             f"sizes[{i + 1}] = {sizes[i + 1]}")
        prev = convs[i - 1] if i else None
        if prev is not None:
            given = [prev.out_channels, *prev.pooled_hw]
            want = [c.in_channels, c.height, c.width]
            if given != want:
                raise ValueError(f"{owner} layer {i}: the convolution reads a {want} input "
                                 f"(in_channels, height, width), but layer {i - 1} passes on "
                                 f"{given}")
    return tuple(convs)


def make_layer(n_in: int, n_out: int, conv: ConvSpec | None) -> nn.Module:
    """The float64 ``nn.Linear`` (dense) or ``nn.Conv2d`` holding a layer's float weights."""
    if conv is None:
        return nn.Linear(n_in, n_out, dtype=EXACT_DTYPE)
    return nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel, stride=conv.stride,
                     padding=conv.padding, dtype=EXACT_DTYPE)


def n_neurons(n_next: int, conv: ConvSpec | None) -> int:
    """Neurons of a layer: every output position of a convolution (before pooling)."""
    return n_next if conv is None else conv.n_out


def layer_current(conv: ConvSpec | None, x: torch.Tensor, w: torch.Tensor,
                  b: torch.Tensor) -> torch.Tensor:
    """``I [B, n_out]`` of a layer on flat inputs ``x [B, n_in]`` (integers in float64)."""
    if conv is None:
        return x @ w.T + b
    img = x.reshape(x.shape[0], conv.in_channels, conv.height, conv.width)
    return F.conv2d(img, w, b, stride=conv.stride, padding=conv.padding).flatten(1)


def pass_on(conv: ConvSpec | None, s: torch.Tensor) -> torch.Tensor:
    """What the next layer reads from spikes ``s [B, n_out]``: the pooled ``[B, n_pooled]``
    (a window's OR) after a pooling conv layer, else ``s``."""
    if conv is None or conv.pool == 1:
        return s
    oh, ow = conv.out_hw
    img = s.reshape(s.shape[0], conv.out_channels, oh, ow)
    return F.max_pool2d(img, conv.pool).flatten(1)
