"""A float ``SpikingMLP`` to a NIR graph, and an imported graph to a ``SpikingMLP``.

Export: each ``fcs[l]`` becomes ``Affine`` (its float32 weights), each hidden LIF the node
``quantized.neuron_node`` writes (``beta = 1 - 2**-k`` exactly, gain 1, threshold
``theta``), the readout ``Affine -> Output``; the metadata records ``T``, the modes
(``threshold="ge"``) and the surrogate slope, so the import gives the same model back.

Import (``to_student``) maps a graph onto ``SpikingMLP``'s single leak, threshold and
reset, and refuses what does not fit with the node's name:

* hidden layers all LIF (one ``beta`` that is ``1 - 2**-k``, within ``GAIN_RTOL``) or all IF;
* ``v_leak = 0``; reset ``"value"`` needs ``v_reset = 0`` (spikefab's ``"zero"``); one
  reset mode for all layers; ``"subtract_next"`` (snnTorch's delayed reset) is refused;
* a gain other than 1 (Norse) and thresholds that differ between neurons are folded into
  the weights (``W_i * gain_i / theta_i``, then ``theta = 1``): exact in real numbers, and
  in floats up to rounding of the scaled weights;
* ``threshold="gt"`` becomes ``v >= nextafter(theta)`` in float32, the same test for every
  float32 membrane; with ``reset="subtract"`` the reset then removes that value, one ulp
  more than ``theta``;
* the last layer: no neuron (the readout) or an ``I`` integrator (its gain folded in);
  ``LI`` leaks and LIF/IF spike, which a spikefab readout does not, unless
  ``drop_output_neuron=True`` asks for the neuron's input current as the readout.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..snn.mlp import SpikingMLP
from ..snn.surrogate import SLOPE
from .format import DEFAULT_DT, FORMAT, RESET_TO_MODE, VERSION
from .modes import GAIN_RTOL, ImportModes
from .quantized import chain_graph, neuron_node

__all__ = ["export_student", "to_student"]

_MODE_TO_RESET = {"subtract": "subtract", "value": "zero"}


def export_student(model: SpikingMLP, dt: float = DEFAULT_DT):
    """NIR graph of a float ``SpikingMLP``; ``to_student(import_nir(graph))`` rebuilds it."""
    if not isinstance(model, SpikingMLP):
        raise TypeError(f"export_student model must be a SpikingMLP, not {type(model).__name__}")
    n_hidden = len(model.lifs)
    reset = RESET_TO_MODE[model.reset]
    modes = ImportModes(dt=dt, reset=reset, threshold="ge")
    layers = []
    for i, fc in enumerate(model.fcs):
        w = fc.weight.detach().cpu().numpy().copy()
        b = np.zeros(w.shape[0], w.dtype) if fc.bias is None else fc.bias.detach().cpu().numpy()
        node = neuron_node(model.leak_shift, model.theta, w.shape[0], dt) if i < n_hidden else None
        layers.append((w, b.copy(), node))
    info = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "float",
        "modes": modes.to_dict(),
        "timesteps": model.timesteps,
        "slope": model.lifs[0].slope if n_hidden else SLOPE,
    }
    return chain_graph(model.n_in, layers, info)


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


def _leak_shift(net) -> int | None:
    hidden = net.layers[:-1]
    kinds = sorted({layer.kind for layer in hidden})
    if len(kinds) > 1:
        raise ValueError(f"SpikingMLP has one neuron type; the hidden layers mix {kinds}")
    if not hidden or kinds == ["IF"]:
        return None
    betas = np.concatenate([layer.beta for layer in hidden])
    beta = float(betas[0])
    if np.any(np.abs(betas - beta) > GAIN_RTOL):
        other = next(layer for layer in hidden if np.any(np.abs(layer.beta - beta) > GAIN_RTOL))
        raise ValueError(
            f"LIF node {other.neuron!r}: beta differs from {beta:.6g}; SpikingMLP has one leak"
        )
    for k in range(32):
        if abs(beta - (1.0 - 2.0**-k)) <= GAIN_RTOL:
            return k
    raise ValueError(
        f"LIF node {hidden[0].neuron!r}: beta = 1 - dt/tau = {beta:.6g} (dt = {net.modes.dt:g}) "
        "is not 1 - 2**-k for an integer k (0, 0.5, 0.75, 0.875, ...); spikefab's leak is a shift"
    )


def _check_readout(layer) -> None:
    if layer.kind is None or layer.kind == "I":
        return
    hint = "; or pass drop_output_neuron=True to read out its input current"
    if layer.kind == "LI":
        raise ValueError(
            f"LI node {layer.neuron!r} on the last layer leaks (beta {float(layer.beta[0]):.6g}); "
            f"a spikefab readout sums its currents (last layer: no neuron, or I){hint}"
        )
    raise ValueError(
        f"{layer.kind} node {layer.neuron!r} on the last layer spikes; a spikefab readout is "
        f"non-spiking (end the graph with Affine/Linear -> Output, or -> I){hint}"
    )


def _without_output_neuron(net):
    """``net`` with the last layer's neuron removed: its current becomes the readout."""
    last = net.layers[-1]
    n = last.n_out
    ones, zeros = np.ones(n), np.zeros(n)
    bare = replace(last, neuron=None, kind=None, beta=ones, gain=ones, v_leak=zeros,
                   v_threshold=zeros, v_reset=zeros, reset=None)
    return replace(net, layers=(*net.layers[:-1], bare))


def to_student(net, timesteps: int | None = None, slope: float | None = None,
               drop_output_neuron: bool = False) -> SpikingMLP:
    """``SpikingMLP`` computing what the imported ``net`` computes (module docstring).

    ``timesteps`` and ``slope`` default to the values spikefab recorded in the graph;
    ``timesteps`` is required for other graphs (NIR does not record ``T``). With
    ``drop_output_neuron`` a neuron on the last layer (snnTorch classifiers end in a
    ``Leaky``) is dropped and the current it received becomes the readout: the hidden
    spikes stay the same, but the decision (summed current instead of, say, spike counts)
    is a different one, so measure its accuracy again.
    """
    if drop_output_neuron and net.layers[-1].kind is not None:
        net = _without_output_neuron(net)
    info = net.info or {}
    if timesteps is None:
        timesteps = info.get("timesteps") or (info.get("spec") or {}).get("timesteps")
        if timesteps is None:
            raise ValueError("to_student timesteps is required: a NIR graph does not record T")
    slope = info.get("slope", SLOPE) if slope is None else slope
    hidden, readout = net.layers[:-1], net.layers[-1]
    _check_readout(readout)
    leak_shift = _leak_shift(net)
    resets = set()
    for layer in net.layers:
        if np.any(layer.v_leak != 0):
            raise ValueError(
                f"{layer.kind} node {layer.neuron!r}: v_leak must be 0 for a SpikingMLP, "
                f"not {float(layer.v_leak[layer.v_leak != 0][0]):g}"
            )
        if layer.spiking:
            if layer.reset == "subtract_next":
                raise ValueError(
                    f"{layer.kind} node {layer.neuron!r}: reset 'subtract_next' (snnTorch's "
                    "default reset_delay=True) has no spikefab equivalent; use a network "
                    "trained with reset_delay=False or reset_mechanism='zero'"
                )
            if layer.reset == "value" and np.any(layer.v_reset != 0):
                raise ValueError(
                    f"{layer.kind} node {layer.neuron!r}: reset 'value' needs v_reset = 0 "
                    f"(spikefab's 'zero'), not {float(layer.v_reset[layer.v_reset != 0][0]):g}"
                )
            resets.add(_MODE_TO_RESET[layer.reset])
    if len(resets) > 1:
        raise ValueError(f"SpikingMLP has one reset mode; the graph's layers use {sorted(resets)}")
    reset = resets.pop() if resets else "subtract"
    thetas = np.concatenate([layer.v_threshold for layer in hidden]) if hidden else np.ones(1)
    uniform = bool(np.all(thetas == thetas[0]))
    if np.any(thetas <= 0):
        bad = next(layer for layer in hidden if np.any(layer.v_threshold <= 0))
        raise ValueError(
            f"{bad.kind} node {bad.neuron!r}: v_threshold must be > 0, "
            f"not {float(bad.v_threshold.min()):g}"
        )
    theta = float(thetas[0]) if uniform else 1.0
    if net.modes.threshold == "gt":
        theta = float(np.nextafter(np.float32(theta), np.float32(np.inf)))
    sizes = [net.n_in] + [layer.n_out for layer in net.layers]
    model = SpikingMLP(sizes, timesteps=timesteps, leak_shift=leak_shift, theta=theta,
                       reset=reset, slope=slope)
    with torch.no_grad():
        for layer, fc in zip(net.layers, model.fcs, strict=True):
            scale = layer.gain if layer.kind is not None else np.ones(layer.n_out)
            if layer.spiking and not uniform:
                scale = scale / layer.v_threshold
            w = layer.weight if np.all(scale == 1) else layer.weight * scale[:, None]
            b = np.zeros(layer.n_out) if layer.bias is None else layer.bias * scale
            fc.weight.copy_(torch.from_numpy(_float32(w, layer.dense, "weight")))
            fc.bias.copy_(torch.from_numpy(_float32(b, layer.dense, "bias")))
    return model
