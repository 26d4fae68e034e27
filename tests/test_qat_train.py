"""The QAT model is a drop-in student: same outputs as SpikingMLP, every loss trains it."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from spikefab.data import load_dataset, quantize_input
from spikefab.distill import TET, HintonKD, SeAlKD, SelfDistiller, TemporalDistillationLoss
from spikefab.distill.tssd import TSSD
from spikefab.quant.qat import qat_from_float
from spikefab.snn import SpikingMLP
from spikefab.train import train_model


@pytest.fixture(scope="module")
def batch():
    ds = load_dataset("digits")
    x = torch.from_numpy(quantize_input(ds.x_train[:96], 4))
    y = torch.from_numpy(ds.y_train[:96])
    return x, y


def _student(seed=0):
    torch.manual_seed(seed)
    return qat_from_float(SpikingMLP([64, 32, 10], timesteps=4), w_bits=4, v_bits=12)


def test_outputs_have_the_float_models_shapes_and_dtypes(batch):
    x, _ = batch
    q = _student()
    with torch.no_grad():
        logits, hidden = q(x, return_hidden=True)
    assert logits.shape == (4, 96, 10) and logits.dtype == torch.float32
    assert len(hidden) == 1 and hidden[0].shape == (4, 96, 32)
    assert set(np.unique(hidden[0].numpy())) <= {0.0, 1.0}
    # float logits are the integer readout currents over a power of two, exactly
    got = q.forward_int(x)
    d = q.logit_divisor()
    assert d == 2.0 ** round(np.log2(d))
    assert_array_equal((logits.double() * d).numpy().astype(np.int64), got.logits)
    assert_array_equal(hidden[0].numpy().astype(np.uint8), got.spikes[0])


def test_gradients_reach_weights_biases_and_scales(batch):
    x, y = batch
    q = _student()
    loss = torch.nn.functional.cross_entropy(q(x).mean(0), y)
    loss.backward()
    for name, p in q.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def _teacher(x):
    torch.manual_seed(1)
    t = torch.nn.Sequential(torch.nn.Linear(64, 10))
    with torch.no_grad():
        return t(x)


LOSSES = {
    "temporal": lambda z, t, y: TemporalDistillationLoss()(z, t, y),
    "hinton": lambda z, t, y: HintonKD()(z, t, y),
    "seal": lambda z, t, y: SeAlKD()(z, t, y),
    "tet": lambda z, t, y: TET()(z, y),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_each_distillation_loss_trains_the_qat_student(batch, name):
    x, y = batch
    q = _student()
    t_logits = _teacher(x)
    fn = LOSSES[name]

    def loss_fn(logits, yb, xb):
        return fn(logits, _teacher(xb), yb)

    with torch.no_grad():
        before = float(fn(q(x), t_logits, y))
    train_model(q, x, y, epochs=4, batch_size=32, lr=3e-3, seed=0, loss_fn=loss_fn)
    with torch.no_grad():
        after = float(fn(q(x), t_logits, y))
    assert np.isfinite(after) and after < before


def test_self_distiller_and_tssd_run_the_qat_model_longer(batch):
    x, y = batch
    q = _student()
    sd = SelfDistiller(T_teacher=8, T_student=4)

    def run(inputs, steps):
        old, q.timesteps = q.timesteps, steps
        try:
            return q(inputs)
        finally:
            q.timesteps = old

    targets = sd.generate_targets(run, x)
    loss = sd.distill_loss(q(x), targets)
    loss.backward()
    assert q.fcs[0].weight.grad.abs().sum() > 0
    tssd = TSSD(q, 32, 10, T_student=4, T_teacher=8)
    total = tssd(x, y)
    assert torch.isfinite(total)
    assert q.timesteps == 4  # restored after the extended run


def test_finetune_keeps_the_best_validation_epoch():
    from spikefab.quant.qat import finetune_qat, holdout, int_accuracy
    from spikefab.train import TrainConfig, encode_inputs, fit

    cfg = TrainConfig(dataset="digits", hidden=(16,), epochs=3, threads=1)
    ds, val = holdout(load_dataset("digits"), 0.2, 0)
    fr = fit(cfg, dataset=ds)
    seen = []
    res = finetune_qat(fr.model, ds, cfg, w_bits=2, v_bits=10, epochs=3, val=val,
                       log=seen.append)
    accs = [float(line.split()[-1]) for line in seen]
    assert len(accs) == 3 and 0 <= res.best_epoch <= 3
    x_val = encode_inputs(cfg, val[0], seed=cfg.seed + 1)
    kept = int_accuracy(res.model, x_val, val[1])
    assert all(kept >= a - 5e-5 for a in accs)  # the log rounds to 4 digits
    if res.best_epoch:
        assert kept == pytest.approx(accs[res.best_epoch - 1], abs=5e-5)
