"""export_ptq with the neuron extensions: the spec it writes, the decay residual, sound state
bounds in every mode, and a float model and its integer export that classify alike."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from spikefab.fixed import decay_beta, decay_of
from spikefab.golden import lif_init, lif_integrate, lif_step
from spikefab.quant.neurons import state_bounds
from spikefab.quant.ptq import export_ptq
from spikefab.snn import SpikingMLP
from spikefab.spec import LIFSpec, SynapseSpec
from spikefab.train import TrainConfig, fit


@st.composite
def bounded_cases(draw):
    gt = draw(st.booleans())
    leak = draw(st.sampled_from(["none", "shift", "decay"]))
    syn = None
    if draw(st.booleans()):
        syn = SynapseSpec(i_bits=32, decay=draw(st.integers(0, 16)), decay_bits=4)
    theta = draw(st.integers(1, 60))
    spec = LIFSpec(v_bits=32, theta=theta,
                   leak_shift=draw(st.integers(0, 6)) if leak == "shift" else None,
                   reset=draw(st.sampled_from(["subtract", "zero", "subtract-delayed"])),
                   decay=draw(st.integers(0, 64)) if leak == "decay" else None, decay_bits=6,
                   threshold="gt" if gt else "ge", synapse=syn)
    lo = draw(st.integers(-40, 40))
    hi = draw(st.integers(lo, 60))
    T = draw(st.integers(1, 10))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    currents = rng.integers(lo, hi + 1, (T, 64))
    ends = rng.random((T, 64)) < 0.3  # often sit on the ends of the range
    currents = np.where(ends, np.where(rng.random((T, 64)) < 0.5, lo, hi), currents)
    return spec, lo, hi, currents


@settings(max_examples=300, deadline=None)
@given(bounded_cases())
def test_state_bounds_hold_for_any_current_sequence(case):
    spec, lo, hi, currents = case
    b = state_bounds(lo, hi, spec, len(currents))
    state = lif_init(currents.shape[1:], spec)
    for cur in currents:
        prev = state.v
        _, state = lif_step(cur, state, spec)
        # the pre-reset membrane of this step (nothing saturates at 32 bits here)
        pre = lif_integrate(cur if spec.synapse is None else state.i, prev, spec)
        assert b.membrane[0] <= int(pre.min()) and int(pre.max()) <= b.membrane[1]
        if spec.synapse is not None:
            assert b.synapse[0] <= int(state.i.min()) and int(state.i.max()) <= b.synapse[1]


def _model(**kw):
    torch.manual_seed(0)
    m = SpikingMLP((4, 3, 2), timesteps=5, leak_shift=None, **kw)
    with torch.no_grad():
        m.fcs[0].weight.copy_(torch.tensor([[1.0, -0.5, 0.25, 0.0], [0.5, 0.5, 0.5, 0.5],
                                            [-1.0, 0.0, 0.75, 0.25]]))
        m.fcs[1].weight.copy_(torch.tensor([[1.0, 0.5, -0.25], [-0.5, 1.0, 0.25]]))
    return m


def test_spec_of_every_mode():
    m = _model(beta=0.9, threshold="gt", reset="subtract-delayed", alpha=0.95,
               readout="spikes")
    net = export_ptq(m, w_bits=8, v_bits=None, in_bits=4, decay_bits=12)
    assert net.spec.semantics == "v1+cuba+decay+delayed-reset+gt+spike-readout"
    assert net.spec.readout == "spikes"
    for layer, scale in zip(net.spec.layers, net.meta["scales"], strict=True):
        n = layer.neuron
        assert n.decay == decay_of(m.beta, 12) == 410
        assert n.synapse.decay == decay_of(m.alpha, 12) == 205
        assert n.theta == round(scale)  # theta 1.0 at the layer's scale
        assert (n.threshold, n.reset) == ("gt", "subtract-delayed")
    residual = net.meta["decay_residual"]
    assert residual == [pytest.approx(abs(m.beta - decay_beta(410, 12)))] * 2
    assert max(residual) <= 2.0**-13
    assert len(net.meta["synapse_bounds"]) == len(net.meta["i_bits_needed"]) == 2
    for layer, need in zip(net.spec.layers, net.meta["i_bits_needed"], strict=True):
        assert layer.neuron.synapse.i_bits == need


def test_shift_betas_stay_semantics_v1():
    net = export_ptq(_model(beta=0.875), w_bits=8, v_bits=None)
    assert net.spec.semantics == "v1" and net.spec.layers[0].neuron.leak_shift == 3
    assert "decay_residual" not in net.meta


def test_narrow_synapse_width_is_refused():
    with pytest.raises(ValueError) as e:
        export_ptq(_model(beta=0.5, alpha=0.95), w_bits=8, v_bits=None, i_bits=4)
    msg = str(e.value)
    assert msg.startswith("export_ptq layer 0 synaptic current can reach [") and msg.endswith(
        ", not 4 (raise i_bits or lower w_bits)")


@pytest.fixture(scope="module")
def snntorch_like():
    """A digits model with snnTorch's usual modes, trained 4 epochs here."""
    cfg = TrainConfig(hidden=(48,), timesteps=8, leak_shift=None, beta=0.9, threshold="gt",
                      reset="subtract-delayed", readout="spikes", epochs=4, in_bits=8)
    return fit(cfg)


def test_integer_export_classifies_like_the_float_model(snntorch_like):
    res = snntorch_like
    x = res.dataset.x_test
    net = export_ptq(res.model, w_bits=8, v_bits=None, in_bits=8, calib_x=x,
                     calib_y=res.dataset.y_test)
    assert net.spec.semantics == "v1+decay+delayed-reset+gt+spike-readout"
    assert net.meta["float_acc"] > 0.8
    assert net.meta["agreement"] >= 0.95
