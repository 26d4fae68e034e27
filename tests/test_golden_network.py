"""golden.run_network against an independent scalar re-statement of DESIGN §2.

The reference below is written from the text of the semantics with Python ints, one
neuron at a time, so the vectorised NumPy model is checked against a second reading.
"""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from spikefab.golden import check_input, run_network
from spikefab.ir import QuantizedNetwork
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec


def reference(net, xs):
    """Python-int reading of DESIGN §2 for one sample; xs is [T][n_in]."""
    spec = net.spec
    v = [[0] * layer.n_out for layer in spec.hidden]
    spikes, mems, logits = [], [], []
    for t in range(spec.timesteps):
        h = [int(a) for a in xs[t]]
        step_s, step_v = [], []
        for li, layer in enumerate(spec.hidden):
            n = layer.neuron
            lo, hi = -(2 ** (n.v_bits - 1)), 2 ** (n.v_bits - 1) - 1
            out = []
            for j in range(layer.n_out):
                cur = sum(int(w) * a for w, a in zip(net.weights[li][j], h, strict=True)) + int(
                    net.biases[li][j])
                vj = v[li][j]
                leak = 0 if n.leak_shift is None else vj // (2 ** n.leak_shift)
                vj = min(hi, max(lo, vj - leak + cur))
                s = 1 if vj >= n.theta else 0
                if s:
                    vj = vj - n.theta if n.reset == "subtract" else 0
                v[li][j] = vj
                out.append(s)
            step_s.append(out)
            step_v.append(list(v[li]))
            h = out
        ro = len(spec.hidden)
        logits.append([sum(int(w) * a for w, a in zip(net.weights[ro][c], h, strict=True))
                       + int(net.biases[ro][c]) for c in range(spec.n_classes)])
        spikes.append(step_s)
        mems.append(step_v)
    acc = [sum(col) for col in zip(*logits, strict=True)]
    return spikes, mems, logits, acc, acc.index(max(acc))


@st.composite
def networks(draw):
    encoding = draw(st.sampled_from(["direct", "spikes"]))
    in_bits = draw(st.integers(1, 8)) if encoding == "direct" else 1
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    layers = []
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        neuron = None
        if not last:
            v_bits = draw(st.integers(3, 12))
            neuron = LIFSpec(
                v_bits=v_bits,
                theta=draw(st.integers(1, 2 ** (v_bits - 1) - 1)),
                leak_shift=draw(st.none() | st.integers(0, v_bits - 1)),
                reset=draw(st.sampled_from(["subtract", "zero"])),
            )
        layers.append(LayerSpec(sizes[i], sizes[i + 1], w_bits=draw(st.integers(2, 8)),
                                b_bits=draw(st.integers(2, 10)), neuron=neuron))
    spec = NetworkSpec(tuple(layers), timesteps=draw(st.integers(1, 6)), encoding=encoding,
                       in_bits=in_bits)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ws = [rng.integers(-(2 ** (ly.w_bits - 1)), 2 ** (ly.w_bits - 1), (ly.n_out, ly.n_in))
          for ly in layers]
    bs = [rng.integers(-(2 ** (ly.b_bits - 1)), 2 ** (ly.b_bits - 1), ly.n_out) for ly in layers]
    net = QuantizedNetwork(spec, ws, bs)
    batch = draw(st.integers(1, 3))
    if encoding == "direct":
        x = rng.integers(0, 2**in_bits, (batch, spec.n_in))
    else:
        x = rng.integers(0, 2, (spec.timesteps, batch, spec.n_in))
    return net, x


@settings(max_examples=150, deadline=None)
@given(networks())
def test_matches_scalar_reference(case):
    net, x = case
    r = run_network(net, x)
    xs = check_input(net, x)
    for b in range(xs.shape[1]):
        spikes, mems, logits, acc, pred = reference(net, xs[:, b])
        for li in range(len(net.spec.hidden)):
            assert_array_equal(r.spikes[li][:, b], [s[li] for s in spikes])
            assert_array_equal(r.membranes[li][:, b], [m[li] for m in mems])
        assert_array_equal(r.logits[:, b], logits)
        assert_array_equal(r.acc[b], acc)
        assert r.prediction[b] == pred


def _tiny(encoding="direct", in_bits=3):
    spec = NetworkSpec((LayerSpec(2, 2, neuron=LIFSpec(v_bits=8, theta=3)), LayerSpec(2, 2)),
                       timesteps=2, encoding=encoding, in_bits=in_bits)
    return QuantizedNetwork(spec, [np.eye(2, dtype=int)] * 2, [np.zeros(2, int)] * 2)


@pytest.mark.parametrize(
    "encoding, x, message",
    [
        ("direct", np.zeros((3, 5), int), "direct input must have shape [B, 2], not [3, 5]"),
        ("direct", np.full((1, 2), 8), "direct input values must lie in [0, 7], not 8"),
        ("direct", np.zeros((1, 2)), "input must hold integers, not dtype float64"),
        ("spikes", np.zeros((3, 1, 2), int),
         "spike input must have shape [2, 'B', 2], not [3, 1, 2]"),
        ("spikes", np.full((2, 1, 2), 2), "spike input values must be 0 or 1"),
    ],
)
def test_input_errors(encoding, x, message):
    net = _tiny(encoding, 3 if encoding == "direct" else 1)
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        run_network(net, x)


def test_no_spike_before_threshold_and_state_starts_at_zero():
    net = _tiny()
    r = run_network(net, np.array([[2, 3]]))
    # I = [2, 3]; k=3: t0 v=[2,3] -> neuron 1 fires (3 >= 3) -> 0; t1 v=[2-0+2, 3] -> both fire
    assert_array_equal(r.spikes[0][:, 0], [[0, 1], [1, 1]])
    assert_array_equal(r.membranes[0][:, 0], [[2, 0], [1, 0]])
