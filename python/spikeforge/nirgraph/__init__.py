"""NIR (Neuromorphic Intermediate Representation) export and import; docs/nir.md.

* ``export_quantized(net)`` / ``export_student(model)``: a ``QuantizedNetwork`` or a float
  ``SpikingMLP`` as a ``nir.NIRGraph`` (``to_nir`` picks one); ``write_nir`` saves it.
* ``import_nir(graph_or_path, modes)``: a ``NIRNetwork`` under explicit ``ImportModes``
  (``dt``, reset, threshold; presets in ``PROFILES``: ``"snntorch"``, ``"norse"``,
  ``"norse-dev"``), with ``run`` (exact simulation of the graph), ``to_student``
  (``SpikingMLP``) and ``to_quantized`` (the bit-exact ``QuantizedNetwork`` of a graph
  spikeforge wrote).

The package is named ``nirgraph`` so that ``import nir`` keeps meaning the ``nir`` package.
Only ``run``, ``to_student`` and ``export_student`` import torch.
"""

from __future__ import annotations

from ..ir import QuantizedNetwork
from .files import read_nir, write_nir
from .modes import PROFILES, RESET_MODES, THRESHOLD_MODES, ImportModes
from .parse import SUPPORTED, NIRLayer, NIRNetwork, import_nir, spikeforge_info
from .quantized import DEFAULT_DT, export_quantized

__all__ = [
    "DEFAULT_DT",
    "PROFILES",
    "RESET_MODES",
    "SUPPORTED",
    "THRESHOLD_MODES",
    "ImportModes",
    "NIRLayer",
    "NIRNetwork",
    "export_quantized",
    "export_student",
    "import_nir",
    "read_nir",
    "spikeforge_info",
    "to_nir",
    "write_nir",
]


def export_student(model, dt: float = DEFAULT_DT):
    """NIR graph of a float ``SpikingMLP`` (see ``nirgraph.student``)."""
    from .student import export_student as _export

    return _export(model, dt)


def to_nir(obj, dt: float = DEFAULT_DT):
    """NIR graph of a ``QuantizedNetwork`` or a float ``SpikingMLP``."""
    if isinstance(obj, QuantizedNetwork):
        return export_quantized(obj, dt)
    if type(obj).__name__ == "SpikingMLP":
        return export_student(obj, dt)
    raise TypeError(f"to_nir takes a QuantizedNetwork or a SpikingMLP, not {type(obj).__name__}")
