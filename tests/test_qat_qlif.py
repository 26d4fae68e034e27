"""qlif_step (torch, float64) equals golden.lif_step exactly; its gradients are straight-through."""

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from spikefab.golden import LIFState, lif_init, lif_step
from spikefab.snn.qlif import (
    EXTENSIONS,
    floor_ste,
    qlif_integrate,
    qlif_step,
    qsynapse_step,
    round_ste,
    sat_ste,
)
from spikefab.spec import LIFSpec
from test_qat_extensions import neurons

from conftest import vectors_within

F64 = torch.float64


def _q(current, v, spec, scale=1.0):
    return qlif_step(
        torch.as_tensor(current, dtype=F64),
        torch.as_tensor(v, dtype=F64),
        theta=torch.tensor(float(spec.theta), dtype=F64),
        v_bits=spec.v_bits,
        leak_shift=spec.leak_shift,
        reset=spec.reset,
        scale=scale,
        decay=spec.decay,
        decay_bits=spec.decay_bits,
        threshold=spec.threshold,
    )


def _q_full(current, v, i, spec, scale=1.0):
    """One step of any neuron: the synapse (cuba) first, then ``qlif_step``."""
    if spec.synapse is not None:
        syn = spec.synapse
        i = qsynapse_step(torch.as_tensor(current, dtype=F64), i, i_bits=syn.i_bits,
                          decay=syn.decay, decay_bits=syn.decay_bits)
        current = i
    s, v = _q(current, v, spec, scale)
    return s, v, i


def _as_int(t):
    a = t.detach().numpy()
    assert np.all(a == np.trunc(a))
    return a.astype(np.int64)


@pytest.mark.parametrize("lif_vector", vectors_within("lif", EXTENSIONS),
                         ids=lambda v: v["name"])
def test_qlif_matches_every_lif_vector(lif_vector):
    spec = lif_vector["spec"]
    v = i = torch.zeros((), dtype=F64)
    spikes, vs, cs = [], [], []
    for current in lif_vector["current"]:
        s, v, i = _q_full(float(current), v, i, spec)
        spikes.append(int(_as_int(s)))
        vs.append(int(_as_int(v)))
        cs.append(int(_as_int(i)))
    assert_array_equal(spikes, lif_vector["spikes"])
    assert_array_equal(vs, lif_vector["v"])
    if lif_vector["i"] is not None:
        assert_array_equal(cs, lif_vector["i"])


@st.composite
def trajectories(draw):
    v_bits = draw(st.integers(2, 32))
    spec = LIFSpec(
        v_bits=v_bits,
        theta=draw(st.integers(1, 2 ** (v_bits - 1) - 1)),
        leak_shift=draw(st.none() | st.integers(0, v_bits - 1)),
        reset=draw(st.sampled_from(["subtract", "zero"])),
    )
    # currents up to 4x the membrane range, so both rails saturate often
    big = 2 ** (v_bits + 1)
    steps = draw(st.integers(1, 12))
    n = draw(st.integers(1, 5))
    currents = draw(
        st.lists(st.lists(st.integers(-big, big), min_size=n, max_size=n),
                 min_size=steps, max_size=steps)
    )
    return spec, np.array(currents, dtype=np.int64)


@st.composite
def extended_trajectories(draw):
    """Every neuron mode (``test_qat_extensions.neurons``: decay or shift leak, ge/gt, all
    three resets, with or without a synapse); currents past both rails of the membrane and
    of the synaptic current."""
    spec = draw(neurons(big=draw(st.booleans())))
    syn = spec.synapse
    big = 2 ** (max(spec.v_bits, syn.i_bits if syn else 0) + 1)
    steps = draw(st.integers(1, 12))
    n = draw(st.integers(1, 5))
    currents = draw(st.lists(st.lists(st.integers(-big, big), min_size=n, max_size=n),
                             min_size=steps, max_size=steps))
    return spec, np.array(currents, dtype=np.int64)


@settings(max_examples=300, deadline=None)
@given(extended_trajectories())
def test_qlif_equals_golden_in_every_mode(case):
    spec, currents = case
    state = lif_init(currents.shape[1:], spec)
    v = i = torch.zeros(currents.shape[1:], dtype=F64)
    for current in currents:
        s_g, state = lif_step(current, state, spec)
        s_q, v, i = _q_full(current.astype(np.float64), v, i, spec, scale=float(spec.theta))
        assert_array_equal(_as_int(s_q), s_g.astype(np.int64))
        assert_array_equal(_as_int(v), state.v)
        if spec.synapse is not None:
            assert_array_equal(_as_int(i), state.i)


def test_decay_leak_gradient_is_beta():
    v = torch.tensor([-40.0, 40.0], dtype=F64, requires_grad=True)
    cur = torch.zeros(2, dtype=F64)
    v1 = qlif_integrate(cur, v, v_bits=16, leak_shift=None, decay=410, decay_bits=12)
    # floor(-40 * 410 / 4096) = floor(-4.004) = -5; floor(4.004) = 4
    assert_array_equal(v1.detach().numpy(), [-35.0, 36.0])
    (gv,) = torch.autograd.grad(v1.sum(), v)
    assert_array_equal(gv.numpy(), [1 - 410 / 4096] * 2)


@settings(max_examples=300, deadline=None)
@given(trajectories())
def test_qlif_equals_golden_on_random_trajectories(case):
    spec, currents = case
    state = lif_init(currents.shape[1:], spec)
    v = torch.zeros(currents.shape[1:], dtype=F64)
    for current in currents:
        s_g, state = lif_step(current, state, spec)
        s_q, v = _q(current.astype(np.float64), v, spec, scale=float(spec.theta))
        assert_array_equal(_as_int(s_q), s_g.astype(np.int64))
        assert_array_equal(_as_int(v), state.v)


def test_float32_edge_is_exact_in_float64_and_would_fail_in_float32():
    """Near 2**31 a float32 membrane loses its low bits; the float64 path does not."""
    spec = LIFSpec(v_bits=32, theta=2**30 + 1, leak_shift=5, reset="subtract")
    currents = np.array([2**30 - 3, 7, 2**29 + 5, -(2**30) - 9, 3], dtype=np.int64)
    state = LIFState(np.zeros((), np.int64))
    v64 = torch.zeros((), dtype=F64)
    v32 = torch.zeros((), dtype=torch.float32)
    mismatch32 = False
    for c in currents:
        s_g, state = lif_step(c, state, spec)
        s_q, v64 = _q(float(c), v64, spec)
        assert int(_as_int(s_q)) == int(s_g)
        assert int(_as_int(v64)) == int(state.v)
        # the same equations evaluated in float32, as a float32 QAT model would
        v32 = torch.clamp(v32 - torch.floor(v32 / 32) + float(c), -(2.0**31), 2.0**31 - 1)
        s32 = (v32 >= float(spec.theta)).float()
        v32 = v32 - float(spec.theta) * s32
        mismatch32 |= int(v32.item()) != int(state.v) or int(s32.item()) != int(s_g)
    assert mismatch32, "this case must exercise the float32 limit"


def test_qlif_refuses_float32():
    msg = (
        "qlif_step current must be a torch.float64 tensor (float32 is exact only below 2**24), "
        "not torch.float32"
    )
    with pytest.raises(TypeError, match="^" + re.escape(msg) + "$"):
        qlif_step(torch.zeros(2), torch.zeros(2, dtype=F64), theta=1.0, v_bits=8,
                  leak_shift=None, reset="zero")
    with pytest.raises(TypeError, match=r"^qlif_step v must be a torch\.float64 tensor"):
        qlif_step(torch.zeros(2, dtype=F64), torch.zeros(2, dtype=torch.float16), theta=1.0,
                  v_bits=8, leak_shift=None, reset="zero")


def test_qlif_refuses_unknown_reset():
    with pytest.raises(ValueError, match="^qlif_step reset must be one of 'subtract', 'zero', "
                                         "'subtract-delayed', not 'hold'$"):
        qlif_step(torch.zeros(1, dtype=F64), torch.zeros(1, dtype=F64), theta=1.0, v_bits=8,
                  leak_shift=None, reset="hold")


def test_straight_through_gradients():
    x = torch.tensor([-2.5, -0.5, 0.5, 1.5, 7.3], dtype=F64, requires_grad=True)
    for fn in (round_ste, floor_ste, lambda t: sat_ste(t, 3)):
        (g,) = torch.autograd.grad(fn(x).sum(), x)
        assert_array_equal(g.numpy(), np.ones(5))
    assert_array_equal(round_ste(x).detach().numpy(), [-2.0, -0.0, 0.0, 2.0, 7.0])  # ties even
    assert_array_equal(sat_ste(x, 3).detach().numpy(), [-2.5, -0.5, 0.5, 1.5, 3.0])


def test_leak_gradient_is_beta_and_spike_uses_scaled_surrogate():
    v = torch.tensor([40.0], dtype=F64, requires_grad=True)
    cur = torch.tensor([0.0], dtype=F64, requires_grad=True)
    v1 = qlif_integrate(cur, v, v_bits=16, leak_shift=3)
    assert float(v1.detach()) == 35.0  # 40 - (40 >> 3)
    gv, gc = torch.autograd.grad(v1.sum(), (v, cur))
    assert float(gv) == 1 - 2**-3 and float(gc) == 1.0
    theta = torch.tensor(1000.0, dtype=F64)
    s, v2 = qlif_step(cur, v, theta=theta, v_bits=16, leak_shift=3, reset="subtract",
                      scale=1000.0)
    assert float(s.detach()) == 0.0 and float(v2.detach()) == 35.0
    # surrogate derivative 1 / (1 + 5 |x|)^2 at x = (35 - 1000) / 1000, times d x / d I
    (gs,) = torch.autograd.grad(s.sum(), cur)
    x = (35 - 1000) / 1000
    assert float(gs) == pytest.approx(1 / (1 + 5 * abs(x)) ** 2 / 1000)
