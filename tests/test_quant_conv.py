"""A float SpikingCNN trained on digits, quantized both ways to a conv IR.

PTQ (``export_ptq``) and QAT (``qat_from_float`` + ``finetune_qat`` + ``export_qat``) turn the
conv stages into ``ConvSpec`` layers (3x3, stride 1, padding 1, pool 2) and the readout into
a dense layer; golden on the exported IR equals the QAT forward pass on every value, and
golden accuracy equals QAT accuracy. The checkpoint round-trips the conv student.
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.quant.ptq import export_ptq
from spikefab.quant.qat import eval_inputs, finetune_qat, int_accuracy, qat_from_float
from spikefab.quant.qat_export import export_qat
from spikefab.snn.cnn import SpikingCNN
from spikefab.spec import ConvSpec
from spikefab.train import TrainConfig, evaluate, fit, load_checkpoint, save_checkpoint
from test_qat_export import _int_input
from test_qat_golden import assert_runs_equal

CONVS = (ConvSpec(1, 8, 8, 6, 3, 1, 1, pool=2), ConvSpec(6, 4, 4, 12, 3, 1, 1, pool=2))


@pytest.fixture(scope="module")
def trained():
    cfg = TrainConfig(dataset="digits", kind="cnn", channels=(6, 12), epochs=8, timesteps=4,
                      in_bits=4, lr=1e-2)
    return cfg, fit(cfg)


def test_ptq_writes_conv_layers_and_agrees_with_the_float_model(trained):
    cfg, fr = trained
    ds = fr.dataset
    assert fr.float_acc > 0.8
    net = export_ptq(fr.model, w_bits=8, in_bits=4, calib_x=ds.x_test, calib_y=ds.y_test)
    spec = net.spec
    assert spec.semantics == "v1+conv2d"
    assert tuple(layer.conv for layer in spec.hidden) == CONVS
    assert spec.layers[-1].conv is None and spec.layers[-1].n_in == 12 * 2 * 2
    assert net.weights[0].shape == (6, 1, 3, 3) and net.biases[1].shape == (12,)
    assert net.meta["agreement"] >= 0.95
    assert abs(net.meta["golden_acc"] - fr.float_acc) <= 0.03
    # the membranes were sized so that none saturates: v_bits holds the bound
    for layer, (lo, hi) in zip(spec.hidden, net.meta["membrane_bounds"], strict=True):
        assert -(2 ** (layer.neuron.v_bits - 1)) <= lo and hi < 2 ** (layer.neuron.v_bits - 1)


def test_qat_of_a_cnn_is_golden_exact_and_as_accurate(trained, tmp_path):
    cfg, fr = trained
    ds = fr.dataset
    res = finetune_qat(fr.model, ds, cfg, w_bits=5, v_bits=12, epochs=1)
    q = res.model
    assert q.convs == (*CONVS, None)
    x = eval_inputs(cfg, ds)
    net = QuantizedNetwork.load(export_qat(q).save(tmp_path / "qat_conv"))
    assert net.spec.semantics == "v1+conv2d"
    want = run_network(net, _int_input(q, x))
    assert_runs_equal(q.forward_int(x), want)
    golden_acc = float((want.prediction == ds.y_test).mean())
    assert golden_acc == res.qat_acc == int_accuracy(q, x, ds.y_test)
    assert evaluate(q, x, ds.y_test) == golden_acc
    assert golden_acc >= fr.float_acc - 0.05
    assert 0.01 < float(want.spikes[0].mean()) < 0.9
    for w in net.weights:
        assert w.min() >= -16 and w.max() <= 15


def test_calibrated_qat_copy_keeps_the_float_modes(trained):
    cfg, fr = trained
    q = qat_from_float(fr.model, w_bits=8, v_bits=16)
    spec = export_qat(q).spec
    for layer in spec.hidden:
        assert (layer.neuron.leak_shift, layer.neuron.reset) == (3, "subtract")
    zero = SpikingCNN((1, 8, 8), (2,), 10, leak_shift=None, reset="zero")
    spec = export_qat(qat_from_float(zero, v_bits=10)).spec
    assert (spec.layers[0].neuron.leak_shift, spec.layers[0].neuron.reset) == (None, "zero")
    assert spec.layers[0].conv == ConvSpec(1, 8, 8, 2, 3, 1, 1, pool=2)


def test_checkpoint_round_trips_a_conv_student(trained, tmp_path):
    cfg, fr = trained
    path = save_checkpoint(tmp_path / "cnn.pt", fr.model, config=cfg)
    model, back, _ = load_checkpoint(path)
    assert isinstance(model, SpikingCNN) and back == cfg
    x = torch.from_numpy(np.asarray(eval_inputs(cfg, fr.dataset)))
    with torch.no_grad():
        assert_array_equal(model(x).numpy(), fr.model.eval()(x).numpy())
