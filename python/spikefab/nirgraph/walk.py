"""The layers of a NIR chain: which nodes form each layer (``stages``), before any parameter
is read.

A layer ("stage") is a weighted node — ``Affine``/``Linear`` (dense) or ``Conv2d`` — and the
neuron node after it, if any; a conv stage also takes its pooling nodes and the ``Flatten``
before a dense layer (``nirgraph.conv`` has the forms accepted). Every other arrangement is a
one-line ``ValueError`` naming the node.
"""

from __future__ import annotations

import nir
import numpy as np

from .conv import POOL_NODES, conv_spec, pool_size, with_pool

__all__ = ["DENSE", "NEURONS", "SPIKING", "stages"]

DENSE = (nir.Affine, nir.Linear)
NEURONS = {nir.LIF: "LIF", nir.CubaLIF: "CubaLIF", nir.IF: "IF", nir.LI: "LI", nir.I: "I"}
#: The neuron kinds that spike.
SPIKING = ("LIF", "CubaLIF", "IF")


def _kind(node) -> str:
    return type(node).__name__


def image_shape(graph, first: str, input_name: str) -> tuple[int, int, int]:
    """``(C, H, W)`` a first ``Conv2d`` node reads: its ``input_shape`` with its weight's
    channels, else the ``Input`` type (a leading batch dimension of 1 dropped)."""
    node = graph.nodes[first]
    channels = int(np.asarray(node.weight).shape[1]) if np.ndim(node.weight) == 4 else 0
    if node.input_shape is not None:
        h, w = (int(d) for d in np.asarray(node.input_shape).reshape(-1)[:2])
        return channels, h, w
    shape = [int(d) for d in np.asarray(graph.nodes[input_name].input_type.get("input", []))]
    if len(shape) == 4 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) != 3:
        raise ValueError(f"Conv2d node {first!r} reads the input {input_name!r}, whose type "
                         f"{shape} is not an image [C, H, W] (export with ignore_dims=[0])")
    return tuple(shape)


def _check_flatten(node, name: str) -> None:
    if int(node.start_dim) != 0 or int(node.end_dim) not in (-1, 2):
        raise ValueError(f"Flatten node {name!r} must flatten the whole image (start_dim 0, "
                         f"end_dim -1), not start_dim {node.start_dim}, end_dim {node.end_dim}")


def _pool(graph, order: list, i: int, conv):
    """Read the pooling nodes at ``order[i]``: ``(conv, fold, i)`` — the OR folded into
    ``conv``, or ``fold = (q, scale, name, conv)`` for a mean (sum) a dense layer reads."""
    nodes = graph.nodes
    name = order[i]
    q = pool_size(nodes[name], name)
    nxt = order[i + 1] if i + 1 < len(order) else None
    if isinstance(nodes[name], nir.SumPool2d) and nxt is not None and \
            isinstance(nodes[nxt], nir.Threshold):
        thr = np.asarray(nodes[nxt].threshold, dtype=np.float64)
        if thr.size == 0 or np.any(thr < 0) or np.any(thr >= 1):
            raise ValueError(f"Threshold node {nxt!r} after SumPool2d {name!r} must lie in "
                             f"[0, 1) (a window's OR: count > threshold), not "
                             f"{thr.ravel()[:1].tolist()}")
        return with_pool(conv, q), None, i + 2
    scale = 1.0 / (q * q) if isinstance(nodes[name], nir.AvgPool2d) else 1.0
    return conv, (q, scale, name, conv), i + 1


def _conv_stage(graph, order: list, i: int, image):
    """The conv stage at ``order[i]``: ``(stage, image passed on or None, fold, i)``."""
    nodes = graph.nodes
    name = order[i]
    conv = conv_spec(nodes[name], name, image)
    nxt = order[i + 1] if i + 1 < len(order) else None
    if nxt is None or _kind(nodes[nxt]) not in SPIKING:
        got = "Output" if nxt is None else f"{_kind(nodes[nxt])} node {nxt!r}"
        raise ValueError(f"Conv2d node {name!r} is followed by {got}; a conv layer needs a "
                         "spiking neuron (LIF, CubaLIF or IF)")
    i, fold = i + 2, None
    if i < len(order) and isinstance(nodes[order[i]], POOL_NODES):
        conv, fold, i = _pool(graph, order, i, conv)
    oh, ow = conv.out_hw
    q = fold[0] if fold else conv.pool
    image = (conv.out_channels, oh // q, ow // q)
    if i < len(order) and isinstance(nodes[order[i]], nir.Flatten):
        _check_flatten(nodes[order[i]], order[i])
        image, i = None, i + 1
    elif fold is not None:
        after = f"{_kind(nodes[order[i]])} node {order[i]!r}" if i < len(order) else "Output"
        raise ValueError(f"{_kind(nodes[fold[2]])} node {fold[2]!r} feeds {after}: a window's "
                         "mean (sum) of spikes is not a spike; spikefab takes it only before "
                         "Flatten and a dense layer (folded into its weights), or pools with "
                         "SumPool2d + Threshold (a window's OR)")
    return {"dense": name, "neuron": nxt, "conv": conv}, image, fold, i


def stages(graph, order: list, input_name: str) -> list[dict]:
    """``[{"dense", "neuron", "conv", "fold"}]`` of the chain ``order`` (Input and Output
    left out)."""
    nodes = graph.nodes
    if order and isinstance(nodes[order[0]], nir.Flatten):
        order = order[1:]
        if order and isinstance(nodes[order[0]], nir.Conv2d):
            raise ValueError(f"Conv2d node {order[0]!r} reads a flattened input; a conv layer "
                             "reads the input image (drop the Flatten after Input)")
    image = image_shape(graph, order[0], input_name) if order and isinstance(
        nodes[order[0]], nir.Conv2d) else None
    out, fold, i = [], None, 0
    while i < len(order):
        name = order[i]
        node = nodes[name]
        if isinstance(node, nir.Conv2d):
            if image is None:
                raise ValueError(f"Conv2d node {name!r} follows a dense layer (or a Flatten); "
                                 "spikefab's conv layers come first, on the input image")
            stage, image, fold, i = _conv_stage(graph, order, i, image)
            out.append(stage)
            continue
        if not isinstance(node, DENSE):
            where = f"after {order[i - 1]!r}" if i else "right after Input"
            if isinstance(node, nir.Flatten):
                raise ValueError(f"Flatten node {name!r} {where} is allowed only right after "
                                 "Input or after a conv layer")
            if isinstance(node, (*POOL_NODES, nir.Threshold)):
                raise ValueError(f"{_kind(node)} node {name!r} {where}: spikefab pools a conv "
                                 "layer's spikes (SumPool2d + Threshold after its neuron)")
            raise ValueError(f"{_kind(node)} node {name!r} {where}: every neuron must follow "
                             "an Affine, Linear or Conv2d node")
        if image is not None:
            raise ValueError(f"{_kind(node)} node {name!r} reads the image of conv node "
                             f"{out[-1]['dense']!r}; put a Flatten between them")
        nxt = order[i + 1] if i + 1 < len(order) else None
        if nxt is not None and isinstance(nodes[nxt], DENSE):
            raise ValueError(
                f"{_kind(node)} node {name!r} feeds another dense node {nxt!r}; spikefab "
                "needs a neuron between dense layers"
            )
        if nxt is not None and not isinstance(nodes[nxt], tuple(NEURONS)):
            raise ValueError(f"{_kind(node)} node {name!r} feeds {_kind(nodes[nxt])} node "
                             f"{nxt!r}; a dense layer is followed by a neuron or the Output")
        out.append({"dense": name, "neuron": nxt, "conv": None, "fold": fold})
        fold = None
        i += 2 if nxt is not None else 1
    if not any(s["conv"] is None for s in out):
        raise ValueError("the NIR graph has no Affine or Linear node")
    return out
