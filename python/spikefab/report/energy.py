"""Synaptic operations per inference (counted from golden spikes) and an energy estimate.

Counting (event-driven core, DESIGN §3: work per step follows the input events):

* a hidden or readout layer fed by spikes does one accumulate (AC) per input spike per
  output neuron: ``ACs = (spikes into the layer over T) * n_out``;
* a first layer fed directly (multi-bit pixels, the same every step) does one
  multiply-accumulate (MAC) per non-zero input per output neuron per step:
  ``MACs = T * nnz(x) * n_out``;
* every layer adds its bias to every neuron every step: ``T * n_out`` bias adds.

A conv layer's input event reaches only the output positions whose window covers it: its
fan-out is ``C_out * ny(y) * nx(x)`` (``ny(y)`` kernel rows ``ky`` with ``(y + padding - ky)``
a multiple of the stride inside the output), not ``n_out``, and what it reads is what the
layer before passes on (pooled spikes). The same-sized ANN (one dense pass) needs
``sum n_in * n_out`` MACs, a conv layer ``n_out * C_in * k * k``.

Energy constants (pJ per operation) are M. Horowitz, "Computing's energy problem (and what
we can do about it)", ISSCC 2014, 45 nm at 0.9 V — the table every SNN paper's
"0.9 pJ per AC, 4.6 pJ per MAC" comes from. They cover arithmetic (and, in the third
column, the weight read) on a 45 nm ASIC only: no control, no routing, no static power, and
not an FPGA, whose energy per operation is far higher. Use them to compare the SNN with an
ANN of the same size, not as a power measurement of the board.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ENERGY_SOURCE", "PJ", "energy_estimate", "fan_out", "synaptic_ops"]

ENERGY_SOURCE = ("M. Horowitz, \"Computing's energy problem (and what we can do about it)\", "
                 "ISSCC 2014, 45 nm, 0.9 V")

#: pJ per operation (Horowitz 2014, 45 nm).
PJ = {
    "fp32_add": 0.9,
    "fp32_mult": 3.7,
    "int32_add": 0.1,
    "int8_add": 0.03,
    "int8_mult": 0.2,
    "int32_mult": 3.1,
    "sram_8kb_64bit_read": 10.0,
}


def fan_out(layer) -> np.ndarray:
    """``[n_in]``: the neurons one input event of ``layer`` reaches (``n_out`` for dense)."""
    c = layer.conv
    if c is None:
        return np.full(layer.n_in, layer.n_out)
    oh, ow = c.out_hw

    def hits(size, out):
        return np.array([sum(1 for k in range(c.kernel) if (i + c.padding - k) % c.stride == 0
                             and 0 <= (i + c.padding - k) // c.stride < out)
                         for i in range(size)])

    per = hits(c.height, oh)[:, None] * hits(c.width, ow)[None, :] * c.out_channels
    return np.broadcast_to(per, (c.in_channels, c.height, c.width)).reshape(-1)


def synaptic_ops(spec, x: np.ndarray, spike_counts: list) -> dict:
    """Mean operations per inference, per layer.

    Parameters
    ----------
    spec : NetworkSpec
    x : array
        The integer inputs: ``[B, n_in]`` (direct) or ``[T, B, n_in]`` (spikes).
    spike_counts : list of int arrays ``[B, n]``
        What each hidden layer passes on (its spikes; a pooling conv layer's pooled
        spikes), summed over the ``T`` steps.

    Returns
    -------
    dict
        ``layers``: one dict per layer (``n_in``, ``n_out``, ``kind`` "mac" or "ac",
        ``events`` input events per inference, ``ops`` synaptic ops, ``bias_adds``,
        ``dense_macs`` of the same-sized ANN layer); ``total_ac``, ``total_mac``,
        ``total_bias_adds``, ``dense_macs``.
    """
    T = spec.timesteps
    x = np.asarray(x)
    layers = []
    for i, layer in enumerate(spec.layers):
        if i == 0 and spec.encoding == "direct":
            per_input, kind = T * (x != 0), "mac"
        elif i == 0:
            per_input, kind = x.sum(axis=0), "ac"
        else:
            per_input, kind = np.asarray(spike_counts[i - 1]), "ac"
        per_input = per_input.astype(np.float64)  # [B, n_in]: events per input per inference
        c = layer.conv
        dense = layer.n_in * layer.n_out if c is None else \
            layer.n_out * c.in_channels * c.kernel**2
        layers.append({"layer": i, "n_in": layer.n_in, "n_out": layer.n_out, "kind": kind,
                       "events": float(per_input.sum(axis=1).mean()),
                       "ops": float((per_input @ fan_out(layer)).mean()),
                       "bias_adds": T * layer.n_out, "dense_macs": dense})
    return {
        "layers": layers,
        "total_ac": sum(la["ops"] for la in layers if la["kind"] == "ac"),
        "total_mac": sum(la["ops"] for la in layers if la["kind"] == "mac"),
        "total_bias_adds": sum(la["bias_adds"] for la in layers),
        "dense_macs": sum(la["dense_macs"] for la in layers),
    }


def energy_estimate(ops: dict, spec) -> dict:
    """Energy per inference (pJ) under three cost models, for the SNN and the same-size ANN.

    ``fp32`` (the SNN literature's convention): AC = fp32 add 0.9 pJ, MAC = fp32 mult + add
    4.6 pJ. ``int``: this design's integer datapath, AC = int32 add 0.1 pJ (accumulators
    are at most 32 bits), MAC = int8 mult + int32 add 0.3 pJ when weights and inputs are at
    most 8 bits (int32 mult 3.1 pJ otherwise); the ANN is taken as int8 too. ``int+sram``:
    ``int`` plus one weight read per synaptic op (and per ANN MAC) at
    10 pJ per 64 bits from an 8 KB SRAM, scaled to ``w_bits``.
    """
    w_bits = max(la.w_bits for la in spec.layers)
    narrow = w_bits <= 8 and (spec.encoding == "spikes" or spec.in_bits <= 8)
    int_mac = PJ["int8_mult" if narrow else "int32_mult"] + PJ["int32_add"]
    read = PJ["sram_8kb_64bit_read"] * w_bits / 64
    models = {
        "fp32": {"ac": PJ["fp32_add"], "mac": PJ["fp32_mult"] + PJ["fp32_add"],
                 "add": PJ["fp32_add"], "ann_mac": PJ["fp32_mult"] + PJ["fp32_add"]},
        "int": {"ac": PJ["int32_add"], "mac": int_mac, "add": PJ["int32_add"],
                "ann_mac": PJ["int8_mult"] + PJ["int32_add"]},
        "int+sram": {"ac": PJ["int32_add"] + read, "mac": int_mac + read,
                     "add": PJ["int32_add"],
                     "ann_mac": PJ["int8_mult"] + PJ["int32_add"] + read},
    }
    out = {}
    for name, c in models.items():
        snn = ops["total_ac"] * c["ac"] + ops["total_mac"] * c["mac"] \
            + ops["total_bias_adds"] * c["add"]
        ann = ops["dense_macs"] * c["ann_mac"]
        out[name] = {"costs_pj": c, "snn_pj": snn, "ann_pj": ann,
                     "ratio": ann / snn if snn else float("inf")}
    return out
