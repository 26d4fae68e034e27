"""data.mix_pairs: mixup and CutMix of flat image pairs (no labels: the caller's teacher
labels each mix)."""

import numpy as np
import pytest
from spikefab.data import mix_pairs

SHAPE = (1, 6, 5)


def _x(n=12, seed=0):
    # distinct random pixels: a mixed pixel tells which rows it came from
    return np.random.default_rng(seed).random((n, 30)).astype(np.float32)


def test_mixup_rows_lie_on_the_segment_to_one_partner_row():
    x = _x()
    out = mix_pairs(x, SHAPE, 1.0, "mixup", 1.0, np.random.default_rng(1))
    assert out.dtype == x.dtype and out.shape == x.shape
    partners = []
    for o, xi in zip(out, x, strict=True):
        fits = []
        for j, xj in enumerate(x):
            d = xi - xj
            if not d.any():
                continue
            lam = float(np.dot(o - xj, d) / np.dot(d, d))  # o = lam xi + (1 - lam) xj
            if np.abs(lam * xi + (1 - lam) * xj - o).max() < 1e-5 and -1e-6 <= lam <= 1 + 1e-6:
                fits.append(j)
        if not fits:  # mixed with itself: unchanged
            np.testing.assert_array_equal(o, xi)
        partners += fits
    assert len(partners) >= len(x) - 2  # almost every row found one partner on the segment
    assert not np.array_equal(out, x)


def test_cutmix_takes_one_box_from_one_partner():
    x = _x()
    out = mix_pairs(x, SHAPE, 1.0, "cutmix", 1.0, np.random.default_rng(2))
    boxes = 0
    for o, xi in zip(out, x, strict=True):
        src = o.reshape(6, 5) != xi.reshape(6, 5)  # pixels taken from elsewhere
        if not src.any():
            continue
        owners = {j for j, xj in enumerate(x) if np.array_equal(o[src.ravel()], xj[src.ravel()])}
        assert len(owners) == 1  # every copied pixel from the same partner, same positions
        rows, cols = np.flatnonzero(src.any(1)), np.flatnonzero(src.any(0))
        # one axis-aligned box: its bounding box is filled completely
        assert src[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all()
        boxes += 1
    assert boxes >= len(x) // 2


@pytest.mark.parametrize("mode", ["mixup", "cutmix"])
def test_fraction_zero_is_a_copy_and_draws_are_deterministic(mode):
    x = _x(400)
    keep = x.copy()
    np.testing.assert_array_equal(mix_pairs(x, SHAPE, 0.0, mode, 1.0,
                                            np.random.default_rng(3)), x)
    a = mix_pairs(x, SHAPE, 0.5, mode, 1.0, np.random.default_rng(3))
    b = mix_pairs(x, SHAPE, 0.5, mode, 1.0, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(x, keep)  # the input is not written
    changed = (a != x).any(1).mean()
    assert 0.35 < changed <= 0.55  # about half the rows (a few mixed with themselves or a 0 box)


@pytest.mark.parametrize("kw, msg", [
    ({"fraction": 1.5}, "mix_pairs.augment_mix must be a number in [0, 1], not 1.5"),
    ({"mode": "blend"}, "mix_pairs.mix_mode must be one of mixup, cutmix, not 'blend'"),
    ({"alpha": 0.0}, "mix_pairs.mix_alpha must be a number > 0, not 0.0"),
])
def test_bad_mix_settings_are_one_line(kw, msg):
    args = {"fraction": 0.5, "mode": "mixup", "alpha": 1.0, **kw}
    with pytest.raises(ValueError, match="^" + msg.replace("[", r"\[").replace("]", r"\]")
                       .replace(".", r"\.") + "$"):
        mix_pairs(_x(), SHAPE, args["fraction"], args["mode"], args["alpha"],
                  np.random.default_rng(0))
