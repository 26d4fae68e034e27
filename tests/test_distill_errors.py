"""Bad input to the distillation library: one-line errors naming the argument, exactly."""

import re

import numpy as np
import pytest
import torch
from spikefab.distill import (
    CKDSNN,
    NLD,
    SAMD,
    STARS,
    TET,
    HintonKD,
    MeanCE,
    SeAlKD,
    SelfDistiller,
    TemporalDistillationLoss,
    TSSDLoss,
    make_recipe,
    train_student,
)

Z = torch.zeros(4, 3, 10)
ZT = torch.zeros(3, 10)
Y = torch.tensor([0, 1, 2])


def _raises(exc, message, fn, *args, **kwargs):
    with pytest.raises(exc, match="^" + re.escape(message) + "$") as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("cls", [HintonKD, SeAlKD])
def test_bc_student_where_tbc_is_needed(cls):
    name = cls.__name__
    _raises(ValueError, f"{name}: student_logits must have shape [T, B, C], not [3, 10]",
            cls().compute, Z[0], ZT, Y)


def test_bc_student_rejected_by_every_per_step_loss():
    _raises(ValueError, "TET: student_logits must have shape [T, B, C], not [3, 10]",
            TET(), Z[0], Y)
    _raises(ValueError, "MeanCE: student_logits must have shape [T, B, C], not [3, 10]",
            MeanCE(), Z[0], Y)
    _raises(ValueError, "NLD: student_logits must have shape [T, B, C], not [3, 10]",
            NLD(), Z[0], ZT)
    _raises(ValueError, "TSSDLoss: logits must have shape [T, B, C], not [3, 10]",
            TSSDLoss(2).compute, Z[0], Y)
    _raises(ValueError, "TemporalDistillationLoss: student_logits must have shape [T, B, C] "
            "or [B, C], not [10]", TemporalDistillationLoss().compute, Z[0, 0], ZT)


@pytest.mark.parametrize("cls", [HintonKD, SeAlKD, TemporalDistillationLoss])
def test_class_axis_mismatch(cls):
    _raises(ValueError, f"{cls.__name__}: teacher_logits has 9 classes but student_logits "
            f"has 10", cls().compute, Z, torch.zeros(3, 9), Y)


def test_batch_mismatch_and_teacher_shape():
    _raises(ValueError, "HintonKD: teacher_logits has batch size 2 but student_logits has 3",
            HintonKD().compute, Z, torch.zeros(2, 10), Y)
    _raises(ValueError, "SeAlKD: teacher_logits must have shape [B, C], not [4, 3, 10]",
            SeAlKD().compute, Z, Z, Y)
    _raises(ValueError, "NLD: teacher_logits has 9 classes but student_logits has 10",
            NLD(), Z, torch.zeros(3, 9))


@pytest.mark.parametrize("cls", [HintonKD, SeAlKD, TemporalDistillationLoss])
def test_nan_logits(cls):
    bad = Z.clone()
    bad[1, 2, 3] = float("nan")
    _raises(ValueError, f"{cls.__name__}: student_logits must be finite, but it contains NaN "
            f"or inf", cls().compute, bad, ZT, Y)
    bad_t = ZT.clone()
    bad_t[0, 0] = float("inf")
    _raises(ValueError, f"{cls.__name__}: teacher_logits must be finite, but it contains NaN "
            f"or inf", cls().compute, Z, bad_t, Y)


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), "3", True])
def test_temperature_must_be_positive(value):
    for cls in (HintonKD, SeAlKD, TemporalDistillationLoss):
        _raises(ValueError, f"{cls.__name__}.temperature must be a positive number, "
                f"not {value!r}", cls, temperature=value)
    _raises(ValueError, f"NLD.temperature must be a positive number, not {value!r}",
            NLD, temperature=value)
    _raises(ValueError, f"SAMD.temperature must be a positive number, not {value!r}",
            SAMD, temperature=value)
    _raises(ValueError, f"SelfDistiller.temperature must be a positive number, not {value!r}",
            SelfDistiller, temperature=value)


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), None])
def test_alpha_must_be_in_unit_interval(value):
    _raises(ValueError, f"HintonKD.alpha must be a number in [0, 1], not {value!r}",
            HintonKD, alpha=value)
    _raises(ValueError, f"TemporalDistillationLoss.alpha must be a number in [0, 1], "
            f"not {value!r}", TemporalDistillationLoss, alpha=value)
    _raises(ValueError, f"NLD.mix_weight must be a number in [0, 1], not {value!r}",
            NLD, mix_weight=value)
    _raises(ValueError, f"train_student.warmup must be a number in [0, 1], not {value!r}",
            train_student, None, None, None, None, warmup=value)


def test_weights_modes_and_targets():
    _raises(ValueError, "SeAlKD.beta must be a number >= 0, not -1", SeAlKD, beta=-1)
    _raises(ValueError, "NLD.mode must be one of 'paper', 'code', not 'both'", NLD, "both")
    _raises(ValueError, "CKDSNN.mode must be one of 'paper', 'code', not 'x'", CKDSNN, "x")
    _raises(ValueError, "TemporalDistillationLoss.task must be one of 'per_step', 'mean', "
            "not 'sum'", TemporalDistillationLoss, task="sum")
    _raises(ValueError, "HintonKD: targets must hold class indices in [0, 10), not values "
            "in [0, 10]", HintonKD().compute, Z, ZT, torch.tensor([0, 10, 2]))
    _raises(ValueError, "HintonKD: targets has batch size 2 but student_logits has 3",
            HintonKD().compute, Z, ZT, torch.tensor([0, 1]))
    _raises(ValueError, "HintonKD: targets are required when alpha < 1 (alpha=0.5), not None",
            HintonKD().compute, Z, ZT)
    _raises(ValueError, "SeAlKD: targets must be integer labels [B] (ELA needs the true "
            "class), not soft labels", SeAlKD().compute, Z, ZT, torch.full((3, 10), 0.1))
    _raises(TypeError, "HintonKD: student_logits must be a torch.Tensor or numpy.ndarray, "
            "not list", HintonKD().compute, [[0.0]], ZT, Y)
    _raises(ValueError, "make_recipe.name must be one of 'ce', 'tet', 'hinton', 'tser', "
            "'seal', 'nld', 'ckdsnn', 'tssd', not 'kd'", make_recipe, "kd")
    _raises(ValueError, "SelfDistiller.T_student must be <= T_teacher (4), not 8",
            SelfDistiller, T_teacher=4, T_student=8)


def test_feature_and_map_shapes():
    _raises(ValueError, "SAMD: student_features must have shape [T, B, C, H, W], not [3, 4, 7, 7]",
            SAMD(), torch.zeros(3, 4, 7, 7), torch.zeros(3, 7, 7))
    _raises(ValueError, "SAMD: teacher_map has batch size 2 but student_features has 3",
            SAMD(), torch.zeros(2, 3, 4, 7, 7), torch.zeros(2, 7, 7))
    _raises(ValueError, "TSSDLoss: logits has 2 timesteps, fewer than T_student (4)",
            TSSDLoss(4).compute, Z[:2], Y)
    _raises(ValueError, "STARS.tar_mode must be one of 'A', 'B', 'C', not 'D'",
            STARS, None, None, (1, 4, 4), tar_mode="D")


def test_numpy_inputs_are_checked_the_same_way():
    _raises(ValueError, "TemporalDistillationLoss: teacher_logits has 9 classes but "
            "student_logits has 10", TemporalDistillationLoss().compute,
            np.zeros((4, 3, 10)), np.zeros((3, 9)))
