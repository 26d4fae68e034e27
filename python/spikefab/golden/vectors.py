"""Reader for the committed golden vectors (tests/vectors/*.json).

Each vector is a hand-checked trajectory. ``kind="lif"`` holds one neuron's spec, the
input currents and the expected spikes and membranes (and synaptic currents ``i`` for a
``cuba`` neuron); ``kind="network"`` holds a whole
integer network, an input batch and every expected spike, membrane, logit, accumulator
and prediction. Golden, QAT and gateware tests all compare against them exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..ir import QuantizedNetwork
from ..spec import LIFSpec, NetworkSpec

__all__ = ["load_vector", "vector_paths"]


def vector_paths(directory) -> list[Path]:
    """All ``*.json`` vectors in ``directory``, sorted by name."""
    return sorted(Path(directory).glob("*.json"))


def load_vector(path) -> dict:
    """Parse one vector into specs, networks and int64 arrays."""
    doc = json.loads(Path(path).read_text())
    out = {"name": Path(path).stem, "kind": doc["kind"], "note": doc.get("note", "")}
    if doc["kind"] == "lif":
        out["spec"] = LIFSpec.from_dict(doc["spec"])
        for key in ("current", "spikes", "v"):
            out[key] = np.asarray(doc[key], dtype=np.int64)
        out["i"] = None if "i" not in doc else np.asarray(doc["i"], dtype=np.int64)
        return out
    if doc["kind"] != "network":
        raise ValueError(f"vector kind must be 'lif' or 'network', not {doc['kind']!r}")
    spec = NetworkSpec.from_dict(doc["spec"])
    out["net"] = QuantizedNetwork(spec, doc["weights"], doc["biases"])
    out["input"] = np.asarray(doc["input"], dtype=np.int64)
    out["spikes"] = [np.asarray(s, dtype=np.int64) for s in doc["spikes"]]
    out["membranes"] = [np.asarray(m, dtype=np.int64) for m in doc["membranes"]]
    out["synapses"] = [None if s is None else np.asarray(s, dtype=np.int64)
                       for s in doc.get("synapses", [None] * len(doc["spikes"]))]
    for key in ("logits", "acc", "prediction"):
        out[key] = np.asarray(doc[key], dtype=np.int64)
    return out
