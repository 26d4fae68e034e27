"""Recipes: each distillation method as "one training step's loss" for :func:`train_student`.

A recipe turns a batch into a loss dict. It receives the student, the batch, the batch's rows
of the cached teacher outputs (logits ``[B, C]`` and, for CKDSNN, CAMs ``[B, H, W]``) and
``w``, the KD warm-up factor in [0, 1]: every distillation weight is multiplied by ``w``
(the task loss is not), so ``w = 0`` is the recipe's label-only objective.

=========  ================================================================  =========
name       loss                                                               teacher
=========  ================================================================  =========
ce         CE(mean_t z_t, y)                                                  no
tet        (1/T) sum_t CE(z_t, y)                                             no
hinton     HintonKD (tau 3, alpha 0.5) on the time-mean logits                yes
tser       TemporalDistillationLoss (per-step KL + CE, -0.1 H)               yes
seal       SeAlKD (TET + 0.6 ELA + 0.15 STA)                                  yes
nld        CE(mean_t z_t, y) + NLD (paper form; any student)                  yes
ckdsnn     CKDSNN (CE + SAMD + NLD; conv student, teacher CAM)                yes + CAM
tssd       TSSD (prefix student of a T_t run + auxiliary head)                no
=========  ================================================================  =========
"""

from __future__ import annotations

from torch import nn

from .ckdsnn import CKDSNN
from .common import check_choice, check_nonnegative
from .hinton import HintonKD
from .nld import NLD
from .seal import SeAlKD
from .temporal import TemporalDistillationLoss
from .tet import TET, MeanCE
from .tssd import TSSD, TSSDLoss

__all__ = ["RECIPES", "Recipe", "make_recipe", "recipe_class"]

RECIPES = ("ce", "tet", "hinton", "tser", "seal", "nld", "ckdsnn", "tssd")


class Recipe:
    """Base: ``loss(student, x, y, teacher_logits, teacher_maps, w) -> dict``."""

    name = "base"
    needs_teacher = False
    needs_cam = False
    #: The class the constructor's ``**kwargs`` go to, and the arguments the run or the
    #: recipe fills in (neither is a config option); ``distill.options`` reads both.
    options_from = None
    filled: tuple[str, ...] = ()

    def parameters(self) -> list[nn.Parameter]:
        """Training-only parameters to optimise with the student (TSSD's auxiliary head)."""
        return []

    def loss(self, student, x, y, teacher_logits=None, teacher_maps=None, w: float = 1.0):
        raise NotImplementedError


class _CE(Recipe):
    name = "ce"

    def __init__(self):
        self.fn = MeanCE()

    def loss(self, student, x, y, teacher_logits=None, teacher_maps=None, w=1.0):
        return {"total_loss": self.fn(student(x), y)}


class _TET(Recipe):
    name = "tet"

    def __init__(self, mse_weight: float = 0.0):
        self.fn = TET(mse_weight=mse_weight)

    def loss(self, student, x, y, teacher_logits=None, teacher_maps=None, w=1.0):
        return {"total_loss": self.fn(student(x), y)}


class _Hinton(Recipe):
    name = "hinton"
    needs_teacher = True

    def __init__(self, temperature: float = 3.0, alpha: float = 0.5):
        self.fn = HintonKD(temperature, alpha)
        self.alpha = self.fn.alpha

    def loss(self, student, x, y, teacher_logits=None, teacher_maps=None, w=1.0):
        self.fn.alpha = self.alpha * w
        return self.fn.compute(student(x), teacher_logits, y)


class _TSER(Recipe):
    name = "tser"
    needs_teacher = True
    options_from = TemporalDistillationLoss

    def __init__(self, temperature: float = 3.0, alpha: float = 0.5,
                 entropy_weight: float = 0.1, **kwargs):
        self.fn = TemporalDistillationLoss(temperature, alpha, entropy_weight, **kwargs)
        self.alpha, self.beta = self.fn.alpha, self.fn.entropy_weight

    def loss(self, student, x, y, teacher_logits=None, teacher_maps=None, w=1.0):
        self.fn.alpha, self.fn.entropy_weight = self.alpha * w, self.beta * w
        return self.fn.compute(student(x), teacher_logits, y)


class _SeAl(Recipe):
    name = "seal"
    needs_teacher = True

    def __init__(self, temperature: float = 3.0, alpha: float = 0.6, beta: float = 0.15):
        self.fn = SeAlKD(temperature, alpha, beta)
        self.alpha, self.beta = self.fn.alpha, self.fn.beta

    def loss(self, student, x, y, teacher_logits=None, teacher_maps=None, w=1.0):
        self.fn.alpha, self.fn.beta = self.alpha * w, self.beta * w
        return self.fn.compute(student(x), teacher_logits, y)


class _NLD(Recipe):
    name = "nld"
    needs_teacher = True
    options_from, filled = NLD, ("generator",)

    def __init__(self, weight: float = 1.0, **nld_kwargs):
        self.weight = check_nonnegative("nld recipe", "weight", weight)
        self.ce, self.fn = MeanCE(), NLD(**nld_kwargs)

    def loss(self, student, x, y, teacher_logits=None, teacher_maps=None, w=1.0):
        z = student(x)
        task, nld = self.ce(z, y), self.fn(z, teacher_logits)
        return {"total_loss": task + self.weight * w * nld, "task_loss": task, "nld_loss": nld}


class _CKDSNN(Recipe):
    name = "ckdsnn"
    needs_teacher = True
    needs_cam = True
    options_from, filled = CKDSNN, ("generator",)

    def __init__(self, **kwargs):
        self.fn = CKDSNN(**kwargs)
        self.samd_weight, self.nld_weight = self.fn.samd_weight, self.fn.nld_weight

    def loss(self, student, x, y, teacher_logits=None, teacher_maps=None, w=1.0):
        self.fn.samd_weight, self.fn.nld_weight = self.samd_weight * w, self.nld_weight * w
        z, hidden = student(x, return_hidden=True)
        return self.fn.compute(z, hidden[-1], teacher_logits, teacher_maps, y)


class _TSSD(Recipe):
    name = "tssd"
    options_from, filled = TSSDLoss, ("student", "n_features", "n_classes", "T_student")

    def __init__(self, student: nn.Module, n_features: int, n_classes: int, *,
                 T_teacher: int | None = None, layer: int = 0, **loss_kwargs):
        t_s = student.timesteps
        self.module = TSSD(student, n_features, n_classes, T_student=t_s,
                           T_teacher=T_teacher or 2 * t_s, layer=layer, **loss_kwargs)
        self.alpha, self.beta = self.module.loss.alpha, self.module.loss.beta

    def parameters(self):
        return list(self.module.aux.parameters())

    def loss(self, student, x, y, teacher_logits=None, teacher_maps=None, w=1.0):
        if student is not self.module.model:
            raise ValueError("tssd recipe: student must be the model the recipe was built for")
        self.module.loss.alpha, self.module.loss.beta = self.alpha * w, self.beta * w
        return self.module.compute(x, y)


_MAKERS = {"ce": _CE, "tet": _TET, "hinton": _Hinton, "tser": _TSER, "seal": _SeAl,
           "nld": _NLD, "ckdsnn": _CKDSNN, "tssd": _TSSD}


def recipe_class(name: str) -> type[Recipe]:
    """The class of recipe ``name`` (its signature is what ``distill.options`` reads)."""
    check_choice("recipe_class", "name", name, RECIPES)
    return _MAKERS[name]


def make_recipe(name: str, **kwargs) -> Recipe:
    """The recipe ``name`` (one of :data:`RECIPES`) with the method's keyword arguments.

    ``tssd`` needs ``student=``, ``n_features=`` (width of the hidden layer feeding the
    auxiliary head) and ``n_classes=``; its ``T_teacher`` defaults to ``2 * T_student``.
    """
    check_choice("make_recipe", "name", name, RECIPES)
    return _MAKERS[name](**kwargs)

