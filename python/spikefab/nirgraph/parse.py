"""Read a NIR graph into a chain of dense layers (``NIRLayer``) under explicit ``ImportModes``.

spikefab's networks are chains ``Input -> (dense -> neuron)* -> dense -> [neuron] ->
Output``, where dense is ``Affine`` or ``Linear``, a hidden neuron is ``LIF``, ``CubaLIF`` or
``IF``, and the last layer's neuron (if any) one of those (a spiking readout) or ``LI``/``I``.
A ``Flatten`` right after ``Input`` is allowed (it only names the input layout). Any other
node type, a branch, a cycle, or a subgraph (snnTorch's recurrent ``RLeaky`` is one) is a
one-line ``ValueError`` naming the node and what is supported.
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

from .format import spikefab_info
from .modes import (
    PROFILES,
    ImportModes,
    as_floats,
    euler_coefficients,
    node_param,
    synapse_coefficients,
)

__all__ = ["NIRLayer", "NIRNetwork", "SPIKING", "SUPPORTED", "import_nir"]

SUPPORTED = ("Input, Affine, Linear, LIF, CubaLIF, IF, LI, I, Output (and Flatten right after "
             "Input)")
_DENSE = (nir.Affine, nir.Linear)
_NEURONS = {nir.LIF: "LIF", nir.CubaLIF: "CubaLIF", nir.IF: "IF", nir.LI: "LI", nir.I: "I"}
#: The neuron kinds that spike.
SPIKING = ("LIF", "CubaLIF", "IF")


@dataclass(frozen=True, eq=False)
class NIRLayer:
    """One dense layer and its neuron stage, discretised (``modes`` docstring has the equations).

    Attributes
    ----------
    dense, neuron : str, str or None
        Node names in the graph (``neuron`` is None when the current goes to ``Output``).
    kind : str or None
        ``"LIF"``, ``"CubaLIF"``, ``"IF"`` (spiking), ``"LI"``, ``"I"`` (integrating
        readout) or None.
    weight : float64 ``[n_out, n_in]``; bias : float64 ``[n_out]`` or None (``Linear``)
    beta, gain, v_leak, v_threshold, v_reset : float64 ``[n_out]``
        ``v <- beta*v + gain*I + (1-beta)*v_leak``; thresholds only for spiking kinds.
    reset : str or None
        The layer's reset mode (spiking kinds only).
    threshold : str or None
        The layer's threshold mode, ``"gt"`` or ``"ge"`` (spiking kinds only).
    alpha, syn_gain : float64 ``[n_out]`` or None
        A ``CubaLIF``'s synapse: ``i <- alpha*i + syn_gain*I``, and ``i`` drives ``v``.
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

    @property
    def n_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])

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
        if not isinstance(node, (nir.Input, nir.Output, nir.Flatten, *_DENSE, *_NEURONS)):
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


def _layer(graph, dense: str, neuron: str | None, modes: ImportModes, reset: str | None,
           threshold: str | None):
    d = graph.nodes[dense]
    weight = as_floats(d.weight, type(d).__name__, dense, "weight")
    if weight.ndim != 2:
        raise ValueError(
            f"{type(d).__name__} node {dense!r}: weight must be 2-D [n_out, n_in], "
            f"not {list(weight.shape)}"
        )
    n = weight.shape[0]
    bias = None
    if isinstance(d, nir.Affine):
        bias = as_floats(d.bias, "Affine", dense, "bias").reshape(-1)
        if bias.shape != (n,):
            raise ValueError(
                f"Affine node {dense!r}: bias must have shape [{n}], not {list(bias.shape)}"
            )
    _check_finite(weight, type(d).__name__, dense, "weight")
    if bias is not None:
        _check_finite(bias, "Affine", dense, "bias")
    ones, zeros = np.ones(n), np.zeros(n)
    if neuron is None:
        return NIRLayer(dense, None, None, weight, bias, ones, ones, zeros, zeros, zeros, None)
    node = graph.nodes[neuron]
    kind = _NEURONS[type(node)]
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
                    threshold, alpha, syn_gain)


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
    order = chain[1:-1]
    if order and isinstance(source.nodes[order[0]], nir.Flatten):
        order = order[1:]
    if any(isinstance(source.nodes[n], nir.Flatten) for n in order):
        bad = next(n for n in order if isinstance(source.nodes[n], nir.Flatten))
        raise ValueError(f"Flatten node {bad!r} is allowed only right after Input")
    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(order):
        name = order[i]
        if not isinstance(source.nodes[name], _DENSE):
            where = f"after {order[i - 1]!r}" if i else "right after Input"
            raise ValueError(
                f"{type(source.nodes[name]).__name__} node {name!r} {where}: every neuron "
                "must follow an Affine or Linear node"
            )
        nxt = order[i + 1] if i + 1 < len(order) else None
        if nxt is not None and not isinstance(source.nodes[nxt], tuple(_NEURONS)):
            raise ValueError(
                f"{type(source.nodes[name]).__name__} node {name!r} feeds another dense node "
                f"{nxt!r}; spikefab needs a neuron between dense layers"
            )
        pairs.append((name, nxt))
        i += 2 if nxt is not None else 1
    if not pairs:
        raise ValueError("the NIR graph has no Affine or Linear node")
    kinds = [None if n is None else _NEURONS[type(source.nodes[n])] for _, n in pairs]
    for j, ((_, n), kind) in enumerate(zip(pairs, kinds, strict=True)):
        last = j == len(pairs) - 1
        if not last and kind not in SPIKING:
            what = "no neuron" if n is None else f"{kind} node {n!r}"
            raise ValueError(
                f"layer {j} has {what}; hidden layers need a spiking LIF, CubaLIF or IF "
                "neuron (LI, I or none only on the last layer)"
            )
    n_spiking = sum(k in SPIKING for k in kinds)
    layers, s = [], 0
    for (dense, neuron), kind in zip(pairs, kinds, strict=True):
        reset = threshold = None
        if kind in SPIKING:
            reset = modes.reset_of(s, n_spiking)
            threshold = modes.threshold_of(s, n_spiking)
            s += 1
        layers.append(_layer(source, dense, neuron, modes, reset, threshold))
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
        if layers[j].n_in != layers[j - 1].n_out:
            prev = layers[j - 1].neuron or layers[j - 1].dense
            raise ValueError(
                f"node {layers[j].dense!r} takes {layers[j].n_in} inputs but {prev!r} gives "
                f"{layers[j - 1].n_out}"
            )
    return NIRNetwork(tuple(layers), modes, info)
