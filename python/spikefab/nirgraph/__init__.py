"""NIR (Neuromorphic Intermediate Representation) export and import; docs/nir.md.

* ``export_quantized(net)`` / ``export_student(model)``: a ``QuantizedNetwork`` or a float
  ``SpikingMLP`` / ``SpikingCNN`` as a ``nir.NIRGraph`` (``to_nir`` picks one); ``write_nir``
  saves it. Conv layers, their pooling (a window's OR) and ``Flatten``: ``nirgraph.conv``.
* ``import_nir(graph_or_path, modes)``: a ``NIRNetwork`` under explicit ``ImportModes``
  (``dt``, reset, threshold; presets in ``PROFILES``: ``"snntorch"``, ``"norse"``,
  ``"norse-dev"``); then the free functions ``run_imported(net, x)`` (exact simulation of
  the graph), ``to_student(net)`` (``SpikingMLP``) and ``to_quantized(net)`` (the bit-exact
  ``QuantizedNetwork`` of a graph spikefab wrote).

The package is named ``nirgraph`` so that ``import nir`` keeps meaning the ``nir`` package.
Modules, each importing only those before it: ``format`` (names, version, metadata),
``modes``, ``files``, ``conv``, ``walk``, ``parse``, ``quantized``, ``student``, ``run``.
Only ``run_imported``, ``to_student`` and ``export_student`` import torch.
"""

from __future__ import annotations

from ..ir import QuantizedNetwork
from .files import read_nir, write_nir
from .format import DEFAULT_DT, spikefab_info
from .modes import PROFILES, RESET_MODES, THRESHOLD_MODES, ImportModes
from .parse import SUPPORTED, NIRLayer, NIRNetwork, import_nir
from .quantized import export_quantized, to_quantized

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
    "run_imported",
    "spikefab_info",
    "to_nir",
    "to_quantized",
    "to_student",
    "write_nir",
]


def export_student(model, dt: float = DEFAULT_DT):
    """NIR graph of a float ``SpikingMLP`` (see ``nirgraph.student``)."""
    from .student import export_student as _export

    return _export(model, dt)


def to_student(net: NIRNetwork, timesteps: int | None = None, slope: float | None = None,
               drop_output_neuron: bool = False):
    """A float ``SpikingMLP`` of an imported graph (see ``nirgraph.student``)."""
    from .student import to_student as _to_student

    return _to_student(net, timesteps=timesteps, slope=slope,
                       drop_output_neuron=drop_output_neuron)


def run_imported(net: NIRNetwork, x, timesteps: int | None = None, dtype=None):
    """Simulate an imported graph by its own equations (see ``nirgraph.run``)."""
    from .run import run_imported as _run

    return _run(net, x, timesteps=timesteps, dtype=dtype)


def to_nir(obj, dt: float = DEFAULT_DT):
    """NIR graph of a ``QuantizedNetwork`` or a float ``SpikingMLP``."""
    if isinstance(obj, QuantizedNetwork):
        return export_quantized(obj, dt)
    if type(obj).__name__ in ("SpikingMLP", "SpikingCNN"):
        return export_student(obj, dt)
    raise TypeError(f"to_nir takes a QuantizedNetwork, a SpikingMLP or a SpikingCNN, not "
                    f"{type(obj).__name__}")
