"""Every method, used to train a small student on digits for a few epochs, lowers its loss."""

import pytest
import torch
from spikefab.data import load_dataset
from spikefab.distill import (
    RECIPES,
    STARS,
    make_recipe,
    teacher_outputs,
    train_student,
)
from spikefab.quant.qat import qat_from_float
from spikefab.snn.cnn import SpikingCNN
from spikefab.snn.mlp import SpikingMLP
from spikefab.snn.teachers import CNNTeacher, MLPTeacher, train_teacher
from spikefab.train.threads import torch_threads

N_TRAIN = 400


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def digits():
    ds = load_dataset("digits", seed=0)
    x = torch.from_numpy(ds.x_train[:N_TRAIN])
    y = torch.from_numpy(ds.y_train[:N_TRAIN])
    return x, y


@pytest.fixture(scope="module")
def teachers(digits):
    x, y = digits
    torch.manual_seed(0)
    mlp = train_teacher(MLPTeacher((64, 64, 10), batch_norm=True), x, y, epochs=10,
                        batch_size=32, seed=0)
    torch.manual_seed(0)
    cnn = train_teacher(CNNTeacher((1, 8, 8), (8, 16), 10), x, y, epochs=10, batch_size=32,
                        seed=0)
    return mlp, cnn


def _student(name):
    torch.manual_seed(1)
    if name == "ckdsnn":
        return SpikingCNN((1, 8, 8), (8, 16), 10, timesteps=2, theta=0.5)
    return SpikingMLP((64, 32, 10), timesteps=2, theta=0.5)


def _recipe(name, student):
    kwargs = {}
    if name == "tssd":
        kwargs = {"student": student, "n_features": 32, "n_classes": 10}
    if name in ("nld", "ckdsnn"):
        kwargs = {"generator": torch.Generator()}
    return make_recipe(name, **kwargs)


def _eval_loss(recipe, student, x, y, t):
    if hasattr(recipe, "fn") and hasattr(recipe.fn, "generator"):
        recipe.fn.generator.manual_seed(123)
    if hasattr(recipe, "fn") and hasattr(recipe.fn, "nld"):
        recipe.fn.nld.generator.manual_seed(123)
    with torch.no_grad():
        out = recipe.loss(student, x, y, t.logits if t else None,
                          t.maps if t else None, 1.0)
    return float(out["total_loss"])


@pytest.mark.parametrize("name", RECIPES)
def test_a_few_epochs_lower_the_recipe_loss(name, digits, teachers):
    x, y = digits
    student = _student(name)
    recipe = _recipe(name, student)
    teacher = teachers[1] if recipe.needs_cam else teachers[0]
    t = teacher_outputs(teacher, x, cam=recipe.needs_cam) if recipe.needs_teacher else None
    before = _eval_loss(recipe, student, x, y, t)
    hist = train_student(student, recipe, x, y, teacher=t, epochs=3, batch_size=32, lr=1e-2,
                         seed=0)
    after = _eval_loss(recipe, student, x, y, t)
    assert after < 0.8 * before, (name, before, after, hist.loss)


def test_stars_distillation_on_a_synthetic_pool_lowers_the_kd_loss(teachers):
    mlp, _ = teachers
    student = _student("stars")
    stars = STARS(mlp, student, (1, 8, 8), iterations=30, lr=0.1, jitter=0)
    pool = stars.train(n_classes=10, rounds=2, batch_size=32, steps_per_round=1, seed=0)
    px, pl = pool["pool"], pool["teacher_logits"]
    assert px.shape == (64, 1, 8, 8) and pl.shape == (64, 10)
    # the teacher recognises its own synthetic images as the intended classes
    assert float((pl.argmax(1) == pool["labels"]).float().mean()) > 0.8
    with torch.no_grad():
        before = float(stars.distill_loss(student(px.flatten(1)), pl))
    stars.train(n_classes=10, rounds=1, batch_size=32, steps_per_round=60, seed=1)
    with torch.no_grad():
        after = float(stars.distill_loss(student(px.flatten(1)), pl))
    assert after < 0.8 * before


@pytest.mark.parametrize("name", ["hinton", "seal", "tssd"])
def test_the_qat_student_is_a_drop_in(name, digits, teachers):

    x, y = digits
    torch.manual_seed(1)
    student = qat_from_float(SpikingMLP((64, 32, 10), timesteps=2), in_bits=8)
    recipe = _recipe(name, student)
    t = teacher_outputs(teachers[0], x) if recipe.needs_teacher else None
    before = _eval_loss(recipe, student, x, y, t)
    train_student(student, recipe, x, y, teacher=t, epochs=3, batch_size=32, lr=1e-2, seed=0)
    after = _eval_loss(recipe, student, x, y, t)
    assert after < 0.8 * before, (name, before, after)
