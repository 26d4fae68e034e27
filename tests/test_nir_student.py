"""Float SpikingMLP -> NIR -> SpikingMLP, and snnTorch's importer reading our graphs."""

import copy

import numpy as np
import pytest
import torch
from dyadic import snap_parameters_
from snntorch import utils as snn_utils
from snntorch.import_nir import import_from_nir
from spikefab.data import load_dataset
from spikefab.nirgraph import (
    export_student,
    import_nir,
    run_imported,
    spikefab_info,
    to_nir,
    to_student,
    write_nir,
)
from spikefab.snn import SpikingMLP

T = 6


@pytest.fixture(scope="module")
def digits_x():
    return torch.from_numpy(load_dataset("digits").x_test).float()


def _model(leak_shift, reset, theta=1.0, sizes=(64, 24, 16, 10), seed=0):
    torch.manual_seed(seed)
    m = SpikingMLP(sizes, timesteps=T, leak_shift=leak_shift, theta=theta, reset=reset, slope=3.0)
    with torch.no_grad():  # fire often enough on [0, 1] pixels for the comparison to mean much
        m.fcs[0].weight.mul_(4 * theta)
        for fc in m.fcs[1:]:
            fc.weight.mul_(2 * theta)
    return m


def _forward(m, x):
    with torch.no_grad():
        return m(x, return_hidden=True)


@pytest.mark.parametrize(
    "leak_shift,reset,theta", [(3, "subtract", 1.0), (1, "zero", 0.75), (None, "subtract", 2.0)]
)
def test_student_round_trip_is_exact(leak_shift, reset, theta, digits_x, tmp_path):
    m = _model(leak_shift, reset, theta)
    path = write_nir(export_student(m), tmp_path / "s.nir")
    net = import_nir(path)
    back = to_student(net)
    assert (back.sizes, back.timesteps, back.leak_shift, back.theta, back.reset) == (
        m.sizes, m.timesteps, m.leak_shift, m.theta, m.reset
    )
    assert back.lifs[0].slope == 3.0
    for a, b in zip(m.fcs, back.fcs, strict=True):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    logits, hidden = _forward(m, digits_x)
    logits2, hidden2 = _forward(back, digits_x)
    assert torch.equal(logits, logits2)
    run = run_imported(net, digits_x, timesteps=T)  # the graph's own equations, float32
    assert torch.equal(run.outputs, logits)
    for h, h2, hr in zip(hidden, hidden2, run.spikes, strict=True):
        assert torch.equal(h, h2) and torch.equal(h, hr)
        assert 0.02 < float(h.mean()) < 0.98


def test_graph_records_modes_and_timesteps():
    m = _model(2, "zero")
    info = spikefab_info(to_nir(m, dt=1e-3))
    assert info["kind"] == "float"
    assert info["timesteps"] == T
    assert info["modes"] == {"dt": 1e-3, "reset": "value", "threshold": "ge"}


def _snntorch_import_run(m, x):
    """snnTorch's import_from_nir of ``export_student(m)`` run ``T`` steps on ``x``:
    (logits ``[T, B, C]``, first hidden layer's spikes ``[T, B, n]``, the snnTorch net)."""
    snn_net = import_from_nir(export_student(m))
    spikes = []
    hook = snn_net.lif0.register_forward_hook(lambda mod, i, o: spikes.append(o))
    with torch.no_grad():
        snn_utils.reset(snn_net)
        out = torch.stack([snn_net(x)[0] for _ in range(T)])
    hook.remove()
    return out, torch.stack(spikes), snn_net


def test_snntorch_importer_reproduces_our_student(digits_x):
    """snnTorch's own import_from_nir reads our graph (LIF with tau = dt*2**k, r = tau/dt)
    as Leaky(beta=1 - 2**-k, reset 'zero'): same spikes and logits on the digits test set."""
    m = _model(3, "zero")
    logits, hidden = _forward(m, digits_x)
    out, spikes, snn_net = _snntorch_import_run(m, digits_x)
    assert float(snn_net.lif0.beta[0]) == 0.875
    assert torch.equal(spikes, hidden[0])
    # the second hidden layer feeds the readout; equal logits mean equal spikes there too
    assert torch.equal(out, logits)
    assert 0.02 < float(hidden[0].mean()) < 0.98


def test_snntorch_importer_differs_only_at_threshold_ties(digits_x):
    """snnTorch fires at ``v > theta``, spikefab at ``v >= theta``. On weights of a 2^-6 grid
    (digits pixels are multiples of 1/16) membranes land on ``theta`` exactly: snnTorch's import
    then equals a student with ``theta = nextafter(theta, +inf)`` bit for bit, not ours."""
    m = snap_parameters_(_model(3, "zero"))
    gt = copy.deepcopy(m)
    for lif in gt.lifs:  # as nirgraph's to_student reads threshold "gt"
        lif.theta = float(np.nextafter(np.float32(lif.theta), np.float32(np.inf)))
    out, _, _ = _snntorch_import_run(m, digits_x)
    _, hidden_ge = _forward(m, digits_x)
    logits_gt, hidden_gt = _forward(gt, digits_x)
    assert torch.equal(out, logits_gt)
    assert not torch.equal(hidden_ge[1], hidden_gt[1])  # ties happened, and only they differ


def test_export_student_rejects_other_models():
    with pytest.raises(TypeError) as e:
        export_student(torch.nn.Linear(2, 2))
    assert str(e.value) == "export_student model must be a SpikingMLP or a SpikingCNN, not Linear"
    with pytest.raises(TypeError) as e:
        to_nir("net")
    assert str(e.value) == ("to_nir takes a QuantizedNetwork, a SpikingMLP or a SpikingCNN, "
                            "not str")
