"""SeAlKD, ELA and STA: the properties of research/kd_methods.md §3.3."""

import numpy as np
import pytest
import torch
from spikefab.distill import TET, HintonKD, SeAlKD
from spikefab.distill.common import kd_rows
from spikefab.distill.seal import ela_align, sta_targets


def _logits(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def _correct_student(steps=3, batch=6, n=10):
    y = torch.arange(batch) % n
    z = _logits(steps, batch, n)
    z[:, torch.arange(batch), y] += 10.0  # every step predicts correctly
    return z, y


def test_ela_is_identity_on_correct_samples_and_reduces_to_per_step_kd():
    z, y = _correct_student()
    zt = _logits(6, 10, seed=1)
    for t in range(3):
        s2, t2 = ela_align(z[t], zt, y)
        np.testing.assert_array_equal(s2.numpy(), z[t].numpy())
        np.testing.assert_array_equal(t2.numpy(), zt.numpy())
    ela = SeAlKD().compute(z, zt, y)["ela_loss"]
    expected = kd_rows(z, zt, 3.0).mean()
    assert float(ela) == pytest.approx(float(expected), rel=1e-12)


def test_ela_edits_exactly_two_entries_per_wrong_sample_without_mutating_inputs():
    s = torch.tensor([[0.0, 5.0, 1.0, 2.0], [3.0, 0.0, 1.0, 0.5]], dtype=torch.float64)
    t = torch.tensor([[4.0, 1.0, 2.0, 0.0], [9.0, 1.0, 2.0, 3.0]], dtype=torch.float64)
    y = torch.tensor([0, 0])  # row 0 predicts 1 (wrong), row 1 predicts 0 (right)
    s0, t0 = s.clone(), t.clone()
    s2, t2 = ela_align(s, t, y)
    np.testing.assert_array_equal(s.numpy(), s0.numpy())
    np.testing.assert_array_equal(t.numpy(), t0.numpy())
    np.testing.assert_array_equal(s2.numpy(), [[0.0, 0.0, 1.0, 2.0], [3.0, 0.0, 1.0, 0.5]])
    np.testing.assert_array_equal(t2.numpy(), [[1.0, 1.0, 2.0, 0.0], [9.0, 1.0, 2.0, 3.0]])


def test_ela_zero_when_student_equals_teacher_even_if_wrong():
    z = _logits(1, 8, 10)
    y = (z[0].argmax(-1) + 1) % 10  # every sample wrong
    ela = SeAlKD().compute(z, z[0], y)["ela_loss"]
    assert float(ela) == pytest.approx(0.0, abs=1e-12)


def test_ela_gradient_routing_on_wrong_samples():
    s = torch.tensor([[0.0, 5.0, 1.0, 2.0]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[4.0, 1.0, 2.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([0])
    s2, t2 = ela_align(s, t, y)
    kd_rows(s2, t2, 3.0).sum().backward()
    # the overwritten wrong-class slot gets nothing; the true class gets both slots' gradient
    assert float(s.grad[0, 1]) == 0.0
    s_probe = s.detach().clone()
    s_probe[0, 1] = s_probe[0, 0]
    s_probe.requires_grad_()
    kd_rows(s_probe, t2, 3.0).sum().backward()
    assert float(s.grad[0, 0]) == pytest.approx(
        float(s_probe.grad[0, 0] + s_probe.grad[0, 1]), rel=1e-12)


def test_sta_zero_for_one_step_and_for_identical_steps():
    z, y = _logits(1, 5, 10), torch.arange(5)
    assert float(SeAlKD().compute(z, z[0], y)["sta_loss"]) == 0.0
    same = _logits(5, 10).expand(4, 5, 10).clone()
    assert float(SeAlKD().compute(same, same[0], y)["sta_loss"]) == pytest.approx(0.0, abs=1e-12)


def test_sta_weights_sum_to_one_zero_diagonal_and_uniform_when_equal():
    z = _logits(4, 6, 10)
    target, w = sta_targets(z)
    np.testing.assert_allclose(w.sum(1).numpy(), 1.0, rtol=1e-12)
    for i in range(4):
        np.testing.assert_array_equal(w[i, i].numpy(), 0.0)
    same = _logits(6, 10).expand(4, 6, 10)
    _, w_same = sta_targets(same)
    off = ~torch.eye(4, dtype=torch.bool)
    np.testing.assert_allclose(w_same[off].numpy(), 1 / 3, rtol=1e-12)


def test_sta_target_carries_no_gradient():
    z = _logits(4, 6, 10).requires_grad_()
    target, w = sta_targets(z)
    assert not target.requires_grad and not w.requires_grad
    loss = SeAlKD(alpha=0.0, beta=1.0).compute(z, _logits(6, 10, seed=2), torch.arange(6))
    loss["sta_loss"].backward()
    manual = z.detach().clone().requires_grad_()
    kd_rows(manual, target, 3.0).mean().backward()
    np.testing.assert_allclose(z.grad.numpy(), manual.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_both_kd_terms_scale_as_tau_squared_kl():
    z, zt, y = _logits(3, 6, 10), _logits(6, 10, seed=1), torch.arange(6)
    for tau in (1.0, 2.5, 4.0):
        out = SeAlKD(temperature=tau).compute(z, zt, y)
        target, _ = sta_targets(z)
        p = torch.log_softmax(z / tau, -1)
        q = torch.softmax(target / tau, -1)
        kl = (q * (q.log() - p)).sum(-1).mean()
        assert float(out["sta_loss"]) == pytest.approx(tau**2 * float(kl), rel=1e-10)
        ela = 0.0
        for t in range(3):
            s2, t2 = ela_align(z[t], zt, y)
            pp = torch.log_softmax(s2 / tau, -1)
            qq = torch.softmax(t2 / tau, -1)
            ela += tau**2 * float((qq * (qq.log() - pp)).sum(-1).mean()) / 3
        assert float(out["ela_loss"]) == pytest.approx(ela, rel=1e-10)


def test_weight_endpoints_reduce_to_tet_and_per_step_hinton():
    z, zt, y = _logits(3, 6, 10), _logits(6, 10, seed=1), torch.arange(6)
    plain = SeAlKD(alpha=0.0, beta=0.0).compute(z, zt, y)["total_loss"]
    assert float(plain) == pytest.approx(float(TET()(z, y)), rel=1e-12)
    zc, yc = _correct_student()
    out = SeAlKD(alpha=0.6, beta=0.0).compute(zc, zt, yc)
    per_step = TET()(zc, yc) + 0.6 * kd_rows(zc, zt, 3.0).mean()
    assert float(out["total_loss"]) == pytest.approx(float(per_step), rel=1e-12)
    one_step = SeAlKD(alpha=1.0, beta=0.0).compute(zc[:1], zt, yc)["ela_loss"]
    hinton = HintonKD(alpha=1.0).compute(zc[:1], zt)["distill_loss"]
    assert float(one_step) == pytest.approx(float(hinton), rel=1e-12)


def test_teacher_gets_no_gradient():
    zt = _logits(6, 10, seed=1).requires_grad_()
    z = _logits(3, 6, 10).requires_grad_()
    SeAlKD().compute(z, zt, torch.arange(6))["total_loss"].backward()
    assert zt.grad is None and z.grad is not None
