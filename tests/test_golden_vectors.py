"""The golden model reproduces every hand-checked vector exactly."""

import numpy as np
from numpy.testing import assert_array_equal
from spikefab.golden import LIFState, lif_init, lif_step, run_network


def test_lif_vector(lif_vector):
    spec = lif_vector["spec"]
    state = lif_init((), spec)
    spikes, vs, syn = [], [], []
    for current in lif_vector["current"]:
        s, state = lif_step(np.int64(current), state, spec)
        spikes.append(int(s))
        vs.append(int(state.v))
        syn.append(None if state.i is None else int(state.i))
    assert_array_equal(spikes, lif_vector["spikes"])
    assert_array_equal(vs, lif_vector["v"])
    if lif_vector["i"] is None:
        assert set(syn) == {None}
    else:
        assert_array_equal(syn, lif_vector["i"])


def test_network_vector(network_vector):
    v = network_vector
    r = run_network(v["net"], v["input"])
    assert len(r.spikes) == len(v["spikes"])
    for got, want in zip(r.spikes, v["spikes"], strict=True):
        assert_array_equal(got, want)
    for got, want in zip(r.membranes, v["membranes"], strict=True):
        assert_array_equal(got, want)
    for got, want in zip(r.synapses, v["synapses"], strict=True):
        assert (got is None) == (want is None)
        if want is not None:
            assert_array_equal(got, want)
    assert_array_equal(r.logits, v["logits"])
    assert_array_equal(r.acc, v["acc"])
    assert_array_equal(r.prediction, v["prediction"])


def test_state_is_a_tuple():
    s, state = lif_step(np.array([1, 2]), LIFState(np.array([0, 0])), _spec())
    assert isinstance(state, LIFState)
    assert s.dtype == np.uint8


def _spec():
    from spikefab.spec import LIFSpec

    return LIFSpec(v_bits=8, theta=2, leak_shift=None, reset="zero")
