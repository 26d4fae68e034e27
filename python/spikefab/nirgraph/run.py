"""Simulate an imported NIR graph exactly as its modes say (torch, any float dtype).

Per step ``t`` and layer, in order (layer ``l`` sees layer ``l-1``'s output of the same
step, as in spikefab and snnTorch)::

    I = W x + b                                 torch.nn.functional.linear (conv2d for a conv
                                                layer, on the flat input as an image)
    i = alpha * i + I  (or + syn_gain * I)      CubaLIF; then i is the membrane's input
    v = beta * v + I                            LIF/LI/CubaLIF with gain 1 and v_leak 0
    v = beta * v + gain * I + (1 - beta) * v_leak    LIF/LI otherwise
    v = v + gain * I                            IF/I (``v + I`` when the gain is 1)
    v = v - v_threshold * z[t-1]                (``"subtract_next"`` only, then no reset)
    z = v > v_threshold  (``"gt"``)   or   v >= v_threshold  (``"ge"``)      spiking
    v = v_reset where z  (``"value"``)   or   v - v_threshold * z  (``"subtract"``)

The layer's output is ``z`` for LIF/CubaLIF/IF, ``v`` for LI/I, and ``I`` with no neuron;
a pooling conv layer passes on each window's OR of ``z`` (a 0/1 max pool).
The snnTorch form of the update (``beta * v + I``, ``alpha * i + I``) is used whenever it
applies, so a network run here and the same network run by snnTorch (``Leaky``,
``Synaptic``) do the same float operations.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ..fixed import is_int
from ..snn.qconv import layer_current, pass_on
from ..spec import T_RANGE

__all__ = ["ImportedRun", "run_imported"]


class ImportedRun(NamedTuple):
    """``outputs``: ``[T, B, n_out]`` of the last layer; ``spikes``: ``[T, B, n]`` per
    spiking layer (the last one included when it spikes)."""

    outputs: torch.Tensor
    spikes: list


def _tensor(a, dtype) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float64).to(dtype)


def _check_input(x, n_in: int, timesteps, dtype) -> tuple[torch.Tensor, int]:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"run input must be a torch.Tensor or numpy array, not {type(x).__name__}")
    x = x.to(dtype)
    if timesteps is not None:
        if not is_int(timesteps) or not T_RANGE[0] <= timesteps <= T_RANGE[1]:
            raise ValueError(
                f"run timesteps must be an integer in {list(T_RANGE)}, not {timesteps!r}")
        timesteps = int(timesteps)
    if x.ndim == 2 and x.shape[1] == n_in:
        if timesteps is None:
            raise ValueError("run timesteps is required for a [B, n_in] (direct) input")
        return x, timesteps
    if x.ndim == 3 and x.shape[2] == n_in and timesteps in (None, x.shape[0]):
        return x, x.shape[0]
    want = f"[B, {n_in}] or [T, B, {n_in}]" + (f" with T = {timesteps}" if timesteps else "")
    raise ValueError(f"run input must have shape {want}, not {list(x.shape)}")


def run_imported(net, x, timesteps: int | None = None, dtype=None) -> ImportedRun:
    """Run ``net`` (a ``NIRNetwork``) on ``x``: ``[T, B, n_in]``, or ``[B, n_in]`` given at
    every step (then ``timesteps`` is required). ``dtype`` defaults to float32."""
    dtype = torch.float32 if dtype is None else dtype
    x, T = _check_input(x, net.n_in, timesteps, dtype)
    batch = x.shape[-2]
    params = []
    for layer in net.layers:
        p = {k: _tensor(getattr(layer, k), dtype) for k in
             ("weight", "beta", "gain", "v_leak", "v_threshold", "v_reset")}
        p["bias"] = None if layer.bias is None else _tensor(layer.bias, dtype)
        if layer.alpha is not None:
            p["alpha"] = _tensor(layer.alpha, dtype)
            p["syn_gain"] = _tensor(layer.syn_gain, dtype)
            p["unit_syn"] = bool(np.all(layer.syn_gain == 1.0))
        p["unit_gain"] = bool(np.all(layer.gain == 1.0))
        p["no_leak"] = bool(np.all(layer.v_leak == 0.0))
        params.append(p)
    vs = [x.new_zeros(batch, layer.n_out) for layer in net.layers]
    cs = [x.new_zeros(batch, layer.n_out) for layer in net.layers]
    zs = [x.new_zeros(batch, layer.n_out) for layer in net.layers]
    outs, spikes = [], [[] for layer in net.layers if layer.spiking]
    with torch.no_grad():
        for t in range(T):
            h = x if x.ndim == 2 else x[t]
            s = 0
            for i, (layer, p) in enumerate(zip(net.layers, params, strict=True)):
                cur = F.linear(h, p["weight"], p["bias"]) if layer.conv is None else \
                    layer_current(layer.conv, h, p["weight"], p["bias"])
                if layer.kind is None:
                    h = cur
                    continue
                v = vs[i]
                if layer.alpha is not None:
                    syn = cur if p["unit_syn"] else p["syn_gain"] * cur
                    cur = cs[i] = p["alpha"] * cs[i] + syn
                if layer.kind in ("LIF", "LI", "CubaLIF"):
                    if p["unit_gain"] and p["no_leak"]:
                        v = p["beta"] * v + cur
                    else:
                        v = p["beta"] * v + p["gain"] * cur + (1 - p["beta"]) * p["v_leak"]
                else:
                    v = v + cur if p["unit_gain"] else v + p["gain"] * cur
                if layer.spiking:
                    thr = p["v_threshold"]
                    if layer.reset == "subtract_next":
                        v = v - thr * zs[i]
                    z = v > thr if layer.threshold == "gt" else v >= thr
                    if layer.reset == "value":
                        v = torch.where(z, p["v_reset"].expand_as(v), v)
                    elif layer.reset == "subtract":
                        v = v - thr * z.to(dtype)
                    h = zs[i] = z.to(dtype)
                    spikes[s].append(h)
                    s += 1
                    h = pass_on(layer.conv, h)
                else:
                    h = v
                vs[i] = v
            outs.append(h)
    return ImportedRun(torch.stack(outs), [torch.stack(z) for z in spikes])
