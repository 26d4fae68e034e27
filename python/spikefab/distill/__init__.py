"""Knowledge distillation for spiking students (DESIGN §4, research/kd_methods.md).

One file per method; every loss takes logits/feature tensors, so any student that returns
per-step logits ``[T, B, C]`` (float ``SpikingMLP``, ``SpikingCNN``, the QAT model) plugs in.
The teacher is always detached. ``recipes`` wraps each method as a training step and
``trainer.train_student`` runs it.
"""

from .ckdsnn import CKDSNN
from .deepinversion import DeepInversion
from .hinton import HintonKD
from .nld import NLD
from .rca import rca_loss
from .recipes import RECIPES, make_recipe
from .samd import SAMD
from .seal import SeAlKD
from .stars import STARS
from .tar import tar_a, tar_b, tar_c
from .temporal import SelfDistiller, TemporalDistillationLoss
from .tet import TET, MeanCE
from .trainer import TeacherOutputs, teacher_outputs, train_student
from .tssd import TSSD, TSSDLoss

__all__ = [
    "CKDSNN",
    "DeepInversion",
    "HintonKD",
    "MeanCE",
    "NLD",
    "RECIPES",
    "SAMD",
    "STARS",
    "SeAlKD",
    "SelfDistiller",
    "TET",
    "TSSD",
    "TSSDLoss",
    "TeacherOutputs",
    "TemporalDistillationLoss",
    "make_recipe",
    "rca_loss",
    "tar_a",
    "tar_b",
    "tar_c",
    "teacher_outputs",
    "train_student",
]
