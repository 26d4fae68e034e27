"""A QAT model trained on digits, exported: golden == QAT on every value, accuracy equal."""

import re

import numpy as np
import pytest
import torch
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.quant.qat import eval_inputs, finetune_qat, int_accuracy
from spikefab.quant.qat_export import export_qat
from spikefab.snn.qmlp import QSpikingMLP
from spikefab.train import TrainConfig, evaluate, fit
from test_qat_golden import assert_runs_equal


def _int_input(q, x: torch.Tensor) -> np.ndarray:
    """What the golden model gets for the QAT model's input ``x``."""
    if q.encoding == "direct":
        return np.rint(x.double().numpy() * (2**q.in_bits - 1)).astype(np.int64)
    return x.numpy().astype(np.int64)


@pytest.fixture(scope="module", params=["direct", "spikes"])
def trained(request):
    enc = request.param
    cfg = TrainConfig(dataset="digits", hidden=(48,), epochs=6, encoding=enc,
                      in_bits=4 if enc == "direct" else 1, threads=1, timesteps=4)
    fr = fit(cfg)
    res = finetune_qat(fr.model, fr.dataset, cfg, w_bits=4, v_bits=12, epochs=2)
    return cfg, fr, res


def test_trained_qat_equals_golden_on_every_test_image(trained):
    cfg, fr, res = trained
    q = res.model
    net = export_qat(q, meta={"dataset": "digits"})
    x = eval_inputs(cfg, fr.dataset)
    want = run_network(net, _int_input(q, x))
    assert_runs_equal(q.forward_int(x), want)
    # a real network: neurons fire, but not all of them all the time
    rate = float(want.spikes[0].mean())
    assert 0.01 < rate < 0.9


def test_golden_accuracy_equals_qat_accuracy(trained, tmp_path):
    cfg, fr, res = trained
    q = res.model
    x = eval_inputs(cfg, fr.dataset)
    y = fr.dataset.y_test
    net = QuantizedNetwork.load(export_qat(q).save(tmp_path / "qat"))
    golden_acc = float((run_network(net, _int_input(q, x)).prediction == y).mean())
    assert golden_acc == res.qat_acc == int_accuracy(q, x, y)
    # the float-logit path (argmax of readout / 2**k summed over T) agrees too
    assert evaluate(q, x, y, spikes=cfg.encoding == "spikes") == golden_acc
    assert golden_acc > 0.8


def test_export_records_scales_and_thresholds(trained):
    _, _, res = trained
    q = res.model
    net = export_qat(q, meta={"note": "x"})
    scales = q.scales().detach().numpy()
    assert net.meta["source"] == "qat" and net.meta["note"] == "x"
    assert net.meta["scales"] == [float(s) for s in scales]
    for layer, s in zip(net.spec.hidden, scales, strict=False):
        assert layer.neuron.theta == int(np.rint(s))  # theta = 1.0 float
        assert layer.neuron.v_bits == 12 and layer.w_bits == 4
    for w in net.weights:
        assert w.min() >= -8 and w.max() <= 7


def test_export_rounds_nothing():
    q = QSpikingMLP([2, 2, 2])
    params = q.integer_params()
    with torch.no_grad():
        params[0][0][0, 0] = 0.5  # a non-integer would have to be rounded: refused

    def fake():
        return params

    q.integer_params = fake
    with pytest.raises(ValueError, match="^" + re.escape(
            "weights[0] holds non-integer values; export_qat rounds nothing") + "$"):
        export_qat(q)


def test_export_refuses_other_models():
    with pytest.raises(TypeError, match="^export_qat model must be a QSpikingMLP, not Linear$"):
        export_qat(torch.nn.Linear(2, 2))
