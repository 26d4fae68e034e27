"""Distillation losses without per-step Python loops keep their per-step definition:
SeAlKD's ELA over all steps at once equals the mean over steps of the per-step ELA."""

import pytest
import torch
from spikefab.distill.common import kd_rows
from spikefab.distill.seal import SeAlKD, ela_align


def _ela_per_step(z, zt, y, tau):
    total = z.new_zeros(())
    for t in range(z.shape[0]):
        s_al, t_al = ela_align(z[t], zt, y)
        total = total + kd_rows(s_al, t_al, tau).mean()
    return total / z.shape[0]


@pytest.mark.parametrize("steps", [1, 5])
def test_seal_ela_equals_the_per_step_definition(steps):
    gen = torch.Generator().manual_seed(7)
    z = torch.randn(steps, 12, 6, generator=gen, requires_grad=True)
    zt = torch.randn(12, 6, generator=gen)
    y = torch.randint(0, 6, (12,), generator=gen)
    assert 0 < int((z.detach().argmax(-1) != y).sum()) < steps * 12  # right and wrong rows
    loss = SeAlKD(alpha=1.0, beta=0.0)
    got = loss.compute(z, zt, y)["ela_loss"]
    (g_got,) = torch.autograd.grad(got, z)
    ref = _ela_per_step(z, zt, y, loss.temperature)
    (g_ref,) = torch.autograd.grad(ref, z)
    torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(g_got, g_ref, rtol=1e-5, atol=1e-8)
