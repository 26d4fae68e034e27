"""TSSD: the properties of research/kd_methods.md §5.2."""

import numpy as np
import pytest
import torch
from spikefab.distill import TSSD, TSSDLoss
from spikefab.distill.tssd import run_for
from spikefab.snn.cnn import SpikingCNN
from spikefab.snn.mlp import SpikingMLP


def _model(steps=2, seed=0):
    torch.manual_seed(seed)
    return SpikingMLP((16, 24, 10), timesteps=steps, theta=0.5)


def _x(n=8, seed=0):
    return torch.rand(n, 16, generator=torch.Generator().manual_seed(seed)) * 2


@pytest.mark.parametrize("factory", ["mlp", "cnn"])
def test_prefix_of_a_long_run_equals_a_short_run(factory):
    if factory == "mlp":
        model, x = _model(2), _x()
    else:
        torch.manual_seed(0)
        model = SpikingCNN((1, 8, 8), (4, 6), 10, timesteps=2, theta=0.5)
        x = torch.rand(5, 64, generator=torch.Generator().manual_seed(1)) * 2
    short = model(x)
    with run_for(model, 6):
        long = model(x)
    assert model.timesteps == 2
    np.testing.assert_array_equal(long[:2].detach().numpy(), short.detach().numpy())
    assert long.shape[0] == 6


def test_tsd_is_zero_when_teacher_horizon_equals_student_horizon():
    z = torch.randn(3, 5, 10)
    out = TSSDLoss(3).compute(z, torch.arange(5))
    assert float(out["tsd_loss"]) == pytest.approx(0.0, abs=1e-6)


def test_no_gradient_through_the_teacher_branch_of_tsd():
    z = torch.randn(6, 5, 10, requires_grad=True)
    TSSDLoss(2, task_heads=()).compute(z, torch.arange(5))["tsd_loss"].backward()
    np.testing.assert_array_equal(z.grad[2:].numpy(), 0.0)  # teacher-only steps
    assert float(z.grad[:2].abs().sum()) > 0


def test_auxiliary_head_does_not_change_inference():
    model, x = _model(2), _x()
    before = model(x).detach()
    tssd = TSSD(model, 24, 10, T_student=2, T_teacher=4)
    tssd(x, torch.arange(8) % 10).backward()  # training-only path runs the head
    after = model(x).detach()
    np.testing.assert_array_equal(before.numpy(), after.numpy())
    del tssd
    np.testing.assert_array_equal(model(x).detach().numpy(), before.numpy())


def test_reductions_alpha_beta_zero_is_plain_ce_on_both_horizons_and_beta_zero_cuts_ssd():
    model, x, y = _model(2), _x(), torch.arange(8) % 10
    tssd = TSSD(model, 24, 10, T_student=2, T_teacher=4, alpha=0.0, beta=0.0,
                task_heads=("student", "teacher"))
    with run_for(model, 4):
        z = model(x)
    ce = (torch.nn.functional.cross_entropy(z[:2].mean(0), y)
          + torch.nn.functional.cross_entropy(z.mean(0), y))
    assert float(tssd(x, y).detach()) == pytest.approx(float(ce.detach()), rel=1e-6)
    only_ssd = TSSD(model, 24, 10, T_student=2, T_teacher=4, alpha=0.0, beta=0.0,
                    task_heads=("student", "teacher"))
    only_ssd(x, y).backward()
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0
               for p in only_ssd.aux.parameters())
    with_ssd = TSSD(model, 24, 10, T_student=2, T_teacher=4, alpha=0.0, beta=1.0,
                    task_heads=())
    with_ssd(x, y).backward()
    assert float(with_ssd.aux.fc.weight.grad.abs().sum()) > 0


def test_ssd_guides_the_weak_head_with_the_detached_student_and_mse_option():
    z = torch.randn(4, 5, 10, requires_grad=True)
    a = torch.randn(4, 5, 10, requires_grad=True)
    out = TSSDLoss(2, task_heads=(), alpha=0.0).compute(z, torch.arange(5), a)
    out["ssd_loss"].backward()
    assert z.grad is None or float(z.grad.abs().sum()) == 0
    assert float(a.grad[:2].abs().sum()) > 0
    np.testing.assert_array_equal(a.grad[2:].numpy(), 0.0)
    mse = TSSDLoss(2, divergence="mse").compute(z, torch.arange(5), a)
    expected = torch.nn.functional.mse_loss(z[:2].mean(0), z.mean(0))
    assert float(mse["tsd_loss"].detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
