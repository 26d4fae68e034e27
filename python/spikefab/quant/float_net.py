"""A float student as quantization reads it: its layers, their shapes and neuron stages.

PTQ (``quant.ptq``) and QAT calibration (``quant.qat``) take a ``SpikingMLP`` (dense layers)
or a ``SpikingCNN`` (conv stages, 3x3 / stride 1 / padding 1 / pool 2, then a dense
readout); :func:`float_layers` gives both the same form, the integer semantics' chain:
``sizes[l]`` is what layer ``l`` reads (flat, channel-major), ``sizes[l + 1]`` what it passes
on (a conv stage's pooled spikes), ``convs[l]`` its ``ConvSpec`` or None (dense).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..snn.cnn import SpikingCNN
from ..snn.mlp import SpikingMLP
from ..spec import ConvSpec

__all__ = ["FloatLayers", "float_layers"]


@dataclass(frozen=True)
class FloatLayers:
    """``modules[l]`` holds layer ``l``'s float ``weight`` and ``bias`` (``nn.Linear`` or
    ``nn.Conv2d``); ``lifs`` the spiking layers' neuron stages, in order."""

    sizes: tuple[int, ...]
    convs: tuple[ConvSpec | None, ...]
    modules: tuple[nn.Module, ...]
    lifs: tuple
    readout: str
    timesteps: int


def float_layers(model, owner: str) -> FloatLayers:
    """The layers of a ``SpikingMLP`` or ``SpikingCNN``; anything else is a ``TypeError``
    naming ``owner``."""
    if isinstance(model, SpikingMLP):
        n = len(model.fcs)
        return FloatLayers(tuple(model.sizes), (None,) * n, tuple(model.fcs),
                           tuple(model.spiking_lifs), model.readout, model.timesteps)
    if isinstance(model, SpikingCNN):
        convs = model.conv_specs()
        sizes = (model.n_in, *(c.n_pooled for c in convs), model.n_classes)
        return FloatLayers(sizes, (*convs, None), (*model.convs, model.readout),
                           tuple(model.spiking_lifs), "current", model.timesteps)
    raise TypeError(f"{owner} model must be a SpikingMLP or a SpikingCNN, not "
                    f"{type(model).__name__}")
