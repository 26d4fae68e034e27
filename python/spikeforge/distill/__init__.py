"""Knowledge distillation for spiking students (DESIGN §4, research/kd_methods.md).

One file per method; every loss takes logits/feature tensors, so any student that returns
per-step logits ``[T, B, C]`` (float ``SpikingMLP``, ``SpikingCNN``, the QAT model) plugs in.
The teacher is always detached.
"""

from .ckdsnn import CKDSNN
from .hinton import HintonKD
from .nld import NLD
from .samd import SAMD
from .seal import SeAlKD
from .temporal import SelfDistiller, TemporalDistillationLoss
from .tet import TET, MeanCE

__all__ = [
    "CKDSNN",
    "HintonKD",
    "MeanCE",
    "NLD",
    "SAMD",
    "SeAlKD",
    "SelfDistiller",
    "TET",
    "TemporalDistillationLoss",
]
