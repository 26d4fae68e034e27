"""The float neuron modes beyond semantics v1: hand-computed steps, snnTorch's own neurons
bit for bit, the engines, training, checkpoints and errors.

The float model is checked against snnTorch's ``Leaky`` and ``Synaptic`` (the networks users
bring) on random float32 currents: the same spikes and membranes, ``torch.equal``.
"""

import re

import pytest
import snntorch as snn
import torch
from dyadic import dyadic_rand, snap_parameters_
from numpy.testing import assert_array_equal
from spikefab.snn import SpikingMLP
from spikefab.snn.lif import LIF, NeuronState, neuron_init, neuron_step_float
from spikefab.snn.surrogate import spike_gt
from spikefab.train import TrainConfig, fit, load_checkpoint, save_checkpoint


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


def _steps(currents, **kw):
    state = neuron_init(torch.zeros(1), reset=kw["reset"], alpha=kw.get("alpha"))
    out = []
    for c in currents:
        s, state = neuron_step_float(torch.tensor([c]), state, **kw)
        out.append((float(s), float(state.v)))
    return out


def test_gt_fires_only_above_theta():
    assert_array_equal(spike_gt(torch.tensor([-1.0, 0.0, 1e-7])).numpy(), [0, 0, 1])
    kw = dict(beta=1.0, theta=1.0, reset="subtract")
    assert _steps([1.0], threshold="ge", **kw) == [(1.0, 0.0)]
    assert _steps([1.0, 0.5], threshold="gt", **kw) == [(0.0, 1.0), (1.0, 0.5)]


def test_delayed_subtract_by_hand():
    # beta 0.5, theta 1: v = 1.5 fires and is kept; next v = 0.75 + 1 - 1 = 0.75 (the
    # threshold is subtracted after the decay, not decayed); then 0.375 + 0.25 = 0.625
    kw = dict(beta=0.5, theta=1.0, reset="subtract-delayed", threshold="gt")
    assert _steps([1.5, 1.0, 0.25], **kw) == [(1.0, 1.5), (0.0, 0.75), (0.0, 0.625)]


def test_cuba_by_hand():
    # alpha 0.5: i = 1, 1.5, 0.75; beta 0.5: v = 1, 2 -> fires (zero reset), 0.75
    kw = dict(beta=0.5, theta=1.5, reset="zero", threshold="gt", alpha=0.5)
    assert _steps([1.0, 1.0, 0.0], **kw) == [(0.0, 1.0), (1.0, 0.0), (0.0, 0.75)]


def _snntorch_neuron(kind, beta, alpha, reset, delay, n):
    args = dict(beta=torch.full((n,), beta), threshold=torch.ones(n), reset_mechanism=reset,
                reset_delay=delay)
    if kind == "Synaptic":
        return snn.Synaptic(alpha=torch.full((n,), alpha), **args)
    return snn.Leaky(**args)


SNNTORCH = [  # (neuron, snnTorch reset, reset_delay) -> our reset
    ("Leaky", "subtract", True, "subtract-delayed"),
    ("Leaky", "zero", True, "zero"),
    ("Leaky", "zero", False, "zero"),
    ("Synaptic", "subtract", True, "subtract-delayed"),
]


@pytest.mark.parametrize("kind,reset,delay,ours", SNNTORCH)
@pytest.mark.parametrize("beta", [0.9, 0.95, 0.875])
def test_float_step_equals_snntorch_bit_for_bit(kind, reset, delay, ours, beta):
    torch.manual_seed(0)
    n, T = 257, 40
    cur = torch.randn(T, 8, n) * 0.6 + 0.15
    ref = _snntorch_neuron(kind, beta, 0.8, reset, delay, n)
    lif = LIF(leak_shift=None, beta=beta, theta=1.0, reset=ours, threshold="gt",
              alpha=0.8 if kind == "Synaptic" else None)
    state = lif.init_state(cur[0])
    mem = ref.init_leaky() if kind == "Leaky" else None
    syn, mem2 = ref.init_synaptic() if kind == "Synaptic" else (None, None)
    fired = 0.0
    with torch.no_grad():
        for t in range(T):
            s, state = lif.step(cur[t], state)
            if kind == "Leaky":
                s_ref, mem = ref(cur[t], mem)
            else:
                s_ref, syn, mem2 = ref(cur[t], syn, mem2)
                assert torch.equal(state.i, syn)
            assert torch.equal(s, s_ref)
            fired += float(s.mean())
            if ours == "subtract-delayed":  # both keep the membrane that fired
                assert torch.equal(state.v, mem if kind == "Leaky" else mem2)
    assert 0.05 < fired / T < 0.95


def test_v1_model_is_unchanged_by_the_new_arguments():
    """Defaults are semantics v1: the same forward pass as before, bit for bit, and the
    checkpoint records no new argument."""
    torch.manual_seed(0)
    a = SpikingMLP((10, 12, 4), timesteps=5)
    torch.manual_seed(0)
    b = SpikingMLP((10, 12, 4), timesteps=5, beta=None, threshold="ge", alpha=None,
                   readout="current")
    x = torch.rand(6, 10)
    assert torch.equal(a(x), b(x))
    assert a.neuron_args() == {} and a.readout_lif is None


def _compare_engines(m, x):
    outs = []
    for engine in ("loop", "fused"):
        m.engine = engine
        m.zero_grad()
        logits, hidden = m(x, return_hidden=True)
        (logits * torch.linspace(-1, 1, logits.shape[-1])).square().sum().backward()
        outs.append((logits.detach(), [h.detach() for h in hidden],
                     [p.grad.clone() for p in m.parameters()]))
    (l0, h0, g0), (l1, h1, g1) = outs
    assert torch.equal(l0, l1)
    for a, b in zip(h0, h1, strict=True):
        assert torch.equal(a, b)
    for a, b in zip(g0, g1, strict=True):
        assert float((a - b).abs().max()) <= 1e-5 * max(float(a.abs().max()), 1e-12)
    return l0, h0


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_fused_engine_runs_any_beta_and_the_spike_readout(reset):
    """The fused kernels take any float beta and run the spike readout's LIF too: equal to
    the loop bit for bit (spikes, spike logits), gradients to summation order."""
    torch.manual_seed(0)
    m = SpikingMLP((20, 32, 6), timesteps=6, leak_shift=None, beta=0.9, reset=reset,
                   theta=0.8, readout="spikes")
    with torch.no_grad():
        for fc in m.fcs:
            fc.weight.mul_(3)
    snap_parameters_(m)
    for x in (dyadic_rand(9, 20), (torch.rand(6, 9, 20) < 0.4).float()):
        logits, hidden = _compare_engines(m, x)
        assert set(torch.unique(logits).tolist()) == {0.0, 1.0}
        assert 0.05 < float(hidden[0].mean()) < 0.95


@pytest.mark.parametrize("kw", [dict(threshold="gt"), dict(reset="subtract-delayed"),
                                dict(alpha=0.5)])
def test_modes_beyond_the_kernels_run_the_loop(kw, monkeypatch):
    """gt, subtract-delayed and cuba are not in the fused kernels: the model runs its loop
    whatever the engine (mlp_forward is never called)."""
    import spikefab.snn.mlp as mlp

    def refuse(*a, **k):
        raise AssertionError("the fused path must not run")

    torch.manual_seed(0)
    m = SpikingMLP((8, 16, 4), timesteps=4, **kw)
    want = m(torch.rand(5, 8) * 3)
    monkeypatch.setattr(mlp, "mlp_forward", refuse)
    torch.manual_seed(0)
    m2 = SpikingMLP((8, 16, 4), timesteps=4, engine="fused", **kw)
    torch.manual_seed(0)
    x = torch.rand(5, 8) * 3
    m2(x)
    with pytest.raises(AssertionError):
        SpikingMLP((8, 16, 4), timesteps=4)(x)
    assert want.shape == (4, 5, 4)


def test_training_with_every_mode_and_checkpoint(tmp_path):
    cfg = TrainConfig(hidden=(32,), timesteps=6, leak_shift=None, beta=0.9, threshold="gt",
                      reset="subtract-delayed", alpha=0.8, readout="spikes", epochs=3,
                      theta=0.5)
    res = fit(cfg)
    assert res.float_acc > 0.5
    path = save_checkpoint(tmp_path / "m.pt", res.model, config=cfg)
    back, cfg2, _ = load_checkpoint(path)
    assert cfg2 == cfg
    assert (back.beta, back.threshold, back.reset, back.alpha, back.readout) == (
        res.model.beta, "gt", "subtract-delayed", res.model.alpha, "spikes")
    x = torch.rand(7, 64)
    assert torch.equal(back(x), res.model(x))


def test_mode_errors_are_one_line():
    with pytest.raises(ValueError, match=exact(
            "SpikingMLP leak_shift must be None when beta is given (one leak per neuron), "
            "not 3")):
        SpikingMLP((4, 3, 2), beta=0.9)
    with pytest.raises(ValueError, match=exact(
            "SpikingMLP beta must be None or a number in [0, 1], not 1.5")):
        SpikingMLP((4, 3, 2), leak_shift=None, beta=1.5)
    with pytest.raises(ValueError, match=exact(
            "SpikingMLP threshold must be one of 'ge', 'gt', not '>'")):
        SpikingMLP((4, 3, 2), threshold=">")
    with pytest.raises(ValueError, match=exact(
            "SpikingMLP readout must be one of 'current', 'spikes', not 'vote'")):
        SpikingMLP((4, 3, 2), readout="vote")
    with pytest.raises(ValueError, match=exact(
            "TrainConfig.alpha must be None or a number in [0, 1], not -0.1")):
        TrainConfig(alpha=-0.1)
    lif = LIF(reset="subtract-delayed")
    with pytest.raises(ValueError, match=r"^LIF forward\(current, v\) carries only the "):
        lif(torch.zeros(2))
    s, state = lif.step(torch.full((2,), 2.0), lif.init_state(torch.zeros(2)))
    assert isinstance(state, NeuronState) and state.s is s
