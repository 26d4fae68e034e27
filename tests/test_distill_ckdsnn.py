"""SAMD, NLD and CKDSNN: the properties of research/kd_methods.md §4.3."""

import math

import numpy as np
import pytest
import torch
from spikefab.distill import CKDSNN, NLD, SAMD, HintonKD
from spikefab.distill.common import kd_rows
from spikefab.distill.samd import normalize_map


def _t(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def _spikes(*shape, seed=0, p=0.3):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=gen, dtype=torch.float64) < p).double()


def _samd_direct(ms, mt, tau=2.0, scale=True):
    ps = torch.softmax(normalize_map(ms, "minmax_batch").flatten(1) / tau, -1)
    pt = torch.softmax(normalize_map(mt, "minmax_batch").flatten(1) / tau, -1)
    kl = (pt * (pt.log() - ps.log())).sum(-1).mean()
    return tau**2 * kl if scale else kl


def test_samd_zero_for_equal_maps_and_invariant_to_positive_affine_maps():
    f = _spikes(4, 3, 5, 7, 7)
    sam = f.sum(dim=(0, 2))
    for mode in ("paper", "code"):
        loss = SAMD(mode=mode)
        assert float(loss(f, sam)) == pytest.approx(0.0, abs=1e-9)
        affine = float(loss(f, 5 * sam + 3))
        assert affine == pytest.approx(0.0, abs=1e-5)  # the +1e-3 in the denominator


def test_samd_softmax_alone_is_not_scale_invariant_and_batch_norm_is_global():
    f = _spikes(4, 3, 5, 7, 7)
    mt = torch.rand(3, 7, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    raw = SAMD(normalize="none")
    a, b = float(raw(f, mt)), float(raw(f, 5 * mt))
    assert abs(a - b) > 0.1
    loss = SAMD()
    scaled_one = mt.clone()
    scaled_one[0] *= 5
    assert abs(float(loss(f, mt)) - float(loss(f, scaled_one))) > 1e-4
    per_sample = SAMD(normalize="minmax_sample")
    assert float(per_sample(f, mt)) == pytest.approx(float(per_sample(f, scaled_one)), rel=1e-3)


def test_samd_matches_equations_is_small_and_bounded():
    f = _spikes(4, 6, 5, 7, 7)
    mt = torch.rand(6, 7, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ms = f.sum(dim=(0, 2))
    paper, code = float(SAMD(mode="paper")(f, mt)), float(SAMD(mode="code")(f, mt))
    assert paper == pytest.approx(float(_samd_direct(ms, mt)), rel=1e-10)
    assert code == pytest.approx(float(_samd_direct(ms, mt, scale=False)), rel=1e-6)
    assert 0 <= code <= 1
    one_hot_s = torch.zeros(1, 2, 1, 7, 7, dtype=torch.float64)
    one_hot_s[0, :, 0, 0, 0] = 1
    one_hot_t = torch.zeros(2, 7, 7, dtype=torch.float64)
    one_hot_t[:, 6, 6] = 1
    assert 0 < float(SAMD(mode="code")(one_hot_s, one_hot_t)) <= 1


def test_samd_resizes_teacher_map_and_gradients_reach_only_the_student():
    f = _spikes(2, 3, 4, 7, 7).requires_grad_()
    mt = torch.rand(3, 14, 14, dtype=torch.float64).requires_grad_()
    loss = SAMD()(f, mt)
    loss.backward()
    assert f.grad is not None and float(f.grad.abs().sum()) > 0
    assert mt.grad is None


def test_nld_reduces_to_hinton_and_is_zero_at_the_teacher():
    z, zt = _t(3, 5, 10), _t(5, 10, seed=1)
    hinton = HintonKD(temperature=2.0, alpha=1.0).compute(z, zt)["distill_loss"]
    assert float(NLD("paper", noise_scale=0.0)(z, zt)) == pytest.approx(float(hinton), rel=1e-12)
    assert float(NLD("code", mix_weight=1.0)(z, zt)) == pytest.approx(float(hinton), rel=1e-12)
    same = zt.expand(3, 5, 10)
    assert float(NLD("paper", noise_scale=0.0)(same, zt)) == pytest.approx(0.0, abs=1e-12)


def test_code_nld_is_bounded_by_kl_plus_log_inverse_weight():
    z, zt = _t(2, 8, 10), _t(8, 10, seed=1)
    w, tau = 0.9, 2.0
    bound = float(kd_rows(z.mean(0), zt, tau).mean()) + tau**2 * math.log(1 / w)
    for seed in range(5):
        gen = torch.Generator().manual_seed(seed)
        value = float(NLD("code", temperature=tau, mix_weight=w, generator=gen)(z, zt))
        assert 0 <= value <= bound


def test_nld_is_deterministic_with_a_seeded_generator():
    z, zt = _t(2, 8, 10), _t(8, 10, seed=1)
    a = NLD(generator=torch.Generator().manual_seed(3))(z, zt)
    b = NLD(generator=torch.Generator().manual_seed(3))(z, zt)
    assert float(a) == float(b)


def test_paper_nld_is_shift_invariant_per_sample():
    z, zt = _t(2, 8, 10), _t(8, 10, seed=1)
    shift = _t(1, 8, 1, seed=2) * 4
    a = NLD("paper", generator=torch.Generator().manual_seed(0))(z, zt)
    b = NLD("paper", generator=torch.Generator().manual_seed(0))(z + shift, zt)
    assert float(a) == pytest.approx(float(b), rel=1e-10)


def test_nld_and_ckdsnn_give_the_teacher_no_gradient():
    teacher = torch.nn.Linear(4, 10).double()
    zt = teacher(_t(6, 4))
    z = _t(2, 6, 10).requires_grad_()
    f = _spikes(2, 6, 3, 7, 7).requires_grad_()
    cam = torch.rand(6, 7, 7, dtype=torch.float64)
    for mode in ("paper", "code"):
        out = CKDSNN(mode, generator=torch.Generator().manual_seed(0)).compute(
            z, f, zt, cam, torch.arange(6))
        out["total_loss"].backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert z.grad is not None and f.grad is not None


def test_ckdsnn_total_is_ce_plus_weighted_terms_and_modes_differ():
    z, zt = _t(2, 6, 10), _t(6, 10, seed=1)
    f, cam, y = _spikes(2, 6, 3, 7, 7), torch.rand(6, 7, 7, dtype=torch.float64), torch.arange(6)
    out = CKDSNN("paper", samd_weight=2.0, nld_weight=0.5,
                 generator=torch.Generator().manual_seed(0)).compute(z, f, zt, cam, y)
    ce = torch.nn.functional.cross_entropy(z.mean(0), y)
    assert float(out["task_loss"]) == pytest.approx(float(ce), rel=1e-12)
    expected = out["task_loss"] + 2.0 * out["samd_loss"] + 0.5 * out["nld_loss"]
    assert float(out["total_loss"]) == pytest.approx(float(expected), rel=1e-12)
    code = CKDSNN("code", generator=torch.Generator().manual_seed(0)).compute(z, f, zt, cam, y)
    assert float(code["samd_loss"]) == pytest.approx(float(out["samd_loss"]) / 4, rel=1e-5)
    np.testing.assert_array_equal(float(code["task_loss"]), float(out["task_loss"]))
