"""Read a NIR graph into a chain of layers (``NIRLayer``) under explicit ``ImportModes``.

spikefab's networks are chains ``Input -> (conv stage)* -> (dense -> neuron)* -> dense ->
[neuron] -> Output``, where dense is ``Affine`` or ``Linear``, a hidden neuron is ``LIF``,
``CubaLIF`` or ``IF``, and the last layer's neuron (if any) one of those (a spiking readout)
or ``LI``/``I``. A conv stage (extension ``conv2d``; ``nirgraph.conv`` has the forms) is
``Conv2d -> neuron``, maybe pooled (``SumPool2d -> Threshold``: a window's OR; an
``AvgPool2d`` only before ``Flatten`` and a dense layer, which it is folded into), and a
``Flatten`` before the first dense layer. A ``Flatten`` right after ``Input`` is allowed (it
only names the input layout). Any other node type, a branch, a cycle, or a subgraph
(snnTorch's recurrent ``RLeaky`` is one) is a one-line ``ValueError`` naming the node and
what is supported.
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

from ..spec import ConvSpec
from .conv import POOL_NODES, fold_pool
from .format import spikefab_info
from .modes import (
    PROFILES,
    ImportModes,
    as_floats,
    euler_coefficients,
    node_param,
    synapse_coefficients,
)
from .walk import DENSE, NEURONS, SPIKING, stages

__all__ = ["NIRLayer", "NIRNetwork", "SPIKING", "SUPPORTED", "import_nir"]

SUPPORTED = ("Input, Affine, Linear, LIF, CubaLIF, IF, LI, I, Output, Conv2d, SumPool2d + "
             "Threshold, AvgPool2d (before a dense layer), Flatten (after Input or a conv stage)")
_CONV = (nir.Conv2d, *POOL_NODES, nir.Threshold)


@dataclass(frozen=True, eq=False)
class NIRLayer:
    """One dense layer and its neuron stage, discretised (``modes`` docstring has the equations).

    Attributes
    ----------
    dense, neuron : str, str or None
        Node names in the graph (``dense`` is the ``Conv2d`` of a conv layer; ``neuron`` is
        None when the current goes to ``Output``).
    kind : str or None
        ``"LIF"``, ``"CubaLIF"``, ``"IF"`` (spiking), ``"LI"``, ``"I"`` (integrating
        readout) or None.
    weight : float64 ``[n_out, n_in]`` (``[C_out, C_in, k, k]`` for conv); bias : float64
        ``[n_out]`` (``[C_out]``) or None (``Linear``); a pooling folded into a dense layer
        is in its weight (``nirgraph.conv.fold_pool``)
    beta, gain, v_leak, v_threshold, v_reset : float64 ``[n_out]``
        ``v <- beta*v + gain*I + (1-beta)*v_leak``; thresholds only for spiking kinds.
    reset : str or None
        The layer's reset mode (spiking kinds only).
    threshold : str or None
        The layer's threshold mode, ``"gt"`` or ``"ge"`` (spiking kinds only).
    alpha, syn_gain : float64 ``[n_out]`` or None
        A ``CubaLIF``'s synapse: ``i <- alpha*i + syn_gain*I``, and ``i`` drives ``v``.
    conv : ConvSpec or None
        A conv layer's shape and pooling (its neurons are every output position, flattened
        channel-major); None: dense.
    """

    dense: str
    neuron: str | None
    kind: str | None
    weight: np.ndarray
    bias: np.ndarray | None
    beta: np.ndarray
    gain: np.ndarray
    v_leak: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    reset: str | None
    threshold: str | None = None
    alpha: np.ndarray | None = None
    syn_gain: np.ndarray | None = None
    conv: ConvSpec | None = None

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1]) if self.conv is None else self.conv.n_in

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0]) if self.conv is None else self.conv.n_out

    @property
    def n_next(self) -> int:
        """What the next layer reads: the pooled spikes of a pooling conv layer."""
        return self.n_out if self.conv is None else self.conv.n_pooled

    @property
    def spiking(self) -> bool:
        return self.kind in SPIKING


@dataclass(frozen=True, eq=False)
class NIRNetwork:
    """An imported graph: layers in order, the modes used, and spikefab's metadata if any.

    The conversions are free functions: ``run_imported`` (nirgraph.run) simulates exactly
    what the graph says under ``modes`` (torch); ``to_student`` (nirgraph.student) gives a
    float ``SpikingMLP``; ``to_quantized`` (nirgraph.quantized) rebuilds the
    ``QuantizedNetwork`` of a graph spikefab exported (bit for bit).
    """

    layers: tuple[NIRLayer, ...]
    modes: ImportModes
    info: dict | None = None

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out


def _resolve_modes(modes, info) -> ImportModes:
    written = ImportModes.from_dict(info["modes"]) if info and "modes" in info else None
    if isinstance(modes, str):
        if modes not in PROFILES:
            allowed = ", ".join(repr(p) for p in PROFILES)
            raise ValueError(f"modes must be an ImportModes or one of {allowed}, not {modes!r}")
        modes = PROFILES[modes]
    if modes is None:
        if written is None:
            raise ValueError(
                "modes is required for a graph spikefab did not write: pass "
                "ImportModes(dt=..., reset=..., threshold=...) or one of 'snntorch', 'norse', "
                "'norse-dev'"
            )
        return written
    if not isinstance(modes, ImportModes):
        raise TypeError(f"modes must be an ImportModes, a profile name or None, not {modes!r}")
    if written is not None and modes != written:
        for field in ("dt", "reset", "threshold"):
            if getattr(modes, field) != getattr(written, field):
                raise ValueError(
                    f"modes.{field} = {getattr(modes, field)!r} contradicts the graph, which "
                    f"spikefab wrote with {field} = {getattr(written, field)!r}"
                )
    return modes


def _chain(graph) -> list[str]:
    """Node names from Input to Output; the graph must be one unbranched path."""
    nodes, edges = graph.nodes, list(dict.fromkeys(tuple(e) for e in graph.edges))
    for name, node in nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise ValueError(
                f"NIR node {name!r} is a NIRGraph (a subgraph, e.g. a recurrent RLeaky); "
                f"spikefab imports a feed-forward chain of {SUPPORTED}"
            )
        if not isinstance(node, (nir.Input, nir.Output, nir.Flatten, *DENSE, *NEURONS,
                                 *_CONV)):
            raise ValueError(
                f"NIR node {name!r} is a {type(node).__name__}; spikefab imports {SUPPORTED}"
            )
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"a NIR graph must have exactly one Input and one Output node, not inputs "
            f"{inputs} and outputs {outputs}"
        )
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if a not in nodes or b not in nodes:
            raise ValueError(f"NIR edge ({a!r}, {b!r}) names a node the graph does not have")
        succ[a].append(b)
    order, seen, cur = [inputs[0]], {inputs[0]}, inputs[0]
    while cur != outputs[0]:
        nxt = succ[cur]
        if len(nxt) != 1:
            raise ValueError(
                f"NIR node {cur!r} feeds {len(nxt)} nodes {nxt}; spikefab imports an "
                "unbranched chain (one successor per node)"
            )
        cur = nxt[0]
        if cur in seen:
            raise ValueError(
                f"NIR node {cur!r} is on a cycle; spikefab imports feed-forward chains"
            )
        seen.add(cur)
        order.append(cur)
    rest = sorted(set(nodes) - seen)
    if rest:
        raise ValueError(
            f"NIR nodes {rest} are not on the Input -> Output chain; spikefab imports one "
            "unbranched chain"
        )
    chain_edges = set(zip(order[:-1], order[1:], strict=True))
    extra = [e for e in edges if e not in chain_edges]
    if extra:
        raise ValueError(
            f"NIR edges {extra} leave the Input -> Output chain; spikefab imports one "
            "unbranched feed-forward chain"
        )
    return order


def _check_finite(arr: np.ndarray, kind: str, name: str, field: str) -> None:
    """Refuse NaN or +-inf in a dense node's parameter, naming the node, field and entry."""
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        where = ", ".join(str(int(i)) for i in bad[0])
        raise ValueError(
            f"{kind} node {name!r}: {field}[{where}] must be finite, not "
            f"{float(arr[tuple(bad[0])])}"
        )


def _layer(graph, stage: dict, modes: ImportModes, reset: str | None, threshold: str | None):
    dense, neuron, conv = stage["dense"], stage["neuron"], stage.get("conv")
    d = graph.nodes[dense]
    weight = as_floats(d.weight, type(d).__name__, dense, "weight")
    if conv is None and weight.ndim != 2:
        raise ValueError(
            f"{type(d).__name__} node {dense!r}: weight must be 2-D [n_out, n_in], "
            f"not {list(weight.shape)}"
        )
    if stage.get("fold") is not None:
        q, scale, pool, src = stage["fold"]
        want = src.out_channels * (src.out_hw[0] // q) * (src.out_hw[1] // q)
        if weight.shape[1] != want:
            raise ValueError(f"{type(d).__name__} node {dense!r} takes {weight.shape[1]} "
                             f"inputs but {pool!r} gives {want}")
        weight = fold_pool(weight, src, q, scale)
    n = weight.shape[0]
    bias = None
    if conv is not None:
        bias = as_floats(d.bias, "Conv2d", dense, "bias").reshape(-1)
        if bias.shape != (n,):
            raise ValueError(f"Conv2d node {dense!r}: bias must have shape [{n}], not "
                             f"{list(bias.shape)}")
        n = (conv.out_channels, *conv.out_hw)
    elif isinstance(d, nir.Affine):
        bias = as_floats(d.bias, "Affine", dense, "bias").reshape(-1)
        if bias.shape != (n,):
            raise ValueError(
                f"Affine node {dense!r}: bias must have shape [{n}], not {list(bias.shape)}"
            )
    _check_finite(weight, type(d).__name__, dense, "weight")
    if bias is not None:
        _check_finite(bias, type(d).__name__, dense, "bias")
    size = int(np.prod(n))
    ones, zeros = np.ones(size), np.zeros(size)
    if neuron is None:
        return NIRLayer(dense, None, None, weight, bias, ones, ones, zeros, zeros, zeros, None)
    node = graph.nodes[neuron]
    kind = NEURONS[type(node)]
    beta, gain, v_leak = euler_coefficients(kind, node, modes.dt, neuron, n)
    thr, v_reset = zeros, zeros
    alpha = syn_gain = None
    if kind == "CubaLIF":
        alpha, syn_gain = synapse_coefficients(node, modes.dt, modes.synapse, neuron, n)
    if kind in SPIKING:
        thr = node_param(node, "v_threshold", neuron, kind, n)
        v_reset = node_param(node, "v_reset", neuron, kind, n)
        if reset != "value" and np.any(v_reset != 0):
            raise ValueError(
                f"{kind} node {neuron!r}: reset {reset!r} ignores v_reset, but v_reset is "
                f"{float(v_reset[v_reset != 0][0]):g}; use reset 'value'"
            )
    return NIRLayer(dense, neuron, kind, weight, bias, beta, gain, v_leak, thr, v_reset, reset,
                    threshold, alpha, syn_gain, conv)


def import_nir(source, modes: ImportModes | str | None = None) -> NIRNetwork:
    """Import a NIR graph (or a ``.nir`` file) as a ``NIRNetwork``.

    Parameters
    ----------
    source : nir.NIRGraph or path
        The graph, or a file written by ``nir.write`` / ``write_nir``.
    modes : ImportModes, str or None
        ``dt``, reset and threshold modes; ``"snntorch"``, ``"norse"``, ``"norse-dev"``
        name the presets in ``PROFILES``. None only for graphs spikefab wrote (their
        modes are in the metadata); explicit modes that contradict that metadata are an
        error.
    """
    if not isinstance(source, nir.NIRGraph):
        from .files import read_nir

        source = read_nir(source)
    info = spikefab_info(source)
    modes = _resolve_modes(modes, info)
    chain = _chain(source)
    pairs = stages(source, chain[1:-1], chain[0])
    kinds = [None if p["neuron"] is None else NEURONS[type(source.nodes[p["neuron"]])]
             for p in pairs]
    for j, (n, kind) in enumerate(zip((p["neuron"] for p in pairs), kinds, strict=True)):
        last = j == len(pairs) - 1
        if not last and kind not in SPIKING:
            what = "no neuron" if n is None else f"{kind} node {n!r}"
            raise ValueError(
                f"layer {j} has {what}; hidden layers need a spiking LIF, CubaLIF or IF "
                "neuron (LI, I or none only on the last layer)"
            )
    n_spiking = sum(k in SPIKING for k in kinds)
    layers, s = [], 0
    for stage, kind in zip(pairs, kinds, strict=True):
        reset = threshold = None
        if kind in SPIKING:
            reset = modes.reset_of(s, n_spiking)
            threshold = modes.threshold_of(s, n_spiking)
            s += 1
        layers.append(_layer(source, stage, modes, reset, threshold))
    for name in ("reset", "threshold"):
        if isinstance(getattr(modes, name), tuple):
            modes._of(name, 0, n_spiking)
    shape = np.asarray(source.nodes[chain[0]].input_type.get("input", []))
    if shape.size and int(np.prod(shape)) != layers[0].n_in:
        raise ValueError(
            f"node {layers[0].dense!r} takes {layers[0].n_in} inputs but {chain[0]!r} gives "
            f"{int(np.prod(shape))}"
        )
    for j in range(1, len(layers)):
        if layers[j].n_in != layers[j - 1].n_next:
            prev = layers[j - 1].neuron or layers[j - 1].dense
            raise ValueError(
                f"node {layers[j].dense!r} takes {layers[j].n_in} inputs but {prev!r} gives "
                f"{layers[j - 1].n_next}"
            )
    return NIRNetwork(tuple(layers), modes, info)
