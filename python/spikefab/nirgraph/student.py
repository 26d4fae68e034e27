"""A float ``SpikingMLP`` (or ``SpikingCNN``) to a NIR graph, and an imported graph to a
``SpikingMLP`` (or ``SpikingCNN``).

Export: each ``fcs[l]`` becomes ``Affine`` (its float32 weights), each neuron stage the node
``quantized.float_node`` writes (snnTorch's convention: ``tau = dt / (1 - beta)``,
``r = tau / dt``, so the gain is 1; ``IF`` without leak; ``CubaLIF`` with ``w_in = tau_syn /
dt`` for a synapse), the readout ``Affine -> Output`` (or ``-> neuron`` with the spike
readout); the metadata records ``T``, the modes and the surrogate slope, so the import gives
the same model back.

Import (``to_student``) maps a graph onto ``SpikingMLP``'s one neuron (one leak, synapse,
threshold and reset for every spiking layer), and refuses what does not fit with the node's
name:

* the spiking layers all LIF / CubaLIF (one ``beta``, within ``GAIN_RTOL``: ``1 - 2**-k``
  gives ``leak_shift = k``, any other the float ``beta``) or all IF (no leak);
  a CubaLIF's ``alpha`` likewise one value;
* ``v_leak = 0``; reset ``"value"`` needs ``v_reset = 0`` (spikefab's ``"zero"``),
  ``"subtract_next"`` is ``"subtract-delayed"``; one reset and one threshold mode (``"gt"``
  is spikefab's ``gt`` extension: the same test as NIR's);
* a gain other than 1 (Norse) and thresholds that differ between neurons are folded into
  the weights (``W_i * gain_i * syn_gain_i / theta_i``, then ``theta = 1``): exact in real
  numbers, and in floats up to rounding of the scaled weights;
* the last layer: no neuron or an ``I`` integrator (the summing readout; its gain folded
  in), a spiking neuron (the spike readout: prediction by spike count, as snnTorch's
  ``spk.sum(0).argmax(1)``), or, with ``drop_output_neuron=True``, any neuron dropped and its
  input current read out (the summing readout of the same hidden spikes: a different
  classifier). ``LI`` leaks without spiking: refused unless dropped.

A graph with conv layers becomes a ``SpikingCNN`` when it has that model's form — every conv
layer 3x3, stride 1, padding 1, pooled 2x2 by an OR (``SumPool2d`` + ``Threshold``), a
``Flatten`` and one dense readout without a neuron — with one threshold and shift leak
(``1 - 2**-k`` or none) and the reset ``"subtract"`` or ``"zero"``: what ``SpikingCNN``
trains. Anything else is refused naming the node (run it with ``run_imported``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..snn.cnn import SpikingCNN
from ..snn.mlp import SpikingMLP
from ..snn.surrogate import SLOPE
from .format import DEFAULT_DT, FORMAT, RESET_TO_MODE, VERSION
from .modes import GAIN_RTOL, ImportModes
from .quantized import chain_graph, float_node

__all__ = ["export_student", "student_modes", "to_student"]

_MODE_TO_RESET = {"subtract": "subtract", "value": "zero", "subtract_next": "subtract-delayed"}


def export_student(model, dt: float = DEFAULT_DT):
    """NIR graph of a float ``SpikingMLP`` or ``SpikingCNN``; ``to_student(import_nir(graph))``
    rebuilds it."""
    if isinstance(model, SpikingCNN):
        return _export_cnn(model, dt)
    if not isinstance(model, SpikingMLP):
        raise TypeError(f"export_student model must be a SpikingMLP or a SpikingCNN, not "
                        f"{type(model).__name__}")
    lifs = model.spiking_lifs
    modes = ImportModes(dt=dt, reset=RESET_TO_MODE[model.reset], threshold=model.threshold)
    layers = []
    for i, fc in enumerate(model.fcs):
        w = fc.weight.detach().cpu().numpy().copy()
        b = np.zeros(w.shape[0], w.dtype) if fc.bias is None else fc.bias.detach().cpu().numpy()
        node = float_node(lifs[i], w.shape[0], dt) if i < len(lifs) else None
        layers.append((w, b.copy(), node))
    info = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "float",
        "modes": modes.to_dict(),
        "timesteps": model.timesteps,
        "slope": lifs[0].slope if lifs else SLOPE,
    }
    return chain_graph(model.n_in, layers, info)


def _export_cnn(model: SpikingCNN, dt: float):
    convs = (*model.conv_specs(), None)
    lif = model.lifs[0]
    layers = []
    for module, c in zip((*model.convs, model.readout), convs, strict=True):
        w = module.weight.detach().cpu().numpy().copy()
        b = module.bias.detach().cpu().numpy().copy()
        node = None if c is None else float_node(lif, (c.out_channels, *c.out_hw), dt)
        layers.append((w, b, node))
    info = {"format": FORMAT, "version": VERSION, "kind": "float",
            "modes": ImportModes(dt=dt, reset=RESET_TO_MODE[lif.reset],
                                 threshold=lif.threshold).to_dict(),
            "timesteps": model.timesteps, "slope": lif.slope}
    return chain_graph(model.n_in, layers, info, convs)


def _to_cnn(net, timesteps: int, slope: float) -> SpikingCNN:
    """The ``SpikingCNN`` of an imported graph of that form (module docstring)."""
    *stages, readout = net.layers
    for layer in stages:
        c = layer.conv
        if c is None or (c.kernel, c.stride, c.padding, c.pool) != (3, 1, 1, 2):
            what = "a dense layer" if c is None else (
                f"kernel {c.kernel}, stride {c.stride}, padding {c.padding}, pool {c.pool}")
            raise ValueError(f"node {layer.dense!r} is {what}; a SpikingCNN stage is a 3x3 "
                             "convolution (stride 1, padding 1) pooled 2x2 by an OR, and one "
                             "dense readout follows")
    if readout.conv is not None or readout.kind is not None:
        raise ValueError(f"node {readout.neuron or readout.dense!r}: a SpikingCNN's readout is "
                         "one dense layer without a neuron")
    modes = student_modes(net)
    extra = {k: v for k, v in modes.items() if k not in ("leak_shift", "reset")
             and v != {"threshold": "ge", "readout": "current"}.get(k)}
    if extra or modes["reset"] not in ("subtract", "zero"):
        bad = dict(extra) if extra else {"reset": modes["reset"]}
        raise ValueError(f"the graph's neurons have {bad}; a SpikingCNN trains a shift leak, "
                         "threshold 'ge' and the reset 'subtract' or 'zero'")
    thetas = np.concatenate([layer.v_threshold for layer in stages])
    if np.any(thetas != thetas[0]) or any(np.any(la.gain != 1) for la in stages):
        raise ValueError(f"{stages[0].kind} node {stages[0].neuron!r}: a SpikingCNN has one "
                         "threshold and unit input gain in every stage")
    c0 = stages[0].conv
    model = SpikingCNN((c0.in_channels, c0.height, c0.width),
                       [la.conv.out_channels for la in stages], readout.n_out,
                       timesteps=timesteps, leak_shift=modes["leak_shift"],
                       theta=float(thetas[0]), reset=modes["reset"], slope=slope)
    with torch.no_grad():
        for layer, module in zip(net.layers, (*model.convs, model.readout), strict=True):
            module.weight.copy_(torch.from_numpy(_float32(layer.weight, layer.dense, "weight")))
            b = np.zeros(layer.weight.shape[0]) if layer.bias is None else layer.bias
            module.bias.copy_(torch.from_numpy(_float32(b, layer.dense, "bias")))
    return model


def _float32(arr: np.ndarray, dense: str, field: str) -> np.ndarray:
    """``arr`` as float32; a value beyond float32's range (after any folding) is refused."""
    with np.errstate(over="ignore"):
        out = arr.astype(np.float32)
    if not np.all(np.isfinite(out)):
        i = tuple(np.argwhere(~np.isfinite(out))[0])
        where = ", ".join(str(int(k)) for k in i)
        raise ValueError(
            f"node {dense!r}: {field}[{where}] = {float(arr[i]):g} is beyond float32's range "
            f"(|x| <= {float(np.finfo(np.float32).max):g}), which a SpikingMLP holds"
        )
    return out


def _one(layers, field: str, what: str):
    """The one value of ``field`` over ``layers`` (within ``GAIN_RTOL``), or an error naming
    the first node that differs."""
    values = np.concatenate([getattr(layer, field) for layer in layers])
    first = float(values[0])
    for layer in layers:
        if np.any(np.abs(getattr(layer, field) - first) > GAIN_RTOL):
            raise ValueError(f"{layer.kind} node {layer.neuron!r}: {what} differs from "
                             f"{first:.6g}; SpikingMLP has one {what} for every layer")
    return first


def _leak(spiking) -> dict:
    """``leak_shift`` (``1 - 2**-k`` or no leak) or ``beta`` of the spiking layers."""
    if not spiking or spiking[0].kind == "IF":
        return {"leak_shift": None}
    beta = _one(spiking, "beta", "beta")
    for k in range(32):
        if abs(beta - (1.0 - 2.0**-k)) <= GAIN_RTOL:
            return {"leak_shift": k}
    return {"leak_shift": None, "beta": beta}


def student_modes(net) -> dict:
    """The ``SpikingMLP`` neuron arguments of an imported network (module docstring):
    ``leak_shift`` or ``beta``, ``reset``, ``threshold``, ``alpha``, ``readout``."""
    spiking = [layer for layer in net.layers if layer.spiking]
    readout = net.layers[-1]
    if readout.kind == "LI":
        raise ValueError(
            f"LI node {readout.neuron!r} on the last layer leaks (beta "
            f"{float(readout.beta[0]):.6g}); a spikefab readout sums its currents (last layer: "
            "no neuron, or I); or pass drop_output_neuron=True to read out its input current"
        )
    which = "spiking" if readout.spiking else "hidden"
    kinds = sorted({layer.kind for layer in spiking})
    if len(kinds) > 1:
        raise ValueError(f"SpikingMLP has one neuron type; the {which} layers mix {kinds}")
    out = _leak(spiking)
    cuba = kinds == ["CubaLIF"]
    if cuba:
        out["alpha"] = _one(spiking, "alpha", "alpha")
    resets, thresholds = set(), set()
    for layer in net.layers:
        if np.any(layer.v_leak != 0):
            raise ValueError(
                f"{layer.kind} node {layer.neuron!r}: v_leak must be 0 for a SpikingMLP, "
                f"not {float(layer.v_leak[layer.v_leak != 0][0]):g}"
            )
        if layer.spiking:
            if layer.reset == "value" and np.any(layer.v_reset != 0):
                raise ValueError(
                    f"{layer.kind} node {layer.neuron!r}: reset 'value' needs v_reset = 0 "
                    f"(spikefab's 'zero'), not {float(layer.v_reset[layer.v_reset != 0][0]):g}"
                )
            if np.any(layer.v_threshold <= 0):
                raise ValueError(
                    f"{layer.kind} node {layer.neuron!r}: v_threshold must be > 0, "
                    f"not {float(layer.v_threshold.min()):g}"
                )
            resets.add(_MODE_TO_RESET[layer.reset])
            thresholds.add(layer.threshold)
    for what, seen in (("reset", resets), ("threshold", thresholds)):
        if len(seen) > 1:
            raise ValueError(f"SpikingMLP has one {what} mode; the graph's layers use "
                             f"{sorted(seen)}")
    out["reset"] = resets.pop() if resets else "subtract"
    out["threshold"] = thresholds.pop() if thresholds else "ge"
    out["readout"] = "spikes" if readout.spiking else "current"
    return out


def _without_output_neuron(net):
    """``net`` with the last layer's neuron removed: its current becomes the readout."""
    last = net.layers[-1]
    n = last.n_out
    ones, zeros = np.ones(n), np.zeros(n)
    bare = replace(last, neuron=None, kind=None, beta=ones, gain=ones, v_leak=zeros,
                   v_threshold=zeros, v_reset=zeros, reset=None, threshold=None, alpha=None,
                   syn_gain=None)
    return replace(net, layers=(*net.layers[:-1], bare))


def to_student(net, timesteps: int | None = None, slope: float | None = None,
               drop_output_neuron: bool = False) -> SpikingMLP | SpikingCNN:
    """``SpikingMLP`` (``SpikingCNN`` for a graph with conv layers) computing what the
    imported ``net`` computes (module docstring).

    ``timesteps`` and ``slope`` default to the values spikefab recorded in the graph;
    ``timesteps`` is required for other graphs (NIR does not record ``T``). With
    ``drop_output_neuron`` a neuron on the last layer is dropped and the current it
    received becomes the readout: the hidden spikes stay the same, but the decision (summed
    current instead of spike counts) is a different one, so measure its accuracy again.
    """
    if drop_output_neuron and net.layers[-1].kind is not None:
        net = _without_output_neuron(net)
    info = net.info or {}
    if timesteps is None:
        timesteps = info.get("timesteps") or (info.get("spec") or {}).get("timesteps")
        if timesteps is None:
            raise ValueError("to_student timesteps is required: a NIR graph does not record T")
    slope = info.get("slope", SLOPE) if slope is None else slope
    if any(layer.conv is not None for layer in net.layers):
        return _to_cnn(net, timesteps, slope)
    modes = student_modes(net)
    spiking = [layer for layer in net.layers if layer.spiking]
    thetas = np.concatenate([layer.v_threshold for layer in spiking]) if spiking else np.ones(1)
    uniform = bool(np.all(thetas == thetas[0]))
    theta = float(thetas[0]) if uniform else 1.0
    sizes = [net.n_in] + [layer.n_out for layer in net.layers]
    model = SpikingMLP(sizes, timesteps=timesteps, theta=theta, slope=slope, **modes)
    with torch.no_grad():
        for layer, fc in zip(net.layers, model.fcs, strict=True):
            scale = layer.gain if layer.kind is not None else np.ones(layer.n_out)
            if layer.syn_gain is not None:
                scale = scale * layer.syn_gain
            if layer.spiking and not uniform:
                scale = scale / layer.v_threshold
            w = layer.weight if np.all(scale == 1) else layer.weight * scale[:, None]
            b = np.zeros(layer.n_out) if layer.bias is None else layer.bias * scale
            fc.weight.copy_(torch.from_numpy(_float32(w, layer.dense, "weight")))
            fc.bias.copy_(torch.from_numpy(_float32(b, layer.dense, "bias")))
    return model
