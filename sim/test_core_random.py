"""(b) Random networks over several specs in Verilator: every spike, membrane and logit exact.

One Verilator build per distinct network (``build/sim/random-<id>/``). The specs cover
widths from 2-bit inputs to 24-bit membranes, leaks None / 0 / k, both resets, lanes
1/2/4/8, both encodings, one and two hidden layers, a readout-only network, ragged last
groups, and weights over the full ``w_bits`` range against small ``v_bits`` so that
membranes saturate. The cocotb side is ``core_tb.core_golden_test``.
"""

import numpy as np
import pytest
import simlib
from spikeforge.golden import run_network
from spikeforge.spec import LIFSpec
from spikeforge_hdl.randnet import make_spec, random_input, random_network

CASES = {
    "spikes-2hidden-l1": (dict(sizes=(12, 16, 8, 5), timesteps=4, w_bits=6,
                               neurons=[LIFSpec(8, 20, 2), LIFSpec(6, 10, 0, "zero")]), 1),
    "direct-noleak-zero-l2": (dict(sizes=(16, 20, 6), encoding="direct", in_bits=4,
                                   timesteps=3, neurons=[LIFSpec(10, 90, None, "zero")]), 2),
    "spikes-saturating-l8": (dict(sizes=(20, 30, 10), timesteps=5, w_bits=8,
                                  neurons=[LIFSpec(7, 12, 1)]), 8),
    "direct-2hidden-l4": (dict(sizes=(10, 13, 9, 4), encoding="direct", in_bits=2, timesteps=2,
                               neurons=[LIFSpec(12, 40, 3), LIFSpec(5, 3, 4, "zero")]), 4),
    "spikes-readout-only-l4": (dict(sizes=(8, 3), timesteps=3), 4),
    "direct-wide-l8": (dict(sizes=(24, 40, 12), encoding="direct", in_bits=6, timesteps=6,
                            w_bits=12, b_bits=20, neurons=[LIFSpec(24, 30000, 5)]), 8),
}
BATCH = 24


def _case(name):
    kwargs, lanes = CASES[name]
    spec = make_spec(**kwargs)
    seed = sorted(CASES).index(name) + 1
    return random_network(spec, seed), random_input(spec, BATCH, seed), lanes, seed


def test_cases_exercise_what_they_claim():
    """Saturation at both ends and spiking/silence really happen in these networks."""
    hit_low = hit_high = False
    for name in CASES:
        net, x, _lanes, _seed = _case(name)
        gold = run_network(net, x)
        for layer, v, s in zip(net.spec.hidden, gold.membranes, gold.spikes, strict=True):
            lo, hi = -(1 << (layer.neuron.v_bits - 1)), (1 << (layer.neuron.v_bits - 1)) - 1
            hit_low |= bool((v == lo).any())
            hit_high |= bool((v == hi - layer.neuron.theta).any() or (v == hi).any())
            assert 0 < s.mean() < 1, f"{name}: layer never or always spikes"
    assert hit_low and hit_high


@pytest.mark.parametrize("name", sorted(CASES))
def test_core_random_runner(name):
    net, x, lanes, seed = _case(name)
    summary = simlib.run_core_bench(net, x, name=f"random-{name}", lanes=lanes,
                                    idle=0.25, stall=0.3, seed=seed)
    assert summary["samples"] == BATCH
    assert len(summary["cycles"]) == BATCH and min(summary["cycles"]) > 0
    assert np.isfinite(summary["sim_cycles"])
