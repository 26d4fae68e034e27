"""Accuracy against the number of steps T and against the weight width.

Both sweeps re-use the run's trained student; nothing is retrained, and the report says so:

* **T**: the exported integer network (golden model) and the float student, each run for
  ``T`` steps instead of the trained ``T`` (same weights; for a spiking input the spikes
  are drawn for ``T`` steps with the run's seed). The membrane width stays the exported
  one, so a longer run may saturate where the trained T could not (golden saturates as
  DESIGN §2 says).
* **bits**: the float student re-exported with post-training quantisation
  (``export_ptq``) at each ``w_bits``, ``v_bits`` chosen so the membrane cannot
  saturate, then run by the golden model.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..golden import run_network
from ..ir import QuantizedNetwork

__all__ = ["sweep_bits", "sweep_timesteps"]


def _acc(pred, y) -> float:
    return float((np.asarray(pred) == y).mean())


def _inputs(spec, x01, seed):
    from ..data import encode_direct, encode_rate

    if spec.encoding == "direct":
        return encode_direct(x01, spec.in_bits)
    return encode_rate(x01, spec.timesteps, seed=seed).astype(np.uint8)


def sweep_timesteps(net: QuantizedNetwork, model, x01, y, timesteps, *, seed: int) -> list:
    """``[{"T", "golden_acc", "float_acc"}]``; ``model`` (float SpikingMLP) may be None."""
    from ..train.loop import predict

    rows = []
    trained_t = None if model is None else model.timesteps
    try:
        for t in timesteps:
            spec = dataclasses.replace(net.spec, timesteps=int(t))
            sub = QuantizedNetwork(spec, net.weights, net.biases, net.meta)
            x = _inputs(spec, x01, seed)
            row = {"T": int(t), "golden_acc": _acc(run_network(sub, x).prediction, y)}
            if model is not None:
                import torch

                model.timesteps = int(t)
                xf = torch.from_numpy(x.astype(np.float32) / (
                    (1 << spec.in_bits) - 1 if spec.encoding == "direct" else 1))
                row["float_acc"] = _acc(predict(model, xf, spikes=spec.encoding == "spikes"), y)
            rows.append(row)
    finally:
        if model is not None:
            model.timesteps = trained_t
    return rows


def sweep_bits(model, spec, x01, y, bits, *, b_bits: int, seed: int) -> list:
    """``[{"w_bits", "golden_acc", "v_bits"}]`` of PTQ re-exports of the float ``model``
    (a row holds ``"error"`` instead when the export is impossible at that width)."""
    from ..quant.ptq import export_ptq

    rows = []
    for w in bits:
        try:
            net = export_ptq(model, w_bits=int(w), b_bits=b_bits, v_bits=None,
                             in_bits=spec.in_bits, encoding=spec.encoding)
        except ValueError as e:
            rows.append({"w_bits": int(w), "error": str(e)})
            continue
        res = run_network(net, _inputs(net.spec, x01, seed))
        rows.append({"w_bits": int(w), "golden_acc": _acc(res.prediction, y),
                     "v_bits": [la.neuron.v_bits for la in net.spec.hidden]})
    return rows
