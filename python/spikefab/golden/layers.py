"""A layer's input current and what the next layer sees, exactly in int64.

* dense (v1): ``I = x @ W.T + b``;
* conv2d: ``I[co, y, x] = b[co] + sum over ci, ky, kx of W[co, ci, ky, kx] *
  x[ci, y*s + ky - p, x*s + kx - p]`` (zero outside the input), flattened channel-major;
* pooling (conv2d's ``pool``): a ``pool x pool`` window of spikes (stride ``pool``, the
  rows and columns past the last whole window dropped) becomes one spike when any of its
  spikes is 1 — the max of 0/1 values, a window's OR.
"""

from __future__ import annotations

import numpy as np

from ..ir import QuantizedNetwork
from ..spec import ConvSpec, LayerSpec

__all__ = ["conv_current", "layer_current", "or_pool", "pass_on"]


def conv_current(conv: ConvSpec, weights: np.ndarray, bias: np.ndarray,
                 x: np.ndarray) -> np.ndarray:
    """The current ``[B, n_out]`` of a conv layer on a ``[B, n_in]`` batch."""
    b = x.shape[0]
    k, s, p = conv.kernel, conv.stride, conv.padding
    oh, ow = conv.out_hw
    img = np.asarray(x, dtype=np.int64).reshape(b, conv.in_channels, conv.height, conv.width)
    if p:
        img = np.pad(img, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((b, conv.out_channels, oh, ow), np.int64)
    w = np.asarray(weights, dtype=np.int64)
    for ky in range(k):
        for kx in range(k):
            patch = img[:, :, ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s]
            out += np.einsum("bchw,oc->bohw", patch, w[:, :, ky, kx])
    out += np.asarray(bias, dtype=np.int64)[None, :, None, None]
    return out.reshape(b, -1)


def layer_current(net: QuantizedNetwork, index: int, x: np.ndarray) -> np.ndarray:
    """``I`` of layer ``index`` for a ``[B, n_in]`` batch of its inputs, exactly in int64."""
    layer = net.spec.layers[index]
    if layer.conv is not None:
        return conv_current(layer.conv, net.weights[index], net.biases[index], x)
    return x @ net.weights[index].T + net.biases[index]


def or_pool(conv: ConvSpec, spikes: np.ndarray) -> np.ndarray:
    """The pooled spikes ``[B, n_pooled]`` of a conv layer's ``[B, n_out]`` spikes."""
    b = spikes.shape[0]
    q = conv.pool
    oh, ow = conv.out_hw
    ph, pw = conv.pooled_hw
    s = np.asarray(spikes).reshape(b, conv.out_channels, oh, ow)[:, :, : ph * q, : pw * q]
    s = s.reshape(b, conv.out_channels, ph, q, pw, q)
    return s.max(axis=(3, 5)).reshape(b, -1)


def pass_on(layer: LayerSpec, spikes: np.ndarray) -> np.ndarray:
    """What the next layer receives from ``layer``'s spikes: pooled for a pooling conv."""
    if layer.conv is not None and layer.conv.pool > 1:
        return or_pool(layer.conv, spikes)
    return spikes
