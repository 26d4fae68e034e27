"""A ``QuantizedNetwork`` to a NIR graph and back, bit for bit.

Export writes each layer as ``Affine`` (the integer weights and biases as float64, exact
below 2**53) and each hidden neuron as a NIR node whose Euler step with ``dt`` is the float
form of semantics v1 (``modes`` has the equations):

* ``leak_shift = k``: ``LIF(tau = dt * 2**k, r = 2**k, v_leak = 0, v_threshold = theta,
  v_reset = 0)``, so ``beta = 1 - dt/tau = 1 - 2**-k`` and ``gain = r*dt/tau = 1`` exactly;
* ``leak_shift = None``: ``IF(r = 1, v_threshold = theta, v_reset = 0)``;
* the readout: ``Affine -> Output`` (per-step logits are the current ``I``).

What NIR cannot say is written into ``graph.metadata["spikefab"]`` (a JSON string): the
spec (widths, ``T``, encoding, the floor in ``v >> k`` and saturation), the modes
(``threshold="ge"``; reset ``"subtract"`` or ``"value"`` for spikefab's ``"zero"``) and
the IR's ``meta``. ``to_quantized`` rebuilds the network from the nodes and checks every
node against that spec, so an edited graph is refused with the node's name.
"""

from __future__ import annotations

import json

import nir
import numpy as np

from ..ir import QuantizedNetwork
from ..spec import NetworkSpec
from .format import DEFAULT_DT, FORMAT, META_KEY, RESET_TO_MODE, VERSION
from .modes import ImportModes

__all__ = ["chain_graph", "export_quantized", "neuron_node", "to_quantized"]



def neuron_node(leak_shift: int | None, theta: float, n: int, dt: float):
    """The NIR node of ``n`` spikefab neurons (LIF for a leak shift, IF without leak)."""
    thr = np.full(n, float(theta))
    zeros = np.zeros(n)
    if leak_shift is None:
        return nir.IF(r=np.ones(n), v_threshold=thr, v_reset=zeros)
    tau = np.full(n, dt * 2.0**leak_shift)
    return nir.LIF(tau=tau, r=np.full(n, 2.0**leak_shift), v_leak=zeros, v_threshold=thr,
                   v_reset=zeros)


def chain_graph(n_in: int, layers, info: dict) -> nir.NIRGraph:
    """``Input -> (Affine [-> neuron])* -> Output`` from ``(weight, bias, node or None)``."""
    nodes = {"input": nir.Input(input_type=np.array([n_in]))}
    edges, prev = [], "input"
    for i, (w, b, neuron) in enumerate(layers):
        nodes[f"fc{i}"] = nir.Affine(weight=w, bias=b)
        edges.append((prev, f"fc{i}"))
        prev = f"fc{i}"
        if neuron is not None:
            name = f"{type(neuron).__name__.lower()}{i}"
            nodes[name] = neuron
            edges.append((prev, name))
            prev = name
    nodes["output"] = nir.Output(output_type=np.array([layers[-1][0].shape[0]]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={META_KEY: json.dumps(info)})


def export_quantized(net: QuantizedNetwork, dt: float = DEFAULT_DT) -> nir.NIRGraph:
    """NIR graph of ``net``; ``to_quantized(import_nir(graph))`` gives ``net`` back exactly."""
    if not isinstance(net, QuantizedNetwork):
        raise TypeError(
            f"export_quantized net must be a QuantizedNetwork, not {type(net).__name__}"
        )
    spec = net.spec
    spec.require("export_quantized")
    resets = [RESET_TO_MODE[layer.neuron.reset] for layer in spec.hidden]
    reset = resets[0] if len(set(resets)) == 1 else tuple(resets) if resets else "value"
    modes = ImportModes(dt=dt, reset=reset, threshold="ge")
    layers = []
    for i, layer in enumerate(spec.layers):
        lif = layer.neuron
        node = None if lif is None else neuron_node(lif.leak_shift, lif.theta, layer.n_out, dt)
        layers.append((net.weights[i].astype(np.float64), net.biases[i].astype(np.float64), node))
    info = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "quantized",
        "modes": modes.to_dict(),
        "spec": spec.to_dict(),
        "meta": net.meta,
    }
    return chain_graph(spec.n_in, layers, info)


def _integers(arr: np.ndarray, what: str) -> np.ndarray:
    if not np.all(arr == np.round(arr)) or np.any(np.abs(arr) >= 2.0**53):
        bad = arr[(arr != np.round(arr)) | (np.abs(arr) >= 2.0**53)].ravel()[0]
        raise ValueError(f"{what} must hold integers (an IR exported by spikefab), not {bad!r}")
    return arr.astype(np.int64)


def _check_neuron(layer, lif) -> None:
    """Refuse a node that does not say what the spec says (an edited graph)."""
    name = layer.neuron
    if lif is None:
        if layer.kind is not None:
            raise ValueError(
                f"{layer.kind} node {name!r} sits on the readout; the spikefab spec's last "
                "layer has no neuron"
            )
        return
    want = "IF" if lif.leak_shift is None else "LIF"
    if layer.kind != want:
        got = "no neuron" if layer.kind is None else f"a {layer.kind} node {name!r}"
        raise ValueError(f"layer after {layer.dense!r} has {got}; the spikefab spec needs {want}")
    beta = lif.beta
    checks = (
        ("beta = 1 - dt/tau", layer.beta, beta),
        ("input gain", layer.gain, 1.0),
        ("v_leak", layer.v_leak, 0.0),
        ("v_threshold", layer.v_threshold, float(lif.theta)),
        ("v_reset", layer.v_reset, 0.0),
    )
    for what, got, expect in checks:
        if np.any(got != expect):
            bad = float(got[got != expect][0])
            raise ValueError(
                f"{layer.kind} node {name!r}: {what} is {bad!r} but the spikefab spec says "
                f"{expect!r}"
            )
    if layer.reset != RESET_TO_MODE[lif.reset]:
        raise ValueError(
            f"{layer.kind} node {name!r}: reset mode {layer.reset!r} but the spikefab spec "
            f"says {lif.reset!r} (mode {RESET_TO_MODE[lif.reset]!r})"
        )


def to_quantized(net) -> QuantizedNetwork:
    """Rebuild the ``QuantizedNetwork`` of a graph written by ``export_quantized``."""
    info = net.info
    if not info or info.get("kind") != "quantized":
        got = "no spikefab metadata" if not info else f"a spikefab {info.get('kind')!r} graph"
        raise ValueError(
            f"to_quantized needs a graph written by export_quantized, not {got}; import it "
            "as a float student (to_student) and quantize it with export_ptq"
        )
    if info.get("version") != VERSION:
        raise ValueError(f"spikefab-nir version must be {VERSION}, not {info.get('version')!r}")
    spec = NetworkSpec.from_dict(info["spec"])
    if net.modes.threshold != "ge":
        raise ValueError(
            f"modes.threshold must be 'ge' for a spikefab IR, not {net.modes.threshold!r}"
        )
    if len(net.layers) != len(spec.layers):
        raise ValueError(
            f"the graph has {len(net.layers)} dense layers but the spikefab spec has "
            f"{len(spec.layers)}"
        )
    weights, biases = [], []
    for layer, ls in zip(net.layers, spec.layers, strict=True):
        _check_neuron(layer, ls.neuron)
        weights.append(_integers(layer.weight, f"node {layer.dense!r} weight"))
        bias = np.zeros(layer.n_out) if layer.bias is None else layer.bias
        biases.append(_integers(bias, f"node {layer.dense!r} bias"))
    return QuantizedNetwork(spec, tuple(weights), tuple(biases), dict(info.get("meta") or {}))
