"""Integer forward pass of a whole QuantizedNetwork, step by step (DESIGN §2).

For t = 0 … T-1 and each layer l in order, layer l sees what layer l-1 passed on at the
same step (its spikes, pooled for a pooling conv layer). The last layer is the readout:
with ``readout="current"`` (v1) ``acc += I`` every step and the per-step logits are
``I``; with ``readout="spikes"`` it is a LIF layer, the per-step logits are its spikes
and ``acc`` counts them. The prediction is ``argmax(acc)``, ties to the lowest index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..fixed import umax
from ..ir import QuantizedNetwork
from .layers import layer_current, pass_on
from .lif import lif_init, lif_step

__all__ = ["RunResult", "check_input", "layer_current", "run_network"]


@dataclass(frozen=True)
class RunResult:
    """Everything the golden model computes for a batch of ``B`` samples.

    Attributes
    ----------
    spikes : list of uint8 arrays ``[T, B, n_out]``, one per spiking layer (before pooling)
    membranes : list of int64 arrays ``[T, B, n_out]``: the exposed membrane per step
        (after the reset; before it for ``subtract-delayed``)
    logits : int64 ``[T, B, C]``: the readout current ``I`` at each step, or the readout's
        spikes with ``readout="spikes"``
    acc : int64 ``[B, C]``: readout accumulators after the last step (``logits`` summed)
    prediction : int64 ``[B]``: ``argmax(acc)``, ties to the lowest index
    synapses : list of int64 arrays ``[T, B, n_out]`` or None, one per spiking layer: the
        synaptic current of a ``cuba`` layer after each step
    """

    spikes: list
    membranes: list
    logits: np.ndarray
    acc: np.ndarray
    prediction: np.ndarray
    synapses: list = field(default_factory=list)


def check_input(net: QuantizedNetwork, x) -> np.ndarray:
    """Validate a batch and return it as int64 ``[T, B, n_in]``.

    ``encoding="direct"``: ``x`` is ``[B, n_in]`` unsigned ints below ``2**in_bits``.
    ``encoding="spikes"``: ``x`` is ``[T, B, n_in]`` of 0/1.
    """
    spec = net.spec
    x = np.asarray(x)
    if x.dtype.kind not in "iub":
        raise ValueError(f"input must hold integers, not dtype {x.dtype}")
    if spec.encoding == "direct":
        if x.ndim != 2 or x.shape[1] != spec.n_in:
            raise ValueError(f"direct input must have shape [B, {spec.n_in}], not {list(x.shape)}")
        hi = umax(spec.in_bits)
        if x.size and (x.min() < 0 or x.max() > hi):
            bad = x.min() if x.min() < 0 else x.max()  # before any cast: uint64 stays exact
            raise ValueError(f"direct input values must lie in [0, {hi}], not {int(bad)}")
        return np.broadcast_to(x.astype(np.int64), (spec.timesteps, *x.shape))
    want = [spec.timesteps, "B", spec.n_in]
    if x.ndim != 3 or x.shape[0] != spec.timesteps or x.shape[2] != spec.n_in:
        raise ValueError(f"spike input must have shape {want}, not {list(x.shape)}")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError("spike input values must be 0 or 1")
    return x.astype(np.int64)


def run_network(net: QuantizedNetwork, x) -> RunResult:
    """Run ``net`` on a batch (see ``check_input`` for shapes) and record every step."""
    spec = net.spec
    xs = check_input(net, x)
    T, B = xs.shape[0], xs.shape[1]
    spiking = spec.spiking
    states = [lif_init((B, layer.n_out), layer.neuron) for layer in spiking]
    spikes = [np.zeros((T, B, layer.n_out), np.uint8) for layer in spiking]
    membranes = [np.zeros((T, B, layer.n_out), np.int64) for layer in spiking]
    synapses = [None if layer.neuron.synapse is None else
                np.zeros((T, B, layer.n_out), np.int64) for layer in spiking]
    logits = np.zeros((T, B, spec.n_classes), np.int64)
    for t in range(T):
        h = xs[t]
        for i, layer in enumerate(spec.layers):
            cur = layer_current(net, i, h)
            if layer.neuron is None:
                logits[t] = cur
                break
            s, states[i] = lif_step(cur, states[i], layer.neuron)
            spikes[i][t], membranes[i][t] = s, states[i].v
            if synapses[i] is not None:
                synapses[i][t] = states[i].i
            h = pass_on(layer, s.astype(np.int64))
        else:
            logits[t] = spikes[-1][t]
    acc = logits.sum(axis=0)
    return RunResult(spikes, membranes, logits, acc, np.argmax(acc, axis=1).astype(np.int64),
                     synapses)
