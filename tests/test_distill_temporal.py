"""TemporalDistillationLoss and SelfDistiller: the properties of research/kd_methods.md §2.3."""

import math

import numpy as np
import pytest
import torch
from spikefab.distill import SelfDistiller, TemporalDistillationLoss
from spikefab.distill.common import kd_rows


def _logits(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def test_distill_zero_when_every_step_equals_teacher_and_nonnegative():
    loss = TemporalDistillationLoss()
    zt = _logits(5, 10)
    z = zt.unsqueeze(0).repeat(4, 1, 1)
    assert float(loss.compute(z, zt)["distill_loss"]) == pytest.approx(0.0, abs=1e-12)
    for seed in range(5):
        d = loss.compute(_logits(4, 5, 10, seed=seed), zt)["distill_loss"]
        assert float(d) > 0


def test_plus_minus_d_is_seen_per_step_but_invisible_to_the_time_mean():
    # s = [t + d, t - d]: the time mean equals t, the per-step KL does not vanish.
    zt = _logits(3, 10)
    d = _logits(3, 10, seed=1)
    z = torch.stack([zt + d, zt - d])
    per_step = TemporalDistillationLoss().compute(z, zt)["distill_loss"]
    time_mean = kd_rows(z.mean(0), zt, 3.0).mean()
    assert float(time_mean) == pytest.approx(0.0, abs=1e-12)
    assert float(per_step) > 0.01


def test_shift_invariance_per_row():
    loss = TemporalDistillationLoss()
    z, zt, y = _logits(4, 6, 10), _logits(6, 10, seed=1), torch.arange(6) % 10
    base = loss.compute(z, zt, y)
    shifted = loss.compute(z + _logits(4, 6, 1, seed=2) * 7, zt + _logits(6, 1, seed=3) * 5, y)
    for key in base:
        assert float(shifted[key]) == pytest.approx(float(base[key]), rel=1e-10, abs=1e-12)


def test_tau_squared_scaling_and_gradient_norm_nearly_constant_for_large_tau():
    z, zt = _logits(2, 8, 10), _logits(8, 10, seed=1)
    for tau in (1.0, 2.0, 5.0):
        d = TemporalDistillationLoss(temperature=tau).compute(z, zt)["distill_loss"]
        p_log = torch.log_softmax(z / tau, -1)
        q = torch.softmax(zt / tau, -1)
        kl = (q * (q.log() - p_log)).sum(-1).mean()
        assert float(d) == pytest.approx(tau**2 * float(kl), rel=1e-12)
    norms = []
    for tau in (4.0, 10.0, 50.0):
        zz = z.clone().requires_grad_()
        TemporalDistillationLoss(temperature=tau).compute(zz, zt)["distill_loss"].backward()
        norms.append(float(zz.grad.norm()))
    assert max(norms) / min(norms) < 1.1


def test_alpha_endpoints():
    z, zt, y = _logits(3, 4, 10), _logits(4, 10, seed=1), torch.tensor([1, 2, 3, 4])
    a0 = TemporalDistillationLoss(alpha=0.0).compute(z, zt, y)
    assert float(a0["total_loss"]) == pytest.approx(float(a0["task_loss"] + a0["entropy_loss"]))
    zz = z.clone().requires_grad_()
    TemporalDistillationLoss(alpha=0.0, entropy_weight=0.0).compute(zz, zt, y)[
        "total_loss"].backward()
    grad_task_only = zz.grad.clone()
    zz.grad = None
    TemporalDistillationLoss(alpha=0.5, entropy_weight=0.0).compute(zz, zt, y)[
        "task_loss"].backward()
    np.testing.assert_array_equal(zz.grad.numpy(), grad_task_only.numpy())
    a1 = TemporalDistillationLoss(alpha=1.0).compute(z, zt, y)
    assert float(a1["total_loss"]) == pytest.approx(
        float(a1["distill_loss"] + a1["entropy_loss"]))


def test_entropy_term_range_uniform_value_and_gradient_direction():
    loss = TemporalDistillationLoss(entropy_weight=0.1)
    zt = _logits(4, 10)
    uniform = torch.zeros(2, 4, 10, dtype=torch.float64)
    e = loss.compute(uniform, zt)["entropy_loss"]
    assert float(e) == pytest.approx(-0.1 * math.log(10), rel=1e-12)
    z = (_logits(2, 4, 10, seed=5) * 3).requires_grad_()
    e = loss.compute(z, zt)["entropy_loss"]
    assert -0.1 * math.log(10) <= float(e.detach()) <= 0
    e.backward()
    stepped = (z - 0.5 * z.grad).detach()

    def mean_entropy(v):
        p = torch.softmax(v / 3.0, -1)
        return float(-(p * p.log()).sum(-1).mean())

    assert mean_entropy(stepped) > mean_entropy(z.detach())


def test_teacher_gets_no_gradient_and_is_unchanged():
    teacher = torch.nn.Linear(5, 10)
    before = [p.detach().clone() for p in teacher.parameters()]
    zt = teacher(_logits(4, 5).float())
    z = _logits(3, 4, 10).requires_grad_()
    TemporalDistillationLoss().compute(z, zt, torch.zeros(4, dtype=torch.long))[
        "total_loss"].backward()
    assert all(p.grad is None for p in teacher.parameters())
    for b, p in zip(before, teacher.parameters(), strict=True):
        np.testing.assert_array_equal(b.numpy(), p.detach().numpy())
    assert z.grad is not None


def test_batched_soft_distributions_sum_to_one_per_row():
    # The seed's softmax ran over all B*C entries (rows summed to ~0.12); ours is per row.
    z, zt = _logits(4, 8, 10), _logits(8, 10, seed=1)
    tau = 3.0
    for t in range(4):
        np.testing.assert_allclose(torch.softmax(z[t] / tau, -1).sum(-1).numpy(), 1.0)
    # Row independence: changing one sample's logits changes only that sample's terms.
    loss = TemporalDistillationLoss(task="per_step")
    a = loss.compute(z[:, :1], zt[:1])["distill_loss"]
    z2 = z.clone()
    z2[:, 1:] += _logits(4, 7, 10, seed=9)
    full = loss.compute(z2, zt)
    rows = [loss.compute(z2[:, i:i + 1], zt[i:i + 1])["distill_loss"] for i in range(8)]
    assert float(rows[0]) == pytest.approx(float(a), rel=1e-12)
    assert float(full["distill_loss"]) == pytest.approx(float(sum(rows) / 8), rel=1e-12)


def test_numpy_in_floats_out_and_torch_in_tensors_out():
    rng = np.random.default_rng(0)
    z, zt, y = rng.normal(size=(4, 6, 10)), rng.normal(size=(6, 10)), np.arange(6)
    out = TemporalDistillationLoss().compute(z, zt, y)
    assert set(out) == {"total_loss", "distill_loss", "task_loss", "entropy_loss"}
    assert all(type(v) is float for v in out.values())
    tz = torch.from_numpy(z).requires_grad_()
    tout = TemporalDistillationLoss().compute(tz, torch.from_numpy(zt), torch.from_numpy(y))
    assert all(isinstance(v, torch.Tensor) for v in tout.values())
    tout["total_loss"].backward()
    assert tz.grad is not None
    assert float(tout["total_loss"]) == pytest.approx(out["total_loss"], rel=1e-12)


def test_integer_and_one_hot_targets_agree_and_task_modes():
    z, zt = _logits(3, 5, 10), _logits(5, 10, seed=1)
    y = torch.tensor([0, 3, 9, 3, 1])
    one_hot = torch.nn.functional.one_hot(y, 10).double()
    for task in ("per_step", "mean"):
        loss = TemporalDistillationLoss(task=task)
        a, b = loss.compute(z, zt, y), loss.compute(z, zt, one_hot)
        assert float(a["task_loss"]) == pytest.approx(float(b["task_loss"]), rel=1e-12)
    mean_task = TemporalDistillationLoss(task="mean").compute(z, zt, y)["task_loss"]
    expected = torch.nn.functional.cross_entropy(z.mean(0), y)
    assert float(mean_task) == pytest.approx(float(expected), rel=1e-12)
    assert float(TemporalDistillationLoss().compute(z, zt)["task_loss"]) == 0.0


def test_snn_teacher_mean_or_aligned_and_bc_student_is_one_step():
    z, zt_steps = _logits(4, 3, 10), _logits(4, 3, 10, seed=1)
    mean_loss = TemporalDistillationLoss().compute(z, zt_steps)["distill_loss"]
    ann_loss = TemporalDistillationLoss().compute(z, zt_steps.mean(0))["distill_loss"]
    assert float(mean_loss) == pytest.approx(float(ann_loss), rel=1e-12)
    aligned = TemporalDistillationLoss(teacher_time="align").compute(z, zt_steps)
    expected = kd_rows(z, zt_steps, 3.0).mean()
    assert float(aligned["distill_loss"]) == pytest.approx(float(expected), rel=1e-12)
    with pytest.raises(ValueError, match=r"^TemporalDistillationLoss: teacher_logits has 2 "
                       r"timesteps but student_logits has 4; teacher_time='align' needs "
                       r"equal counts$"):
        TemporalDistillationLoss(teacher_time="align").compute(z, zt_steps[:2])
    one = TemporalDistillationLoss().compute(z[0], zt_steps[0])
    same = TemporalDistillationLoss().compute(z[:1], zt_steps[0])
    assert float(one["total_loss"]) == pytest.approx(float(same["total_loss"]), rel=1e-12)


class _Recorder:
    def __init__(self, out):
        self.calls, self.out = [], out

    def __call__(self, x, steps):
        self.calls.append(steps)
        return self.out


def test_self_distiller_calls_run_fn_once_with_t_teacher_and_sums_to_one():
    run = _Recorder(_logits(32, 6, 10))
    sd = SelfDistiller(T_teacher=32, T_student=8, temperature=3.0)
    q = sd.generate_targets(run, torch.zeros(6, 4))
    assert run.calls == [32]
    np.testing.assert_allclose(q.sum(-1).numpy(), 1.0, rtol=1e-12)
    expected = torch.softmax(run.out.mean(0) / 3.0, -1)
    np.testing.assert_allclose(q.numpy(), expected.numpy(), rtol=1e-12)
    assert not q.requires_grad
    np_run = _Recorder(np.asarray(run.out))
    q_np = sd.generate_targets(np_run, np.zeros((6, 4)))
    assert isinstance(q_np, np.ndarray) and np_run.calls == [32]
    z = _logits(8, 6, 10, seed=3).requires_grad_()
    loss = sd.distill_loss(z, q)
    assert float(loss) > 0
    loss.backward()
    assert z.grad is not None
    assert float(sd.distill_loss(torch.log(q).expand(8, 6, 10) * 3.0, q)) == pytest.approx(
        0.0, abs=1e-12)
