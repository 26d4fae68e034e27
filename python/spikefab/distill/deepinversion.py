"""DeepInversion (Yin et al., CVPR 2020): synthesise inputs from a BN teacher's statistics.

Exact terms of NVlabs/DeepInversion (research/kd_methods.md §6.1)::

    r_l  = ||running_var_l - var(x_l)||_2 + ||running_mean_l - mean(x_l)||_2   (x_l: BN INPUT;
           statistics over every axis but the channel one, var biased)
    R_BN = sum_l m_l r_l                    m_1 = first_bn_multiplier, m_l = 1 otherwise
    bn_relative: r_l / (||running_var_l||_2 + ||running_mean_l||_2)   (each layer's error
           relative to the size of its own statistics, so no layer's term is left high)
    TV_l2 = sum_i ||d_i||_F ,  TV_l1 = sum_i mean|d_i|   over the 4 neighbour differences d_i
    R_l2  = ||x||_2 of the whole batch (CIFAR script)
    ADI   = 1 - clamp(JS_{T=3}(student, teacher), 0, 1)   with P, Q clamped to [0.01, 0.99]
    L_syn = main * CE(f_T(jitter(x)), y_hat) + tv_l2 * TV_l2 + tv_l1 * TV_l1
            + r_feature * R_BN + l2 * R_l2 [+ adi * ADI]

Pixels are parameterised as ``x = sigmoid(p)`` so that they stay in [0, 1] like the real
inputs; with ``scales`` (s_1, s_2, ...) the logits are a pyramid
``p = sum_k up_k(p_k)``, ``p_k`` of size ``(H/s_k, W/s_k)`` upsampled bilinearly, so that
``scales = (2,)`` cannot make single-pixel speckle (the default ``(1,)`` is the plain form);
jitter is ``torch.roll`` by up to ``jitter`` pixels (random flips are off, as in the CIFAR
recipe: digits are not mirror-symmetric). The teacher is frozen during synthesis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..fixed import is_int, is_number
from .common import check_nonnegative, check_positive, check_steps_count

__all__ = ["BNRecorder", "bn_layer_loss", "bn_layer_scale", "tv_loss", "l2_prior",
           "adi_competition", "DeepInversion", "frozen"]

_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


class BNRecorder:
    """Records the input of every BatchNorm layer of ``model`` during forward passes.

    Use as a context manager: ``with BNRecorder(teacher) as rec: teacher(x)``; then
    ``rec.inputs`` is a list of ``(bn_module, input tensor)`` in forward order.
    """

    def __init__(self, model: nn.Module):
        self.bns = [m for m in model.modules() if isinstance(m, _BN)]
        if not self.bns:
            raise ValueError(f"BNRecorder model must contain BatchNorm layers, "
                             f"{type(model).__name__} has none")
        self.inputs: list[tuple[nn.Module, torch.Tensor]] = []
        self._handles = []

    def _hook(self, module, args, output):
        self.inputs.append((module, args[0]))

    def __enter__(self):
        self.inputs = []
        self._handles = [bn.register_forward_hook(self._hook) for bn in self.bns]
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []


def _channel_stats(x: torch.Tensor):
    dims = [d for d in range(x.ndim) if d != 1]
    return x.mean(dim=dims), x.var(dim=dims, unbiased=False)


def bn_layer_loss(bn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``||running_var - var(x)||_2 + ||running_mean - mean(x)||_2`` for one BN input ``x``."""
    mean, var = _channel_stats(x)
    return torch.linalg.vector_norm(bn.running_var - var) + torch.linalg.vector_norm(
        bn.running_mean - mean)


def bn_layer_scale(bn: nn.Module) -> torch.Tensor:
    """``||running_var||_2 + ||running_mean||_2`` of one BN layer (``bn_relative``'s divisor;
    at least 1e-12)."""
    return (torch.linalg.vector_norm(bn.running_var)
            + torch.linalg.vector_norm(bn.running_mean)).clamp_min(1e-12)


def tv_loss(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(TV_l2, TV_l1)`` of images ``[B, C, H, W]`` (four neighbour differences)."""
    d1 = x[..., :, :-1] - x[..., :, 1:]
    d2 = x[..., :-1, :] - x[..., 1:, :]
    d3 = x[..., 1:, :-1] - x[..., :-1, 1:]
    d4 = x[..., :-1, :-1] - x[..., 1:, 1:]
    ds = (d1, d2, d3, d4)
    return sum(torch.linalg.vector_norm(d) for d in ds), sum(d.abs().mean() for d in ds)


def l2_prior(x: torch.Tensor) -> torch.Tensor:
    """``||x||_2`` of the whole batch."""
    return torch.linalg.vector_norm(x)


def adi_competition(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                    temperature: float = 3.0) -> torch.Tensor:
    """Adaptive DeepInversion term ``1 - clamp(JS, 0, 1)`` in [0, 1]."""
    p = F.softmax(student_logits / temperature, -1).clamp(0.01, 0.99)
    q = F.softmax(teacher_logits / temperature, -1).clamp(0.01, 0.99)
    m = 0.5 * (p + q)
    js = 0.5 * F.kl_div(torch.log(p), m, reduction="batchmean") + 0.5 * F.kl_div(
        torch.log(q), m, reduction="batchmean")
    return 1.0 - js.clamp(0.0, 1.0)


@contextlib.contextmanager
def frozen(*modules: nn.Module):
    """Turn off gradients and set eval mode on ``modules``; restore both afterwards."""
    saved = [(m, m.training, [p.requires_grad for p in m.parameters()]) for m in modules]
    try:
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
        yield
    finally:
        for m, training, flags in saved:
            m.train(training)
            for p, flag in zip(m.parameters(), flags, strict=True):
                p.requires_grad_(flag)


class DeepInversion:
    """BN-statistics input synthesis from a frozen teacher.

    Parameters
    ----------
    teacher : nn.Module
        Eval-mode teacher with BatchNorm layers; takes ``[B, *image_shape]`` or flat inputs.
    image_shape : (int, int, int)
        ``(C, H, W)`` of one synthetic image.
    iterations : int
        Adam steps per batch (default 400).
    lr : float
        Adam learning rate on the pixel logits (default 0.1, betas (0.5, 0.9)).
    r_feature, first_bn_multiplier, tv_l2, tv_l1, l2, main : float
        Weights of the terms above (defaults for 28x28 grey digits: 1.0, 1.0, 1e-3, 0, 0, 1).
    bn_relative : bool
        Divide each layer's ``r_l`` by the size of its running statistics
        (:func:`bn_layer_scale`) before weighting (default False: the plain sum). A layer
        whose statistics are small (a narrow conv layer beside a wide hidden one) then
        counts as much as the others, by its relative error.
    jitter : int
        Maximum roll in pixels (default 2).
    init_logit : float
        Mean of the initial pixel logits ``p ~ N(init_logit, 1)`` (default 0: grey,
        ``sigmoid(0) = 0.5``; -3 starts near black, ``sigmoid(-3) = 0.047``, the background
        of a digit).
    scales : sequence of int
        Downsampling factors of the logit pyramid (default ``(1,)``: one logit per pixel);
        each must divide H and W. ``(2,)`` optimises a 14x14 latent upsampled bilinearly to
        28x28; ``(4, 2, 1)`` sums 7x7, 14x14 and 28x28 latents.
    """

    def __init__(self, teacher: nn.Module, image_shape: Sequence[int], *,
                 iterations: int = 400, lr: float = 0.1, r_feature: float = 1.0,
                 first_bn_multiplier: float = 1.0, tv_l2: float = 1e-3, tv_l1: float = 0.0,
                 l2: float = 0.0, main: float = 1.0, jitter: int = 2,
                 init_logit: float = 0.0, scales: Sequence[int] = (1,),
                 bn_relative: bool = False):
        self.teacher = teacher
        self.image_shape = tuple(image_shape)
        self.iterations = check_steps_count("DeepInversion", "iterations", iterations)
        self.lr = check_positive("DeepInversion", "lr", lr)
        self.r_feature = check_nonnegative("DeepInversion", "r_feature", r_feature)
        self.first_bn_multiplier = check_nonnegative(
            "DeepInversion", "first_bn_multiplier", first_bn_multiplier)
        self.tv_l2 = check_nonnegative("DeepInversion", "tv_l2", tv_l2)
        self.tv_l1 = check_nonnegative("DeepInversion", "tv_l1", tv_l1)
        self.l2 = check_nonnegative("DeepInversion", "l2", l2)
        self.main = check_nonnegative("DeepInversion", "main", main)
        if not is_int(jitter) or jitter < 0:
            raise ValueError(f"DeepInversion.jitter must be an integer >= 0, not {jitter!r}")
        self.jitter = jitter
        if not is_number(init_logit) or not -10 <= init_logit <= 10:
            raise ValueError(f"DeepInversion.init_logit must be a number in [-10, 10], not "
                             f"{init_logit!r}")
        self.init_logit = float(init_logit)
        self.scales = _check_scales(scales, self.image_shape)
        if not isinstance(bn_relative, bool):
            raise ValueError(f"DeepInversion.bn_relative must be true or false, not "
                             f"{bn_relative!r}")
        self.bn_relative = bn_relative
        self.recorder = BNRecorder(teacher)

    def r_bn(self, records) -> torch.Tensor:
        """``R_BN`` of the recorded BN inputs (first layer weighted by the multiplier; each
        term relative to its layer's statistics with ``bn_relative``)."""
        terms = [bn_layer_loss(bn, x) / (bn_layer_scale(bn) if self.bn_relative else 1.0)
                 for bn, x in records]
        return self.first_bn_multiplier * terms[0] + sum(terms[1:])

    def _jitter(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if not self.jitter:
            return x
        dy, dx = (int(v) for v in torch.randint(-self.jitter, self.jitter + 1, (2,),
                                                 generator=gen))
        return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))

    def losses(self, x: torch.Tensor, targets: torch.Tensor, gen: torch.Generator) -> dict:
        """The DeepInversion terms for images ``x [B, C, H, W]`` (teacher run once, jittered).

        Returns ``main``, ``bn``, ``tv_l2``, ``tv_l1``, ``l2``, ``total`` and (for add-ons such
        as STARS) ``teacher_logits`` and ``bn_records``.
        """
        with self.recorder as rec:
            logits = self.teacher(self._jitter(x, gen))
        records = list(rec.inputs)
        ce = F.cross_entropy(logits, targets)
        bn = self.r_bn(records)
        tv2, tv1 = tv_loss(x)
        l2 = l2_prior(x)
        total = (self.main * ce + self.r_feature * bn + self.tv_l2 * tv2 + self.tv_l1 * tv1
                 + self.l2 * l2)
        return {"total": total, "main": ce, "bn": bn, "tv_l2": tv2, "tv_l1": tv1, "l2": l2,
                "teacher_logits": logits, "bn_records": records}

    def synthesize(self, targets: torch.Tensor, *, seed: int = 0,
                   extra: Callable[[torch.Tensor, dict], torch.Tensor] | None = None
                   ) -> torch.Tensor:
        """Images ``[B, C, H, W]`` in [0, 1] that the teacher classifies as ``targets``.

        ``extra(x, terms) -> scalar`` adds a term (STARS' RCA and TAR) to every step's loss.
        Only the pixels get gradients: the teacher is frozen for the whole call.
        """
        gen = torch.Generator().manual_seed(seed)
        c, h, w = self.image_shape
        params = []
        for k, s in enumerate(self.scales):
            p = torch.randn(len(targets), c, h // s, w // s, generator=gen)
            # the initial logits' mean is init_logit whatever the pyramid (first level only)
            params.append((p + (self.init_logit if k == 0 else 0.0)).requires_grad_())
        opt = torch.optim.Adam(params, lr=self.lr, betas=(0.5, 0.9))
        with frozen(self.teacher):
            for _ in range(self.iterations):
                x = torch.sigmoid(self.logits(params))
                terms = self.losses(x, targets, gen)
                loss = terms["total"] + (extra(x, terms) if extra is not None else 0.0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            return torch.sigmoid(self.logits(params)).detach()

    def logits(self, params: Sequence[torch.Tensor]) -> torch.Tensor:
        """Pixel logits ``[B, C, H, W]``: the pyramid levels upsampled bilinearly and summed."""
        h, w = self.image_shape[1:]
        out = 0.0
        for p in params:
            up = p if p.shape[-2:] == (h, w) else F.interpolate(
                p, size=(h, w), mode="bilinear", align_corners=False)
            out = out + up
        return out


def _check_scales(scales, image_shape) -> tuple[int, ...]:
    """``scales`` as a tuple: distinct positive integers dividing the image's H and W."""
    h, w = image_shape[-2:]
    ok = (isinstance(scales, (list, tuple)) and len(scales) > 0
          and all(is_int(s) and s >= 1 and h % s == 0 and w % s == 0 for s in scales)
          and len(set(scales)) == len(scales))
    if not ok:
        raise ValueError(f"DeepInversion.scales must be a non-empty list of distinct integers "
                         f">= 1 dividing the image size {h}x{w}, not {scales!r}")
    return tuple(int(s) for s in scales)
