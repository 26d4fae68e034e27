"""Conv2d, pooling and Flatten nodes: spikefab's ``conv2d`` extension in a NIR graph.

Export (:func:`conv_nodes`): a conv layer is ``Conv2d`` (weight ``[C_out, C_in, k, k]``,
stride, padding, dilation 1, groups 1, bias) then its neuron node, whose parameters have
the output's shape ``[C_out, H_out, W_out]``. Its pooling, a window's OR, has no NIR node of
its own; it is written ``SumPool2d(kernel q, stride q, padding 0)`` then ``Threshold(0.5)``:
a window's spike count is above 0.5 exactly when one of its spikes is 1 (NIR's Threshold is
``z = v > threshold``). A dense layer after a conv layer reads it through ``Flatten``
(channel-major: torch's order, and the integer semantics').

Import (:func:`conv_spec`, :func:`pool_size`, :func:`fold_pool`) accepts:

* ``Conv2d`` with a square kernel, the same stride and padding on both axes (``"valid"``
  is 0, ``"same"`` is ``(k - 1) / 2`` for an odd ``k`` at stride 1), dilation 1, groups 1;
* ``SumPool2d`` (kernel = stride = ``(q, q)``, padding 0) then ``Threshold(t)`` with
  ``0 <= t < 1``: the OR of the window (``ConvSpec.pool = q``);
* ``AvgPool2d`` (snnTorch's export of ``nn.AvgPool2d``), or a ``SumPool2d`` without a
  ``Threshold``, when ``Flatten`` and a dense layer follow: the dense layer then reads the
  mean (sum) of each window's spikes, which is the same dense layer reading the spikes
  themselves with each weight spread over its window and divided by ``q * q`` (1): folded so,
  exactly (:func:`fold_pool`). Anywhere else it is refused: an average of spikes is not a
  spike.
"""

from __future__ import annotations

from dataclasses import replace

import nir
import numpy as np

from ..spec import ConvSpec
from .modes import as_floats

__all__ = ["POOL_NODES", "conv_nodes", "conv_spec", "fold_pool", "pool_size"]

#: NIR nodes that pool a conv layer's spikes.
POOL_NODES = (nir.SumPool2d, nir.AvgPool2d)


def _pair(value, what: str, name: str) -> int:
    """One integer of a NIR ``int | (int, int)`` field, equal on both axes."""
    arr = np.asarray(value).reshape(-1)
    if arr.size not in (1, 2) or arr.dtype.kind not in "iuf" or np.any(arr != arr[0]) or \
            arr[0] != int(arr[0]):
        raise ValueError(f"Conv2d node {name!r}: {what} must be one integer, the same on both "
                         f"axes, not {np.asarray(value).tolist()!r}")
    return int(arr[0])


def conv_spec(node, name: str, in_shape) -> ConvSpec:
    """The ``ConvSpec`` (``pool = 1``) of a ``Conv2d`` node reading ``in_shape``
    ``(C, H, W)``; what spikefab cannot represent is a one-line error naming the node."""
    w = as_floats(node.weight, "Conv2d", name, "weight")
    if w.ndim != 4 or w.shape[2] != w.shape[3]:
        raise ValueError(f"Conv2d node {name!r}: weight must be [C_out, C_in, k, k] (a square "
                         f"kernel), not {list(w.shape)}")
    if int(node.groups) != 1:
        raise ValueError(f"Conv2d node {name!r}: groups must be 1 (spikefab's convolution "
                         f"sums every input channel), not {node.groups!r}")
    if _pair(node.dilation, "dilation", name) != 1:
        raise ValueError(f"Conv2d node {name!r}: dilation must be 1, not "
                         f"{np.asarray(node.dilation).tolist()!r}")
    k = int(w.shape[2])
    stride = _pair(node.stride, "stride", name)
    if isinstance(node.padding, str):
        if node.padding == "same" and (stride != 1 or k % 2 == 0):
            raise ValueError(f"Conv2d node {name!r}: padding 'same' is symmetric only for an "
                             f"odd kernel at stride 1, not kernel {k}, stride {stride}")
        padding = 0 if node.padding == "valid" else (k - 1) // 2
    else:
        padding = _pair(node.padding, "padding", name)
    c, h, wd = in_shape
    if w.shape[1] != c:
        raise ValueError(f"Conv2d node {name!r} reads {int(w.shape[1])} channels, but its input "
                         f"is {[c, h, wd]}")
    try:
        return ConvSpec(c, h, wd, int(w.shape[0]), k, stride, padding)
    except ValueError as e:
        raise ValueError(f"Conv2d node {name!r}: {e}") from None


def pool_size(node, name: str) -> int:
    """``q`` of a ``SumPool2d`` / ``AvgPool2d`` node: kernel = stride = ``(q, q)``, padding 0."""
    kind = type(node).__name__
    kernel = np.asarray(node.kernel_size).reshape(-1)
    stride = np.asarray(node.stride).reshape(-1)
    padding = np.asarray(node.padding).reshape(-1)
    q = int(kernel[0]) if kernel.size else 0
    ok = kernel.size in (1, 2) and np.all(kernel == q) and q >= 1
    ok = ok and stride.size in (1, 2) and np.all(stride == q) and np.all(padding == 0)
    if not ok:
        raise ValueError(f"{kind} node {name!r}: spikefab pools square windows without overlap "
                         f"or padding (kernel = stride = (q, q), padding 0), not kernel "
                         f"{kernel.tolist()}, stride {stride.tolist()}, padding "
                         f"{padding.tolist()}")
    return q


def fold_pool(weight: np.ndarray, conv: ConvSpec, q: int, scale: float) -> np.ndarray:
    """A dense ``weight`` ``[n, C * (H_out // q) * (W_out // q)]`` reading ``scale`` times the
    sum of each ``q x q`` window of ``conv``'s spikes, as the weight ``[n, C * H_out * W_out]``
    reading the spikes (rows and columns past the last whole window get 0)."""
    oh, ow = conv.out_hw
    ph, pw = oh // q, ow // q
    n = weight.shape[0]
    w = weight.reshape(n, conv.out_channels, ph, pw)
    out = np.zeros((n, conv.out_channels, oh, ow), dtype=np.float64)
    out[:, :, : ph * q, : pw * q] = np.repeat(np.repeat(w, q, axis=2), q, axis=3) * scale
    return out.reshape(n, -1)


def conv_nodes(i: int, conv: ConvSpec, weight, bias, neuron, flatten: bool) -> list:
    """``(name, node)`` of conv layer ``i`` in export order: ``Conv2d``, its neuron,
    ``SumPool2d`` + ``Threshold(0.5)`` when it pools, ``Flatten`` when a dense layer reads
    it (``flatten``)."""
    out = [(f"conv{i}", nir.Conv2d(input_shape=(conv.height, conv.width),
                                   weight=np.asarray(weight, np.float64),
                                   stride=(conv.stride, conv.stride),
                                   padding=(conv.padding, conv.padding), dilation=(1, 1),
                                   groups=1, bias=np.asarray(bias, np.float64)))]
    out.append((f"{type(neuron).__name__.lower()}{i}", neuron))
    shape = (conv.out_channels, *conv.out_hw)
    if conv.pool > 1:
        q = conv.pool
        shape = (conv.out_channels, *conv.pooled_hw)
        out += [(f"pool{i}", nir.SumPool2d(kernel_size=np.array([q, q]),
                                           stride=np.array([q, q]), padding=np.array([0, 0]))),
                (f"or{i}", nir.Threshold(threshold=np.full(shape, 0.5)))]
    if flatten:
        out.append((f"flatten{i}", nir.Flatten(input_type={"input": np.array(shape)},
                                               start_dim=0, end_dim=-1)))
    return out


def with_pool(conv: ConvSpec, q: int) -> ConvSpec:
    """``conv`` pooling ``q x q`` windows (a one-line error when they do not fit)."""
    try:
        return replace(conv, pool=q)
    except ValueError as e:
        raise ValueError(f"pooling {q}x{q} after a convolution of output "
                         f"{[conv.out_channels, *conv.out_hw]}: {e}") from None
