"""Packed direct input (``in_pack``): several values per beat, zeros kept from the integrator.

Exact against golden in amaranth.sim for dense and conv first layers, packs that do and do
not divide ``n_in``, with idle input cycles and output backpressure; the cycles it saves on
sparse input; the bound counting empty beats; one-line refusals.
"""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from spikefab.golden import run_network
from spikefab_hdl.core.input_pack import check_in_pack, pack_values
from spikefab_hdl.core.network import NetworkCore
from spikefab_hdl.sim.bound import event_bound
from spikefab_hdl.sim.pysim import simulate_amaranth
from spikefab_hdl.sim.randnet import make_conv_spec, make_spec, random_input, random_network

DENSE = make_spec((13, 9, 4), encoding="direct", in_bits=3, timesteps=2)
CONV = make_conv_spec((2, 4, 6), [(3, 3, 1, 1, 2)], [5], encoding="direct", in_bits=4,
                      timesteps=2)


def _sparse(spec, batch, seed, zeros):
    x = random_input(spec, batch, seed)
    x[np.random.default_rng(seed).random(x.shape) < zeros] = 0
    x[0] = 0  # an all-zero sample
    return x


def _exact(res, gold):
    assert_array_equal(res["prediction"], gold.prediction)
    assert_array_equal(res["acc"], gold.acc)
    if "spikes" in res:  # with the trace ports
        assert_array_equal(res["logits"], gold.logits)
        for got, want in zip(res["spikes"], gold.spikes, strict=True):
            assert_array_equal(got, want)
        for got, want in zip(res["membranes"], gold.membranes, strict=True):
            assert_array_equal(got, want)


@pytest.mark.parametrize(("spec", "pack", "lanes"), [
    (DENSE, 2, 1), (DENSE, 3, 3), (DENSE, 5, 4), (DENSE, 13, 2),
    (CONV, 2, 1), (CONV, 3, 2), (CONV, 6, 3),
])
def test_packed_input_is_exact(spec, pack, lanes):
    net = random_network(spec, 4)
    x = _sparse(spec, 5, pack, 0.5)
    res = simulate_amaranth(net, x, lanes=lanes, in_pack=pack, idle=0.3, stall=0.3, seed=pack)
    _exact(res, run_network(net, x))
    assert (event_bound(net, x, lanes=lanes, in_pack=pack)["lower"] <= res["cycles"]).all()


def test_packing_saves_the_zero_beats():
    """A sparse image: at 1 value a beat every zero costs a cycle; at 8 only the beats."""
    spec = make_spec((64, 16, 4), encoding="direct", in_bits=4, timesteps=1)
    net = random_network(spec, 1)
    x = _sparse(spec, 4, 1, 0.9)
    cycles = {}
    for pack in (1, 8):
        res = simulate_amaranth(net, x, lanes=16, in_pack=pack, trace=False)
        _exact(res, run_network(net, x))
        cycles[pack] = res["cycles"]
        assert (event_bound(net, x, lanes=16, in_pack=pack)["lower"] <= res["cycles"]).all()
    nonzero = (x != 0).sum(axis=1)
    # 64 beats of one value against 8 of eight: at most one cycle per nonzero value is
    # not saved (it fills a cycle that a zero beat filled at in_pack 1)
    assert (cycles[1] - cycles[8] >= 64 - 8 - nonzero).all(), (cycles, nonzero)
    assert cycles[1][0] - cycles[8][0] == 64 - 8  # the all-zero sample


def test_the_bound_counts_the_empty_beats():
    net = random_network(DENSE, 0)
    x = _sparse(DENSE, 3, 2, 0.6)
    zeros = (x == 0).sum(axis=1)
    g0 = -(-9 // 2)
    one = event_bound(net, x, lanes=2)
    assert_array_equal(one["input_work"], (x != 0).sum(axis=1) * g0 + zeros)
    packed = event_bound(net, x, lanes=2, in_pack=13)
    assert_array_equal(packed["input_work"], np.maximum((x != 0).sum(axis=1) * g0, 1))


def test_pack_values_layout():
    assert pack_values([1, 2, 3], 4, 2) == [0x21, 0x3]
    assert pack_values([7, 0, 5, 1], 3, 4) == [7 | 5 << 6 | 1 << 9]
    assert pack_values([3], 2, 1) == [3]


def test_bad_packs_are_refused_in_one_line():
    spikes = make_spec((8, 4, 2))
    cases = [
        (DENSE, 0, "in_pack must be an integer in [1, 64], not 0"),
        (DENSE, 65, "in_pack must be an integer in [1, 64], not 65"),
        (DENSE, True, "in_pack must be an integer in [1, 64], not True"),
        (spikes, 2, "in_pack 2 packs direct input values; a network with encoding 'spikes' "
                    "takes one address per beat (in_pack 1)"),
        (CONV, 4, "in_pack 4 must divide the conv input width 6 (a beat holds values of one "
                  "image row)"),
    ]
    for spec, pack, msg in cases:
        with pytest.raises(ValueError) as err:
            check_in_pack(spec, pack)
        assert str(err.value) == msg
        with pytest.raises(ValueError) as err:
            NetworkCore(net=random_network(spec, 0), lanes=2, in_pack=pack)
        assert str(err.value) == msg
    assert check_in_pack(DENSE, np.int64(4)) == 4
