"""DeepInversion, RCA, TAR and STARS: the properties of research/kd_methods.md §6.3."""

import numpy as np
import pytest
import torch
from spikefab.distill import STARS, DeepInversion, rca_loss, tar_a, tar_b, tar_c
from spikefab.distill.deepinversion import (
    BNRecorder,
    adi_competition,
    bn_layer_loss,
    bn_layer_scale,
    l2_prior,
    tv_loss,
)
from spikefab.snn.mlp import SpikingMLP
from spikefab.snn.teachers import CNNTeacher, MLPTeacher, freeze


def _t(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_bn_loss_nonnegative_and_zero_when_running_stats_equal_the_batch_stats():
    x = _t(32, 3, 5, 5) * 2 + 1
    bn = torch.nn.BatchNorm2d(3)
    assert float(bn_layer_loss(bn, x)) > 0
    bn.running_mean.copy_(x.mean(dim=(0, 2, 3)))
    bn.running_var.copy_(x.var(dim=(0, 2, 3), unbiased=False))
    assert float(bn_layer_loss(bn, x)) == pytest.approx(0.0, abs=1e-6)
    bn1 = torch.nn.BatchNorm1d(4)
    x1 = _t(16, 4)
    bn1.running_mean.copy_(x1.mean(0))
    bn1.running_var.copy_(x1.var(0, unbiased=False))
    assert float(bn_layer_loss(bn1, x1)) == pytest.approx(0.0, abs=1e-6)


def test_tv_zero_for_constant_image_positive_for_checkerboard_and_l2_zero_only_at_zero():
    const = torch.full((2, 1, 6, 6), 0.7)
    assert [float(v) for v in tv_loss(const)] == [0.0, 0.0]
    board = ((torch.arange(6)[:, None] + torch.arange(6)[None, :]) % 2).float()
    tv2, tv1 = tv_loss(board.expand(2, 1, 6, 6))
    assert float(tv2) > 0 and float(tv1) > 0
    assert float(l2_prior(torch.zeros(2, 1, 4, 4))) == 0.0
    assert float(l2_prior(const)) > 0


def test_rca_zero_for_equal_or_rescaled_rows_symmetric_permutation_invariant():
    ft, fs = _t(6, 5), _t(6, 9, seed=1)
    assert float(rca_loss(ft, ft)) == pytest.approx(0.0, abs=1e-12)
    scale = torch.rand(6, 1, generator=torch.Generator().manual_seed(2)) + 0.1
    assert float(rca_loss(ft, ft * scale)) == pytest.approx(0.0, abs=1e-10)
    assert float(rca_loss(ft, fs)) == pytest.approx(float(rca_loss(fs, ft)), rel=1e-6)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(3))
    assert float(rca_loss(ft[perm], fs[perm])) == pytest.approx(float(rca_loss(ft, fs)),
                                                                rel=1e-6)
    # the diagonal is 1 on both sides: a one-sample batch has nothing to compare
    assert float(rca_loss(ft[:1], fs[:1])) == pytest.approx(0.0, abs=1e-12)


def _bn_records():
    bn = torch.nn.BatchNorm1d(3)
    bn.running_mean.copy_(torch.tensor([0.0, 1.0, -2.0]))
    bn.running_var.copy_(torch.tensor([1.0, 4.0, 0.25]))
    return bn


def test_tar_a_channel_terms_in_unit_interval_and_zero_at_target_exceedance():
    bn = _bn_records()
    x = _t(200, 3) * 3
    value = float(tar_a([(bn, x)]))
    assert 0 < value <= 1
    # a batch whose soft exceedance is exactly 1 - q: solve per channel by bisection on a shift
    q, kappa = 0.95, 0.1
    base = _t(400, 3, seed=4)
    shifts = []
    for c in range(3):
        lo, hi = -20.0, 20.0
        for _ in range(80):
            mid = (lo + hi) / 2
            e_mass = _exceedance(bn, c, base[:, c] + mid, q, kappa)
            lo, hi = (mid, hi) if e_mass < 1 - q else (lo, mid)
        shifts.append((lo + hi) / 2)
    xs = base + torch.tensor(shifts)
    assert float(tar_a([(bn, xs)], q, kappa)) == pytest.approx(0.0, abs=1e-8)


def _exceedance(bn, c, xc, q, kappa):
    from statistics import NormalDist
    sd = float(torch.sqrt(bn.running_var[c] + bn.eps))
    theta = float(bn.running_mean[c]) + NormalDist().inv_cdf(q) * sd
    return float(torch.sigmoid((xc - theta) / (kappa * sd)).mean())


def test_tar_b_in_unit_interval_and_zero_for_equal_activations():
    a, s = _t(50, 4), _t(50, 4, seed=1) * 3
    assert float(tar_b(a, a)) == pytest.approx(0.0, abs=1e-12)
    assert 0 < float(tar_b(a, s)) <= 1


def test_tar_c_gradient_is_negative_everywhere():
    s = (_t(8, 10) * 5).requires_grad_()
    tar_c(s, _t(8, 10, seed=1)).backward()
    assert bool((s.grad < 0).all())


def test_adi_term_in_unit_interval():
    for seed in range(3):
        v = float(adi_competition(_t(8, 10, seed=seed) * 4, _t(8, 10, seed=seed + 9) * 4))
        assert 0 <= v <= 1
    assert float(adi_competition(_t(8, 10), _t(8, 10))) == pytest.approx(1.0)


def _pair():
    torch.manual_seed(0)
    teacher = freeze(MLPTeacher((16, 12, 4), batch_norm=True))
    teacher.net[1].running_mean.copy_(_t(12, seed=5) * 0.1)
    student = SpikingMLP((16, 8, 4), timesteps=2, theta=0.5)
    return teacher, student


def test_synthesis_gives_gradient_only_to_pixels_and_restores_flags():
    teacher, student = _pair()
    stars = STARS(teacher, student, (1, 4, 4), iterations=3, tar_weight=0.3, rca_weight=0.5)
    seen = []
    original = stars.synthesis_extra

    def spy(x, terms):
        seen.append((x.requires_grad, [p.requires_grad for p in teacher.parameters()],
                     [p.requires_grad for p in student.parameters()]))
        return original(x, terms)

    stars.synthesis_extra = spy
    before = [p.detach().clone() for p in student.parameters()]
    x = stars.synthesize(torch.tensor([0, 1, 2, 3]), seed=0)
    assert x.shape == (4, 1, 4, 4) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert all(xg and not any(tg) and not any(sg) for xg, tg, sg in seen) and len(seen) == 3
    assert all(p.requires_grad for p in student.parameters())
    for b, p in zip(before, student.parameters(), strict=True):
        np.testing.assert_array_equal(b.numpy(), p.detach().numpy())
    assert all(p.grad is None for p in student.parameters())


def test_distillation_phase_gives_gradient_only_to_the_student():
    teacher, student = _pair()
    stars = STARS(teacher, student, (1, 4, 4), iterations=2)
    x = torch.rand(5, 16)
    loss = stars.distill_loss(student(x), teacher(x))
    loss.backward()
    assert all(p.grad is not None for p in student.parameters())
    assert all(p.grad is None for p in teacher.parameters())


def test_deepinversion_lowers_its_loss_and_records_every_bn_layer():
    torch.manual_seed(0)
    teacher = freeze(CNNTeacher((1, 8, 8), (4,), 3))
    with BNRecorder(teacher) as rec:
        teacher(torch.rand(2, 64))
    assert len(rec.inputs) == 2
    di = DeepInversion(teacher, (1, 8, 8), iterations=30, lr=0.1)
    y = torch.tensor([0, 1, 2, 0])
    gen = torch.Generator().manual_seed(0)
    start = torch.sigmoid(torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    before = float(di.losses(start, y, gen)["total"])
    x = di.synthesize(y, seed=0)
    after = float(di.losses(x, y, torch.Generator().manual_seed(0))["total"])
    assert after < before


def test_deepinversion_init_logit_starts_the_pixels_near_black_and_is_checked():
    torch.manual_seed(0)
    teacher = freeze(CNNTeacher((1, 8, 8), (4,), 3))
    y = torch.tensor([0, 1, 2, 0])
    grey = DeepInversion(teacher, (1, 8, 8), iterations=1, lr=1e-6).synthesize(y, seed=3)
    dark = DeepInversion(teacher, (1, 8, 8), iterations=1, lr=1e-6,
                         init_logit=-3.0).synthesize(y, seed=3)
    assert 0.4 < float(grey.mean()) < 0.6 and float(dark.mean()) < 0.1
    for bad in (11, "black", float("nan")):
        with pytest.raises(ValueError, match=r"^DeepInversion.init_logit must be a number in "
                                             r"\[-10, 10\], not "):
            DeepInversion(teacher, (1, 8, 8), init_logit=bad)


def test_deepinversion_latent_pyramid_has_no_pixel_speckle_and_is_checked():
    torch.manual_seed(0)
    teacher = freeze(CNNTeacher((1, 8, 8), (4,), 3))
    y = torch.tensor([0, 1, 2, 0])

    def roughness(x):  # mean |neighbour difference| of the pixel logits
        p = torch.logit(x.clamp(1e-6, 1 - 1e-6))
        return float((p[..., 1:] - p[..., :-1]).abs().mean()
                     + (p[..., 1:, :] - p[..., :-1, :]).abs().mean())

    plain = DeepInversion(teacher, (1, 8, 8), iterations=20, lr=0.1)
    smooth = DeepInversion(teacher, (1, 8, 8), iterations=20, lr=0.1, scales=[2])
    pyramid = DeepInversion(teacher, (1, 8, 8), iterations=20, lr=0.1, scales=(4, 2))
    xp, xs, xy = (d.synthesize(y, seed=1) for d in (plain, smooth, pyramid))
    assert xs.shape == xy.shape == xp.shape == (4, 1, 8, 8)
    assert roughness(xs) < 0.5 * roughness(xp) and roughness(xy) < 0.5 * roughness(xp)
    assert_close = torch.testing.assert_close
    assert_close(smooth.synthesize(y, seed=1), xs, rtol=0, atol=0)  # seeded
    assert_close(DeepInversion(teacher, (1, 8, 8), iterations=20, lr=0.1,
                               scales=(1,)).synthesize(y, seed=1), xp, rtol=0, atol=0)
    for bad in ((3,), (0,), (), (2, 2), "2", (2.0,)):
        with pytest.raises(ValueError, match=r"^DeepInversion.scales must be a non-empty list "
                                             r"of distinct integers >= 1 dividing the image "
                                             r"size 8x8, not "):
            DeepInversion(teacher, (1, 8, 8), scales=bad)


def test_bn_relative_divides_each_layer_by_its_statistics_and_is_checked():
    torch.manual_seed(0)
    teacher = freeze(CNNTeacher((1, 8, 8), (4,), 3))
    bns = BNRecorder(teacher).bns
    with torch.no_grad():  # the second layer's statistics 100x the first's
        bns[1].running_mean.fill_(50.0)
        bns[1].running_var.fill_(400.0)
    with BNRecorder(teacher) as rec:
        teacher(torch.rand(6, 64))
    plain = DeepInversion(teacher, (1, 8, 8), first_bn_multiplier=3.0)
    rel = DeepInversion(teacher, (1, 8, 8), first_bn_multiplier=3.0, bn_relative=True)
    r = [float(bn_layer_loss(bn, x)) for bn, x in rec.inputs]
    scale = [float(bn.running_var.norm() + bn.running_mean.norm()) for bn in bns]
    assert float(bn_layer_scale(bns[1])) == pytest.approx(scale[1], rel=1e-6)
    assert float(plain.r_bn(rec.inputs)) == pytest.approx(3 * r[0] + r[1], rel=1e-6)
    assert float(rel.r_bn(rec.inputs)) == pytest.approx(3 * r[0] / scale[0] + r[1] / scale[1],
                                                        rel=1e-6)
    # plainly the large layer's term dominates; relative, it does not
    assert r[1] > 10 * 3 * r[0] and r[1] / scale[1] < 10 * 3 * r[0] / scale[0]
    for bad in (1, "yes", None):
        with pytest.raises(ValueError, match=r"^DeepInversion.bn_relative must be true or "
                                             r"false, not "):
            DeepInversion(teacher, (1, 8, 8), bn_relative=bad)
    stars = STARS(teacher, SpikingMLP((64, 8, 3), timesteps=2), (1, 8, 8), bn_relative=True)
    assert stars.inversion.bn_relative is True


def test_stars_refuses_a_teacher_without_batchnorm_naming_what_synthesis_needs():
    teacher = freeze(MLPTeacher((64, 16, 10), batch_norm=False))
    student = SpikingMLP((64, 8, 10), timesteps=2)
    with pytest.raises(ValueError, match=r"^STARS teacher must have BatchNorm layers \(synthesis "
                                         r"matches their running statistics\), MLPTeacher has "
                                         r"none$"):
        STARS(teacher, student, (1, 8, 8))


def test_conv_bn_teacher_has_batchnorm_after_every_conv_and_hidden_layer():
    from spikefab.snn.teachers import ConvBNTeacher

    t = ConvBNTeacher((1, 8, 8), (4, 8), (16,), 10)
    kinds = [type(m).__name__ for m in t.net]
    convs = [i for i, k in enumerate(kinds) if k in ("Conv2d", "Linear")][:-1]
    assert all(kinds[i + 1].startswith("BatchNorm") for i in convs) and len(convs) == 3
    assert t(torch.zeros(3, 64)).shape == (3, 10)
    assert t(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    with pytest.raises(ValueError, match="too many for a 8x8 image"):
        ConvBNTeacher((1, 8, 8), (2, 2, 2, 2), (), 10)


def test_stars_pool_with_adi_and_shifts_is_balanced_on_the_input_grid_and_deterministic():
    torch.manual_seed(0)
    teacher = freeze(MLPTeacher((64, 16, 10), batch_norm=True))

    def run():
        torch.manual_seed(1)
        student = SpikingMLP((64, 8, 10), timesteps=2)
        stars = STARS(teacher, student, (1, 8, 8), iterations=3, jitter=0, adi=1.0,
                      in_bits=4, augment_shift=1)
        return stars.train(n_classes=10, rounds=2, batch_size=20, steps_per_round=2, seed=3)

    a, b = run(), run()
    assert torch.equal(a["pool"], b["pool"]) and torch.equal(a["labels"], b["labels"])
    assert a["pool"].shape == (40, 1, 8, 8)
    np.testing.assert_array_equal(np.bincount(a["labels"].numpy(), minlength=10), [4] * 10)
    np.testing.assert_array_equal((a["pool"] * 15).round().numpy(), (a["pool"] * 15).numpy())
    assert 0.0 <= a["agreement"] <= 1.0
    with pytest.raises(ValueError, match=r"^STARS.augment_shift must be an integer >= 0, not -1$"):
        STARS(teacher, SpikingMLP((64, 8, 10), timesteps=2), (1, 8, 8), augment_shift=-1)
    with pytest.raises(ValueError, match=r"^STARS.in_bits must be None or an integer in \[1, 16\]"):
        STARS(teacher, SpikingMLP((64, 8, 10), timesteps=2), (1, 8, 8), in_bits=0)


def test_final_average_ends_at_the_mean_of_the_last_epochs_weights():
    torch.manual_seed(0)
    teacher = freeze(MLPTeacher((64, 16, 10), batch_norm=True))

    def run(average):
        torch.manual_seed(1)
        student = SpikingMLP((64, 8, 10), timesteps=2)
        stars = STARS(teacher, student, (1, 8, 8), iterations=2, jitter=0, adi=1.0,
                      augment_shift=1)
        seen, snaps = [], []

        def spy(k):
            seen.append(k)
            snaps.append([p.detach().clone() for p in student.parameters()])

        stars.train(n_classes=10, rounds=1, batch_size=20, steps_per_round=2, seed=3,
                    final_epochs=4, final_average=average, on_final_epoch=spy)
        return student, seen, snaps

    plain, seen, snaps = run(0)
    assert seen == [0, 1, 2, 3, 4]
    # the unaveraged student ends at its last epoch's weights
    assert all(torch.equal(p, q) for p, q in zip(plain.parameters(), snaps[-1], strict=True))
    averaged, seen3, snaps3 = run(3)
    assert seen3 == seen  # the same run up to the average: the callbacks see the same weights
    assert all(torch.equal(a, b) for s, t in zip(snaps, snaps3, strict=True)
               for a, b in zip(s, t, strict=True))
    for k, p in enumerate(averaged.parameters()):
        mean = torch.stack([s[k] for s in snaps[2:]]).mean(0)
        torch.testing.assert_close(p.detach(), mean)
        assert not torch.equal(p.detach(), snaps[-1][k])
    with pytest.raises(ValueError, match=r"^STARS.final_average must be an integer in "
                                         r"\[0, final_epochs = 4\], not 5$"):
        run(5)


def test_augment_mix_mixes_only_the_final_phase_views_on_the_input_grid():
    torch.manual_seed(0)
    teacher = freeze(MLPTeacher((64, 16, 10), batch_norm=True))

    def run(mix, mode="mixup"):
        torch.manual_seed(1)
        student = SpikingMLP((64, 8, 10), timesteps=2)
        stars = STARS(teacher, student, (1, 8, 8), iterations=2, jitter=0, in_bits=4,
                      augment_shift=1, augment_mix=mix, mix_mode=mode)
        seen = []  # what the teacher labels, phase by phase
        phase = ["rounds"]
        hook = teacher.register_forward_hook(
            lambda m, args, out: seen.append((phase[0], args[0].detach().clone())))

        def spy(k):
            phase[0] = "final"

        try:
            res = stars.train(n_classes=10, rounds=1, batch_size=20, steps_per_round=2,
                              seed=3, final_epochs=2, on_final_epoch=spy)
        finally:
            hook.remove()
        return res, [x for p, x in seen if p == "rounds"], [x for p, x in seen if p == "final"]

    plain, rounds0, final0 = run(0.0)
    for mode in ("mixup", "cutmix"):
        mixed, rounds1, final1 = run(1.0, mode)
        assert torch.equal(plain["pool"], mixed["pool"])  # synthesis and rounds: unchanged
        assert all(torch.equal(a, b) for a, b in zip(rounds0, rounds1, strict=True))
        assert len(final1) == len(final0) >= 2
        assert not any(torch.equal(a, b) for a, b in zip(final0, final1, strict=True))
        for x in final1:  # the teacher labels the mixes, on the student's 4-bit grid
            np.testing.assert_array_equal((x * 15).round().numpy(), (x * 15).numpy())
    for kw, msg in [({"augment_mix": -0.1}, r"STARS.augment_mix must be a number in \[0, 1\], "
                                            r"not -0.1"),
                    ({"mix_mode": "mix"}, "STARS.mix_mode must be one of mixup, cutmix, not "
                                          "'mix'"),
                    ({"mix_alpha": 0}, "STARS.mix_alpha must be a number > 0, not 0")]:
        with pytest.raises(ValueError, match=f"^{msg}$"):
            STARS(teacher, SpikingMLP((64, 8, 10), timesteps=2), (1, 8, 8), **kw)
