"""STARS: data-free ANN -> SNN distillation (Ye et al., arXiv 2605.27409; no public code).

research/kd_methods.md §6. Synthesis (teacher and student frozen; only the pixels learn)::

    L_syn = L_DI(x) + rca_weight * RCA(f_T(x), mean_t f_S(x)) + tar_weight * TAR(x)

``L_DI`` is :class:`DeepInversion`; RCA compares the batch cosine Gram matrices of the teacher
logits and the student's time-mean logits; TAR is reading A (BN-prior tail matching) by
default, B (teacher-student tail agreement on the logits) or C (the seed's monotone loss) as
options. ``rca_weight`` is signed: > 0 minimises RCA (the seed), < 0 makes synthesis seek
batches on which the student's relations disagree with the teacher's (adversarial reading).
``rca_weight = tar_weight = 0`` is plain DeepInversion; ``r_feature = 0`` as well is CE-only
synthesis.

Distillation: pure KD on the synthetic pool (no labels, no real data)::

    L = tau^2 KL(softmax(f_T/tau) || softmax(mean_t z_t / tau)) [+ distill_rca * RCA]

alternating with synthesis rounds: each round synthesises one batch with the current student
and then trains the student on the whole pool so far (the usual DFKD schedule, [inferred]).
The pool grows by one batch a round and every round draws from all of it. Optional: Adaptive
DeepInversion's competition term (``adi``: synthesis seeks images on which the current student
disagrees with the teacher), the pool rounded to the student's ``in_bits`` input grid,
random shifts of the pool's images during distillation (``augment_shift``; the teacher labels
each shifted view, as in KD on real images with augmentation) and, in the final phase, mixup
or CutMix of pool pairs (``augment_mix``; the teacher labels each mixed view).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..data import mix_pairs, random_shift
from ..data.mix import check_mix
from ..fixed import is_int, is_number
from ..train.optim import adam
from .common import (
    check_choice,
    check_fraction,
    check_nonnegative,
    check_positive,
    check_steps_count,
    kd_rows,
)
from .deepinversion import DeepInversion, adi_competition, frozen
from .rca import rca_loss
from .tar import tar_a, tar_b, tar_c

__all__ = ["STARS", "TAR_MODES"]

TAR_MODES = ("A", "B", "C")
_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


class STARS:
    """Data-free distillation of ``student`` from a BN ``teacher``.

    Parameters
    ----------
    teacher : nn.Module
        Frozen ANN with BatchNorm layers.
    student : nn.Module
        SNN returning ``[T, B, C]``; ``student_input(x_images)`` feeds it (default: flatten).
    image_shape : (int, int, int)
    rca_weight : float
        Signed weight of RCA during synthesis (default 0.5, the seed's value).
    tar_weight : float
        Weight >= 0 of TAR during synthesis (default 0.3).
    tar_mode : {"A", "B", "C"}
    q : float
        Tail quantile in (0, 1) (default 0.95).
    kappa : float
        Soft-exceedance width (default 0.1).
    temperature : float
        KD temperature of the distillation phase (default 3.0).
    distill_rca : float
        Weight >= 0 of RCA during distillation (default 0).
    adi : float
        Weight >= 0 of Adaptive DeepInversion's competition term during synthesis (default 0).
    in_bits : int, optional
        Round the pool to the ``in_bits`` direct-input grid (what the student will get).
    augment_shift : int
        Shift each pool image by up to this many pixels per distillation step (default 0).
    augment_mix : float
        Fraction in [0, 1] of each final-phase epoch's (shifted) views replaced by a mix of
        two pool images, labelled by the teacher on the mix (default 0: off).
    mix_mode : {"mixup", "cutmix"}
        How the pairs are mixed (``data.mix_pairs``; default "mixup").
    mix_alpha : float
        ``lam ~ Beta(mix_alpha, mix_alpha)`` (default 1: uniform).
    **di_kwargs
        Passed to :class:`DeepInversion` (``iterations``, ``lr``, ``r_feature``, ...).
    """

    def __init__(self, teacher: nn.Module, student: nn.Module, image_shape: Sequence[int], *,
                 rca_weight: float = 0.5, tar_weight: float = 0.3, tar_mode: str = "A",
                 q: float = 0.95, kappa: float = 0.1, temperature: float = 3.0,
                 distill_rca: float = 0.0, adi: float = 0.0, in_bits: int | None = None,
                 augment_shift: int = 0, augment_mix: float = 0.0, mix_mode: str = "mixup",
                 mix_alpha: float = 1.0,
                 student_input: Callable[[torch.Tensor], torch.Tensor] = _flat, **di_kwargs):
        self.teacher, self.student = teacher, student
        if not is_number(rca_weight):
            raise ValueError(f"STARS.rca_weight must be a number, not {rca_weight!r}")
        self.rca_weight = float(rca_weight)
        self.tar_weight = check_nonnegative("STARS", "tar_weight", tar_weight)
        self.tar_mode = check_choice("STARS", "tar_mode", tar_mode, TAR_MODES)
        self.q = check_fraction("STARS", "q", q)
        if not 0 < self.q < 1:
            raise ValueError(f"STARS.q must be a number in (0, 1), not {q!r}")
        self.kappa = check_positive("STARS", "kappa", kappa)
        self.temperature = check_positive("STARS", "temperature", temperature)
        self.distill_rca = check_nonnegative("STARS", "distill_rca", distill_rca)
        self.adi = check_nonnegative("STARS", "adi", adi)
        if in_bits is not None and (not is_int(in_bits) or not 1 <= in_bits <= 16):
            raise ValueError(f"STARS.in_bits must be None or an integer in [1, 16], not "
                             f"{in_bits!r}")
        self.in_bits = in_bits
        if not is_int(augment_shift) or augment_shift < 0:
            raise ValueError(f"STARS.augment_shift must be an integer >= 0, not "
                             f"{augment_shift!r}")
        self.augment_shift = int(augment_shift)
        self.augment_mix, self.mix_mode, self.mix_alpha = check_mix(
            "STARS", augment_mix, mix_mode, mix_alpha)
        self.student_input = student_input
        if not any(isinstance(m, _BN) for m in teacher.modules()):
            raise ValueError(f"STARS teacher must have BatchNorm layers (synthesis matches "
                             f"their running statistics), {type(teacher).__name__} has none")
        self.inversion = DeepInversion(teacher, image_shape, **di_kwargs)

    def synthesis_extra(self, x: torch.Tensor, terms: dict) -> torch.Tensor:
        """``rca_weight * RCA + tar_weight * TAR + adi * ADI`` for synthetic images ``x``."""
        extra = x.new_zeros(())
        need_student = (self.rca_weight != 0 or self.adi != 0
                        or (self.tar_weight and self.tar_mode != "A"))
        if not need_student and not self.tar_weight:
            return extra
        t_logits = terms["teacher_logits"]
        s_logits = self.student(self.student_input(x)).mean(0) if need_student else None
        if self.adi:
            extra = extra + self.adi * adi_competition(s_logits, t_logits)
        if self.rca_weight:
            extra = extra + self.rca_weight * rca_loss(t_logits, s_logits)
        if self.tar_weight:
            if self.tar_mode == "A":
                tar = tar_a(terms["bn_records"], self.q, self.kappa)
            elif self.tar_mode == "B":
                tar = tar_b(t_logits, s_logits, self.q, self.kappa)
            else:
                tar = tar_c(s_logits, t_logits, self.q)
            extra = extra + self.tar_weight * tar
        return extra

    def synthesize(self, targets: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
        """One synthetic batch ``[B, C, H, W]`` in [0, 1] for class ``targets`` (student frozen)."""
        with frozen(self.student):
            return self.inversion.synthesize(targets, seed=seed, extra=self.synthesis_extra)

    def distill_loss(self, student_logits: torch.Tensor,
                     teacher_logits: torch.Tensor) -> torch.Tensor:
        """Pure KD of the time-mean student logits (+ ``distill_rca`` * RCA)."""
        teacher_logits = teacher_logits.detach()
        loss = kd_rows(student_logits.mean(0), teacher_logits, self.temperature).mean()
        if self.distill_rca:
            loss = loss + self.distill_rca * rca_loss(teacher_logits, student_logits.mean(0))
        return loss

    def to_grid(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` rounded to the ``in_bits`` input grid (unchanged when ``in_bits`` is None)."""
        if self.in_bits is None:
            return x
        top = (1 << self.in_bits) - 1
        return torch.round(x * top) / top

    def _views(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Each image of ``x`` shifted by its own offset (``data.random_shift``)."""
        if not self.augment_shift:
            return x
        flat = x.flatten(1).numpy()
        moved = random_shift(flat, self.inversion.image_shape, self.augment_shift, rng)
        return torch.from_numpy(moved).view_as(x)

    def _mixed(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """``augment_mix`` of the views ``x`` mixed in pairs, back on the input grid."""
        if not self.augment_mix:
            return x
        flat = mix_pairs(x.flatten(1).numpy(), self.inversion.image_shape, self.augment_mix,
                         self.mix_mode, self.mix_alpha, rng)
        return self.to_grid(torch.from_numpy(flat).view_as(x))

    def _final(self, pool: torch.Tensor, epochs: int, batch: int, lr: float, seed: int,
               average: int = 0, on_epoch: Callable[[int], None] | None = None):
        """KD on the whole pool with :func:`train_student` (epoch ``e``: views drawn from
        ``[seed, 25, e]``, then ``augment_mix`` of them mixed in pairs, the teacher run once
        on them); with ``average = K`` the student
        ends as the mean of its weights after each of the last ``K`` epochs (SWA,
        ``torch.optim.swa_utils.AveragedModel``)."""
        from torch.optim.swa_utils import AveragedModel

        from .recipes import make_recipe
        from .trainer import teacher_outputs, train_student

        epochs = check_steps_count("STARS", "final_epochs", epochs)  # average: train checks it
        views: dict = {}
        swa = AveragedModel(self.student) if average else None

        def xs(epoch):
            if epoch not in views:
                views.clear()
                rng = np.random.default_rng([seed, 25, epoch])
                views[epoch] = self._mixed(self._views(pool, rng), rng)
            return self.student_input(views[epoch])

        def tout(epoch):
            xs(epoch)
            return teacher_outputs(self.teacher, views[epoch])

        def after(k):
            if on_epoch is not None:
                on_epoch(k)
            if swa is not None and k > epochs - average:
                swa.update_parameters(self.student)

        recipe = make_recipe("hinton", temperature=self.temperature, alpha=1.0)
        dummy = torch.zeros(len(pool), dtype=torch.long)  # alpha = 1: never read
        train_student(self.student, recipe, xs, dummy, teacher=tout, epochs=epochs,
                      batch_size=batch, lr=lr, seed=seed, on_epoch=after)
        if swa is not None:
            self.student.load_state_dict(swa.module.state_dict())

    def train(self, *, n_classes: int, rounds: int = 8, batch_size: int = 128,
              steps_per_round: int = 100, distill_batch: int = 64, lr: float = 3e-3,
              final_epochs: int = 0, final_average: int = 0, seed: int = 0,
              log: Callable[[str], None] | None = None,
              on_final_epoch: Callable[[int], None] | None = None) -> dict:
        """Alternate synthesis rounds and KD on the pool; train ``student`` in place.

        ``final_epochs > 0`` then distils on the finished pool with the real-data KD loop
        (:func:`train_student`, Hinton KD with ``alpha = 1`` at this ``temperature``, cosine
        lr from ``lr``, fresh shifted views every epoch labelled by the teacher), and with
        ``final_average = K`` (in [0, final_epochs]) the student ends as the mean of its
        weights after each of the final phase's last ``K`` epochs (SWA). ``on_final_epoch(k)``
        is called with 0 before the final phase and with ``k`` after its ``k``-th epoch
        (before averaging): curves, never a choice of the student.

        Each round's targets are balanced: ``batch_size`` images cycle through the classes
        from a seeded random start. Returns ``{'pool': images [N, C, H, W], 'labels':
        intended classes [N], 'teacher_logits': [N, C], 'agreement': fraction of the pool
        the teacher classifies as intended}``.
        """
        rounds = check_steps_count("STARS", "rounds", rounds)
        batch_size = check_steps_count("STARS", "batch_size", batch_size)
        if not is_int(final_average) or not 0 <= final_average <= max(final_epochs, 0):
            raise ValueError(f"STARS.final_average must be an integer in [0, final_epochs = "
                             f"{final_epochs}], not {final_average!r}")
        gen = torch.Generator().manual_seed(seed)
        rng = np.random.default_rng([seed, 25])
        opt = adam(self.student.parameters(), lr=lr)
        pool, labels, logits = [], [], []
        for r in range(rounds):
            start = int(torch.randint(0, n_classes, (1,), generator=gen))
            targets = (torch.arange(batch_size) + start) % n_classes
            targets = targets[torch.randperm(batch_size, generator=gen)]
            x = self.to_grid(self.synthesize(targets, seed=seed * 1000 + r))
            with torch.no_grad():
                self.teacher.eval()
                logits.append(self.teacher(x))
            pool.append(x)
            labels.append(targets)
            px, pl = torch.cat(pool), torch.cat(logits)
            self.student.train()
            for _ in range(steps_per_round):
                idx = torch.randint(0, len(px), (distill_batch,), generator=gen)
                xb, tb = px[idx], pl[idx]
                if self.augment_shift:
                    xb = self._views(xb, rng)
                    with torch.no_grad():
                        tb = self.teacher(xb)
                loss = self.distill_loss(self.student(self.student_input(xb)), tb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if log is not None:
                log(f"round {r + 1}/{rounds} pool {len(px)} kd {float(loss.detach()):.4f}")
        if final_epochs:
            if on_final_epoch is not None:
                on_final_epoch(0)
            self._final(torch.cat(pool), final_epochs, distill_batch, lr, seed,
                        average=final_average, on_epoch=on_final_epoch)
        pl, lab = torch.cat(logits), torch.cat(labels)
        return {"pool": torch.cat(pool), "labels": lab, "teacher_logits": pl,
                "agreement": float((pl.argmax(1) == lab).float().mean())}
