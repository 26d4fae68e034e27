"""QAT model -> QuantizedNetwork: copy the integers the QAT forward pass used.

``export_qat`` rounds nothing: it reads ``QSpikingMLP.integer_params()`` (the very
tensors the forward pass computes with), checks that every value is an integer, and
converts them to int64. The thresholds become ``LIFSpec.theta``; the neuron modes (leak,
decay, threshold, reset, synapse), the conv layers' shapes and the readout are the model's.
So the golden model run on the exported network reproduces the QAT forward pass exactly,
and golden accuracy equals QAT accuracy (``tests/test_qat_export.py``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..ir import QuantizedNetwork
from ..snn.qmlp import QSpikingMLP
from ..spec import LayerSpec, NetworkSpec

__all__ = ["export_qat", "qat_spec"]


def _copy_int(name: str, t: torch.Tensor) -> np.ndarray:
    """``t`` (float64 holding integers) as int64, refusing anything that is not an integer."""
    a = t.detach().cpu().numpy()
    if a.dtype != np.float64:
        raise TypeError(f"{name} must be float64 integers from the QAT forward, not {a.dtype}")
    if a.size and (not np.all(np.isfinite(a)) or not np.all(a == np.trunc(a))):
        raise ValueError(f"{name} holds non-integer values; export_qat rounds nothing")
    if a.size and float(np.abs(a).max()) >= 2.0**53:
        raise ValueError(f"{name} holds values beyond 2**53, which float64 cannot hold exactly")
    return a.astype(np.int64)


def qat_spec(model: QSpikingMLP, params=None) -> NetworkSpec:
    """The ``NetworkSpec`` of ``model`` with its current integer thresholds."""
    if params is None:
        with torch.no_grad():
            params = model.integer_params()
    layers = []
    for i, (_, _, th, _) in enumerate(params):
        neuron = None
        if th is not None:
            theta = int(_copy_int(f"theta[{i}]", th))
            neuron = replace(model.neurons[i], theta=theta)
        conv = model.convs[i]
        layers.append(
            LayerSpec(
                n_in=model.sizes[i],
                n_out=model.sizes[i + 1] if conv is None else conv.n_out,
                w_bits=model.w_bits[i],
                b_bits=model.b_bits[i],
                neuron=neuron,
                conv=conv,
            )
        )
    return NetworkSpec(
        layers=tuple(layers),
        timesteps=model.timesteps,
        encoding=model.encoding,
        in_bits=model.in_bits,
        readout=model.readout,
    )


def export_qat(model: QSpikingMLP, *, meta: dict | None = None) -> QuantizedNetwork:
    """Export a ``QSpikingMLP`` to the IR by copying its integers.

    Parameters
    ----------
    model : QSpikingMLP
        The trained QAT model.
    meta : dict, optional
        Extra JSON-able metadata (dataset, accuracies); merged over the QAT record
        (``source``, ``scales``, ``logit_divisor``, ``scale_mode``, ``headroom``).
    """
    if not isinstance(model, QSpikingMLP):
        raise TypeError(f"export_qat model must be a QSpikingMLP, not {type(model).__name__}")
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"export_qat meta must be a dict, not {type(meta).__name__}")
    with torch.no_grad():
        params = model.integer_params()
    spec = qat_spec(model, params)
    weights = tuple(_copy_int(f"weights[{i}]", p[0]) for i, p in enumerate(params))
    biases = tuple(_copy_int(f"biases[{i}]", p[1]) for i, p in enumerate(params))
    record = {
        "source": "qat",
        "scales": [float(p[3]) for p in params],
        "logit_divisor": model.logit_divisor(),
        "scale_mode": model.scale_mode,
        "headroom": model.headroom,
    }
    record.update(meta or {})
    return QuantizedNetwork(spec, weights, biases, record)
