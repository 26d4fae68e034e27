"""data.random_shift: every row is its own whole-pixel translation, zeros entering."""

import numpy as np
import pytest
from spikefab.data import load_dataset, random_shift
from spikefab.train import TrainConfig, fit


def _translate(img, dy, dx):
    """Reference: output[r, c] = img[r - dy, c - dx] inside the image, else 0."""
    h, w = img.shape
    out = np.zeros_like(img)
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[r, c] = img[r - dy, c - dx]
    return out


def test_each_row_is_a_translation_within_range():
    ds = load_dataset("digits")
    x = ds.x_train[:200]
    out = random_shift(x, (8, 8), 2, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    seen = set()
    for a, b in zip(x.reshape(-1, 8, 8), out.reshape(-1, 8, 8), strict=True):
        hits = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                if np.array_equal(_translate(a, dy, dx), b)]
        assert hits, "row is not a translation by at most 2 pixels"
        seen.add(hits[0])
    assert len(seen) >= 20  # offsets are drawn per row, not once per batch


def test_zero_shift_and_determinism():
    x = np.random.default_rng(1).random((5, 16)).astype(np.float32)
    np.testing.assert_array_equal(random_shift(x, (4, 4), 0, np.random.default_rng(0)), x)
    a = random_shift(x, (4, 4), 1, np.random.default_rng(3))
    b = random_shift(x, (4, 4), 1, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [-1, 8, 1.5, True])
def test_bad_shift_is_one_line(bad):
    with pytest.raises(ValueError) as e:
        random_shift(np.zeros((1, 64)), (8, 8), bad, np.random.default_rng(0))
    assert str(e.value) == ("random_shift.augment_shift must be an integer in [0, 7] for 8x8 "
                            f"images, not {bad!r}")
    with pytest.raises(ValueError, match=r"^TrainConfig.augment_shift must be an integer in "
                                         r"\[0, 8\], not -1$"):
        TrainConfig(augment_shift=-1)


def test_fit_with_shift_is_deterministic_and_learns():
    cfg = TrainConfig(dataset="digits", hidden=(32,), epochs=3, augment_shift=1)
    a, b = fit(cfg), fit(cfg)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert bool((pa == pb).all())
    assert a.float_acc > 0.7
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_train_student_takes_per_epoch_inputs_and_teacher():
    """With callables, every epoch reads its own inputs and its own teacher outputs."""
    import torch
    from spikefab.distill import TeacherOutputs, make_recipe, train_student
    from spikefab.snn.mlp import SpikingMLP

    ds = load_dataset("digits")
    x01, y = ds.x_train[:256], torch.from_numpy(ds.y_train[:256])
    asked_x, asked_t = [], []
    teacher = torch.nn.Linear(64, 10)

    def shifted(epoch):
        return torch.from_numpy(random_shift(x01, (8, 8), 1, np.random.default_rng(epoch)))

    def x(epoch):
        asked_x.append(epoch)
        return shifted(epoch)

    def tout(epoch):
        asked_t.append(epoch)
        with torch.no_grad():
            return TeacherOutputs(teacher(shifted(epoch)))

    torch.manual_seed(0)
    student = SpikingMLP((64, 16, 10), timesteps=2)
    hist = train_student(student, make_recipe("hinton"), x, y, teacher=tout, epochs=3)
    assert asked_x == asked_t == [0, 1, 2]
    assert len(hist.loss) == 3 and hist.loss[-1] < hist.loss[0]
    with pytest.raises(ValueError, match=r"^train_student: teacher has 5 rows but y has 256$"):
        train_student(student, make_recipe("hinton"), x, y, epochs=1,
                      teacher=lambda e: TeacherOutputs(torch.zeros(5, 10)))


def test_config_augment_shift(tmp_path):
    from runlib import tiny_config
    from spikefab.run import load_config
    from spikefab.run.config import student_train_config

    path = tiny_config(tmp_path)
    path.write_text(path.read_text().replace("epochs = 2", "epochs = 2\naugment_shift = 1"))
    assert student_train_config(load_config(path)).augment_shift == 1
    from spikefab.cli import main

    assert main(["run", str(path), "--until", "distill"]) == 0  # hinton, consistent teacher
    assert (tmp_path / "runs" / "tiny" / "student" / "student.pt").is_file()
    bad = tiny_config(tmp_path, "bad", method="stars")
    bad.write_text(bad.read_text().replace("epochs = 2", "epochs = 2\naugment_shift = 1"))
    with pytest.raises(ValueError) as e:
        load_config(bad)
    assert str(e.value) == (f"config {bad}: config key 'student.augment_shift' must be 0 "
                            "when distill.method is 'stars' (the student sees only synthetic "
                            "images), not 1")
