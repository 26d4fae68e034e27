"""Training-time augmentation of flat images: random translation.

``random_shift`` moves every image of ``[N, H*W]`` (or ``[N, C*H*W]``) by its own whole-pixel
offset ``(dy, dx)``, each drawn uniformly from ``[-max_shift, max_shift]``; pixels that enter
from outside are 0 (the background of digits and MNIST). The label does not change, so a
small-data run sees a fresh variant of each image every epoch. It acts on the [0, 1] floats
before input quantisation, so the shifted image is quantised exactly like a test image.
"""

from __future__ import annotations

import numpy as np

from ..fixed import is_int

__all__ = ["random_shift", "check_shift", "epoch_shifts"]


def check_shift(owner: str, max_shift, image_shape) -> int:
    """``max_shift`` as an int in ``[0, min(H, W) - 1]``; a one-line ``ValueError`` otherwise."""
    if image_shape is None:
        if max_shift:
            raise ValueError(f"{owner}.augment_shift = {max_shift!r} needs a dataset with an "
                             f"image_shape")
        return 0
    side = min(int(image_shape[-1]), int(image_shape[-2]))
    if not is_int(max_shift) or \
            not 0 <= max_shift < side:
        raise ValueError(f"{owner}.augment_shift must be an integer in [0, {side - 1}] for "
                         f"{'x'.join(map(str, image_shape))} images, not {max_shift!r}")
    return max_shift


def random_shift(x: np.ndarray, image_shape, max_shift: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Each row of ``x`` ``[N, prod(image_shape)]`` translated by its own random offset."""
    max_shift = check_shift("random_shift", max_shift, image_shape)
    x = np.asarray(x)
    if max_shift == 0:
        return x.copy()
    *lead, h, w = (int(d) for d in image_shape)
    n = len(x)
    img = x.reshape(n, -1, h, w)
    s = max_shift
    pad = np.pad(img, ((0, 0), (0, 0), (s, s), (s, s)))
    dy = rng.integers(0, 2 * s + 1, n)
    dx = rng.integers(0, 2 * s + 1, n)
    rows = dy[:, None] + np.arange(h)[None]  # [N, H]: padded row read for output row
    cols = dx[:, None] + np.arange(w)[None]
    out = pad[np.arange(n)[:, None, None, None], np.arange(img.shape[1])[None, :, None, None],
              rows[:, None, :, None], cols[:, None, None, :]]
    return out.reshape(x.shape).astype(x.dtype, copy=False)


def epoch_shifts(x, image_shape, max_shift: int, seed: int):
    """``epoch -> random_shift(x, ...)`` with fresh offsets per epoch, drawn from
    ``default_rng([seed, 7919, epoch])``; the last epoch's images are kept, so a student and
    its teacher asking for the same epoch get the same shifted images, computed once."""
    max_shift = check_shift("epoch_shifts", max_shift, image_shape)
    last: dict = {}

    def shifted(epoch: int) -> np.ndarray:
        if epoch not in last:
            last.clear()
            last[epoch] = random_shift(x, image_shape, max_shift,
                                       np.random.default_rng([seed, 7_919, epoch]))
        return last[epoch]

    return shifted
