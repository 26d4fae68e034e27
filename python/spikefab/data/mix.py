"""Training-time mixing of image pairs: mixup and CutMix on flat images.

``mix_pairs`` replaces a ``fraction`` of the rows of ``x [N, C*H*W]`` by a mix of that row
with a partner row (a random permutation of the batch), the weight ``lam ~ Beta(alpha,
alpha)`` drawn per row:

* ``mixup`` (Zhang et al. 2018): ``lam * x_i + (1 - lam) * x_partner``;
* ``cutmix`` (Yun et al. 2019): ``x_i`` with one axis-aligned box of about ``(1 - lam)`` of
  its area copied from the partner (sides ``round(H sqrt(1 - lam))``,
  ``round(W sqrt(1 - lam))``, the box inside the image, its corner uniform).

There are no labels here: the caller labels each mixed image itself (a teacher run on it, as
in data-free distillation), so nothing about the pair's classes is assumed. Every random
number is drawn whatever ``fraction`` is, from ``rng`` only, so the same generator state
gives the same images.
"""

from __future__ import annotations

import numpy as np

from ..fixed import is_number

__all__ = ["MIX_MODES", "check_mix", "mix_pairs"]

MIX_MODES = ("mixup", "cutmix")


def check_mix(owner: str, fraction, mode, alpha) -> tuple[float, str, float]:
    """``(fraction, mode, alpha)`` checked: fraction in [0, 1], mode in :data:`MIX_MODES`,
    alpha > 0; a one-line ``ValueError`` naming ``owner``'s field otherwise."""
    if not is_number(fraction) or not 0 <= fraction <= 1:
        raise ValueError(f"{owner}.augment_mix must be a number in [0, 1], not {fraction!r}")
    if mode not in MIX_MODES:
        raise ValueError(f"{owner}.mix_mode must be one of {', '.join(MIX_MODES)}, not "
                         f"{mode!r}")
    if not is_number(alpha) or not alpha > 0:
        raise ValueError(f"{owner}.mix_alpha must be a number > 0, not {alpha!r}")
    return float(fraction), mode, float(alpha)


def mix_pairs(x: np.ndarray, image_shape, fraction: float, mode: str, alpha: float,
              rng: np.random.Generator) -> np.ndarray:
    """A copy of ``x [N, C*H*W]`` with ``fraction`` of its rows (each row with that
    probability) mixed with a partner row by ``mode``; the other rows unchanged."""
    fraction, mode, alpha = check_mix("mix_pairs", fraction, mode, alpha)
    x = np.asarray(x)
    n = len(x)
    c, h, w = (int(d) for d in image_shape)
    sel = rng.random(n) < fraction
    partner = rng.permutation(n)
    lam = rng.beta(alpha, alpha, n)
    img = x.reshape(n, c, h, w)
    other = img[partner]
    if mode == "mixup":
        lw = lam.astype(x.dtype)[:, None, None, None]
        mixed = lw * img + (1 - lw) * other
    else:
        cut = np.sqrt(1.0 - lam)
        bh, bw = np.rint(h * cut).astype(int), np.rint(w * cut).astype(int)
        y0 = (rng.random(n) * (h - bh + 1)).astype(int)
        x0 = (rng.random(n) * (w - bw + 1)).astype(int)
        ys, xs = np.arange(h)[None, :], np.arange(w)[None, :]
        box = (((ys >= y0[:, None]) & (ys < (y0 + bh)[:, None]))[:, :, None]
               & ((xs >= x0[:, None]) & (xs < (x0 + bw)[:, None]))[:, None, :])
        mixed = np.where(box[:, None], other, img)
    out = np.where(sel[:, None, None, None], mixed, img)
    return out.reshape(x.shape).astype(x.dtype, copy=False)
