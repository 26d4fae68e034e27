"""A ``QuantizedNetwork`` to a NIR graph and back, bit for bit.

Export writes each layer as ``Affine`` (the integer weights and biases as float64, exact
below 2**53) and each neuron stage as a NIR node whose Euler step with ``dt`` is the float
form of its integer semantics (``modes`` has the equations):

* ``leak_shift = k``: ``LIF(tau = dt * 2**k, r = 2**k, v_leak = 0, v_threshold = theta,
  v_reset = 0)``, so ``beta = 1 - dt/tau = 1 - 2**-k`` and ``gain = r*dt/tau = 1`` exactly;
* ``decay = d`` (``decay_bits = q``): ``LIF(tau = dt * 2**q / d, r = 2**q / d)``, so
  ``beta = 1 - d / 2**q`` (to float64 rounding) and gain 1;
* no leak: ``IF(r = 1, v_threshold = theta, v_reset = 0)``;
* a synapse (``cuba``): ``CubaLIF(tau_syn = dt * 2**q_i / d_i, w_in = tau_syn / dt,
  tau_mem, r as above)``: ``alpha = 1 - d_i / 2**q_i``, synaptic gain 1 (NIR's Euler step,
  as snnTorch writes it); a decay of 0 is written as ``dt * 2**64`` (1 - dt/tau = 1);
* the readout: ``Affine -> Output`` (per-step logits are the current ``I``), or ``Affine ->
  neuron -> Output`` with the spike readout;
* a conv layer (``conv2d``): ``Conv2d`` then its neuron node (parameters shaped like the
  output image), its pooling as ``SumPool2d`` + ``Threshold(0.5)`` (a window's OR) and a
  ``Flatten`` before a dense layer (``nirgraph.conv``).

What NIR cannot say is written into ``graph.metadata["spikefab"]`` (a JSON string): the
spec (widths, ``T``, encoding, the floor in the leak and saturation), the modes (threshold
``"ge"`` or ``"gt"``; reset ``"subtract"``, ``"value"`` for spikefab's ``"zero"``,
``"subtract_next"`` for ``"subtract-delayed"``; per spiking layer when they differ) and
the IR's ``meta``. ``to_quantized`` rebuilds the network from the nodes and checks every
node against that spec, so an edited graph is refused with the node's name.
"""

from __future__ import annotations

import json

import nir
import numpy as np

from ..ir import QuantizedNetwork
from ..spec import NetworkSpec
from .conv import conv_nodes
from .format import DEFAULT_DT, FORMAT, META_KEY, RESET_TO_MODE, VERSION
from .modes import GAIN_RTOL, ImportModes

__all__ = ["EXPORTS", "chain_graph", "export_quantized", "float_node", "neuron_node",
           "to_quantized"]

#: The named extensions ``export_quantized`` writes (all of them).
EXPORTS = ("conv2d", "cuba", "decay", "delayed-reset", "gt", "spike-readout")
#: ``tau`` standing for no decay: ``1 - dt / tau`` is 1.0 in float64.
_NO_DECAY = 2.0**64


def _tau(dt: float, leak: float) -> float:
    """``tau`` with ``1 - dt/tau = 1 - leak`` (``leak`` in (0, 1]; 0: no decay)."""
    return dt * _NO_DECAY if leak == 0 else dt / leak


def neuron_node(leak_shift: int | None, theta: float, n, dt: float, *, leak=None,
                syn_leak=None):
    """The NIR node of ``n`` neurons (a count, or a conv layer's output shape) with threshold
    ``theta`` and unit gain: ``IF`` without leak, ``LIF`` with ``beta = 1 - 2**-leak_shift``
    (or ``1 - leak``), ``CubaLIF`` with a synapse whose ``alpha = 1 - syn_leak``."""
    thr = np.full(n, float(theta))
    zeros = np.zeros(n)
    if leak is None and leak_shift is not None:
        leak = 2.0**-leak_shift
    if syn_leak is not None:
        tau_mem, tau_syn = _tau(dt, leak or 0.0), _tau(dt, syn_leak)
        return nir.CubaLIF(tau_syn=np.full(n, tau_syn), tau_mem=np.full(n, tau_mem),
                           r=np.full(n, tau_mem / dt), v_leak=zeros, v_threshold=thr,
                           v_reset=zeros, w_in=np.full(n, tau_syn / dt))
    if not leak:
        return nir.IF(r=np.ones(n), v_threshold=thr, v_reset=zeros)
    if leak_shift is not None:  # exact powers of two: beta and gain exactly
        return nir.LIF(tau=np.full(n, dt * 2.0**leak_shift), r=np.full(n, 2.0**leak_shift),
                       v_leak=zeros, v_threshold=thr, v_reset=zeros)
    tau = _tau(dt, leak)
    return nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / dt), v_leak=zeros, v_threshold=thr,
                   v_reset=zeros)


def _spec_node(lif, n: int, dt: float):
    syn = lif.synapse
    leak = None if lif.decay is None else lif.decay / 2.0**lif.decay_bits
    return neuron_node(lif.leak_shift, lif.theta, n, dt, leak=leak,
                       syn_leak=None if syn is None else syn.decay / 2.0**syn.decay_bits)


def float_node(lif, n: int, dt: float):
    """The NIR node of a float ``snn.lif.LIF`` stage of ``n`` neurons."""
    leak = 1.0 - float(lif.beta) if lif.decay_given else None
    return neuron_node(lif.leak_shift, lif.theta, n, dt, leak=leak,
                       syn_leak=None if lif.alpha is None else 1.0 - float(lif.alpha))


def chain_graph(n_in: int, layers, info: dict, convs=None) -> nir.NIRGraph:
    """``Input -> (Affine [-> neuron])* -> Output`` from ``(weight, bias, node or None)``;
    ``convs`` (one ``ConvSpec`` or None per layer) makes a layer a conv stage
    (``nirgraph.conv.conv_nodes``)."""
    convs = [None] * len(layers) if convs is None else list(convs)
    c0 = convs[0]
    shape = [n_in] if c0 is None else [c0.in_channels, c0.height, c0.width]
    nodes = {"input": nir.Input(input_type=np.array(shape))}
    edges, prev = [], "input"
    for i, ((w, b, neuron), conv) in enumerate(zip(layers, convs, strict=True)):
        if conv is not None:
            chain = conv_nodes(i, conv, w, b, neuron, i + 1 < len(layers)
                               and convs[i + 1] is None)
        else:
            chain = [(f"fc{i}", nir.Affine(weight=w, bias=b))]
            if neuron is not None:
                chain.append((f"{type(neuron).__name__.lower()}{i}", neuron))
        for name, node in chain:
            nodes[name] = node
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
    spec.require("export_quantized", EXPORTS)

    def per_layer(values, default):
        return values[0] if len(set(values)) == 1 else tuple(values) if values else default

    resets = [RESET_TO_MODE[layer.neuron.reset] for layer in spec.spiking]
    thresholds = [layer.neuron.threshold for layer in spec.spiking]
    modes = ImportModes(dt=dt, reset=per_layer(resets, "value"),
                        threshold=per_layer(thresholds, "ge"))
    layers = []
    for i, layer in enumerate(spec.layers):
        lif, c = layer.neuron, layer.conv
        n = layer.n_out if c is None else (c.out_channels, *c.out_hw)
        node = None if lif is None else _spec_node(lif, n, dt)
        layers.append((net.weights[i].astype(np.float64), net.biases[i].astype(np.float64), node))
    info = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "quantized",
        "modes": modes.to_dict(),
        "spec": spec.to_dict(),
        "meta": net.meta,
    }
    return chain_graph(spec.n_in, layers, info, [layer.conv for layer in spec.layers])


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
    want = "CubaLIF" if lif.synapse is not None else "IF" if lif.beta == 1.0 else "LIF"
    if layer.kind != want:
        got = "no neuron" if layer.kind is None else f"a {layer.kind} node {name!r}"
        raise ValueError(f"layer after {layer.dense!r} has {got}; the spikefab spec needs {want}")
    # a decay's tau = dt * 2**q / d rounds: its beta is checked to GAIN_RTOL, a shift's exactly
    tol = 0.0 if lif.decay is None else GAIN_RTOL
    checks = [
        ("beta = 1 - dt/tau", layer.beta, lif.beta, tol),
        ("input gain", layer.gain, 1.0, 0.0),
        ("v_leak", layer.v_leak, 0.0, 0.0),
        ("v_threshold", layer.v_threshold, float(lif.theta), 0.0),
        ("v_reset", layer.v_reset, 0.0, 0.0),
    ]
    if lif.synapse is not None:
        checks += [("alpha = 1 - dt/tau_syn", layer.alpha, lif.synapse.alpha, GAIN_RTOL),
                   ("synaptic input gain", layer.syn_gain, 1.0, 0.0)]
    for what, got, expect, tol in checks:
        off = np.abs(got - expect) > tol
        if np.any(off):
            bad = float(got[off][0])
            raise ValueError(
                f"{layer.kind} node {name!r}: {what} is {bad!r} but the spikefab spec says "
                f"{expect!r}"
            )
    if layer.reset != RESET_TO_MODE[lif.reset]:
        raise ValueError(
            f"{layer.kind} node {name!r}: reset mode {layer.reset!r} but the spikefab spec "
            f"says {lif.reset!r} (mode {RESET_TO_MODE[lif.reset]!r})"
        )
    if layer.threshold != lif.threshold:
        raise ValueError(
            f"{layer.kind} node {name!r}: threshold mode {layer.threshold!r} but the spikefab "
            f"spec says {lif.threshold!r}"
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
    if len(net.layers) != len(spec.layers):
        raise ValueError(
            f"the graph has {len(net.layers)} dense layers but the spikefab spec has "
            f"{len(spec.layers)}"
        )
    weights, biases = [], []
    for layer, ls in zip(net.layers, spec.layers, strict=True):
        if layer.conv != ls.conv:
            what = "a dense layer" if ls.conv is None else f"the convolution {ls.conv}"
            got = "a dense layer" if layer.conv is None else f"{layer.conv}"
            raise ValueError(f"node {layer.dense!r} is {got}; the spikefab spec says {what}")
        _check_neuron(layer, ls.neuron)
        weights.append(_integers(layer.weight, f"node {layer.dense!r} weight"))
        bias = np.zeros(layer.n_out) if layer.bias is None else layer.bias
        biases.append(_integers(bias, f"node {layer.dense!r} bias"))
    return QuantizedNetwork(spec, tuple(weights), tuple(biases), dict(info.get("meta") or {}))
