"""LIFLanes (combinational LIF update of ``lanes`` neurons) against golden.lif_step, exactly,
for v1 and every neuron mode the core implements (decay, gt, delayed-reset, cuba)."""

import numpy as np
import pytest
from amaranth.sim import Simulator
from spikefab.fixed import smax, smin
from spikefab.golden import LIFState, lif_step
from spikefab.spec import LIFSpec, SynapseSpec
from spikefab_hdl.core.lif import LIFLanes, LIFPrep, LIFSum, SynapseSum, lif_stages

SPECS = [
    LIFSpec(v_bits=8, theta=20, leak_shift=2, reset="subtract"),
    LIFSpec(v_bits=8, theta=20, leak_shift=None, reset="zero"),
    LIFSpec(v_bits=6, theta=1, leak_shift=0, reset="subtract"),
    LIFSpec(v_bits=12, theta=2047, leak_shift=11, reset="zero"),
    LIFSpec(v_bits=17, theta=2327, leak_shift=3, reset="subtract"),
    LIFSpec(v_bits=2, theta=1, leak_shift=1, reset="zero"),
    # decay: snnTorch's beta 0.9 and 0.95 at q = 12, the extremes d = 0 and d = 2^q, odd q
    LIFSpec(v_bits=10, theta=100, leak_shift=None, decay=410, decay_bits=12),
    LIFSpec(v_bits=16, theta=900, leak_shift=None, reset="zero", decay=205, decay_bits=12),
    LIFSpec(v_bits=8, theta=30, leak_shift=None, decay=0, decay_bits=4),
    LIFSpec(v_bits=8, theta=30, leak_shift=None, decay=16, decay_bits=4, threshold="gt"),
    LIFSpec(v_bits=24, theta=70000, leak_shift=None, decay=65535, decay_bits=16),
    LIFSpec(v_bits=7, theta=9, leak_shift=None, decay=5, decay_bits=3),
    # gt: theta at its top (smax - 1), and theta 1
    LIFSpec(v_bits=8, theta=126, leak_shift=1, threshold="gt"),
    LIFSpec(v_bits=6, theta=1, leak_shift=None, reset="zero", threshold="gt"),
    # delayed-reset: with shift leak, decay, gt, at the rails
    LIFSpec(v_bits=6, theta=10, leak_shift=2, reset="subtract-delayed"),
    LIFSpec(v_bits=8, theta=127, leak_shift=None, reset="subtract-delayed"),
    LIFSpec(v_bits=9, theta=40, leak_shift=None, reset="subtract-delayed", decay=300,
            decay_bits=10, threshold="gt"),
    LIFSpec(v_bits=4, theta=1, leak_shift=0, reset="subtract-delayed", threshold="gt"),
    # cuba: synapses narrower and wider than the membrane, with every other mode
    LIFSpec(v_bits=8, theta=16, leak_shift=None, reset="zero", decay=1, decay_bits=2,
            synapse=SynapseSpec(i_bits=6, decay=1, decay_bits=1)),
    LIFSpec(v_bits=10, theta=60, leak_shift=2, synapse=SynapseSpec(12, 819, 12)),
    LIFSpec(v_bits=12, theta=300, leak_shift=None, reset="subtract-delayed", decay=410,
            threshold="gt", synapse=SynapseSpec(9, 2048, 12)),
    LIFSpec(v_bits=6, theta=5, leak_shift=None, synapse=SynapseSpec(4, 0, 3)),
    LIFSpec(v_bits=16, theta=1000, leak_shift=None, decay=100, decay_bits=10,
            synapse=SynapseSpec(20, 8, 4)),
]


def _vectors(spec: LIFSpec, cur_bits: int, n: int, rng):
    """Membranes (and synaptic currents) over their whole range, edges included, and
    currents over cur_bits."""
    lo, hi = smin(spec.v_bits), smax(spec.v_bits)
    edges = np.array([lo, lo + 1, -1, 0, 1, spec.theta - 1, spec.theta, spec.theta + 1,
                      hi - 1, hi])
    v = rng.integers(lo, hi + 1, n)
    v[: len(edges)] = np.clip(edges, lo, hi)
    clo, chi = smin(cur_bits), smax(cur_bits)
    cur = rng.integers(clo, chi + 1, n)
    cur[: 4] = [clo, chi, 0, -1]
    syn = None
    if spec.synapse is not None:
        ib = spec.synapse.i_bits
        syn = rng.integers(smin(ib), smax(ib) + 1, n)
        syn[-6:] = [smin(ib), smin(ib) + 1, -1, 0, 1, smax(ib)]
    return v.astype(np.int64), cur.astype(np.int64), syn


def _spec_id(s: LIFSpec) -> str:
    parts = [f"v{s.v_bits}", f"t{s.theta}", f"k{s.leak_shift}", s.reset]
    if s.decay is not None:
        parts.append(f"d{s.decay}q{s.decay_bits}")
    if s.threshold == "gt":
        parts.append("gt")
    if s.synapse is not None:
        parts.append(f"i{s.synapse.i_bits}d{s.synapse.decay}q{s.synapse.decay_bits}")
    return "-".join(parts)


def run_lanes(spec: LIFSpec, cur_bits: int, v, cur, syn, lanes: int = 4):
    """``(spikes, v_next, syn_next)`` of LIFLanes on the vectors."""
    dut = LIFLanes(neuron=spec, lanes=lanes, cur_bits=cur_bits)
    got_v, got_s, got_i = [], [], []

    async def bench(ctx):
        for k in range(0, len(v), lanes):
            for j in range(lanes):
                ctx.set(dut.v[j], int(v[k + j]))
                ctx.set(dut.current[j], int(cur[k + j]))
                if syn is not None:
                    ctx.set(dut.syn[j], int(syn[k + j]))
            bits = ctx.get(dut.spikes)
            for j in range(lanes):
                got_v.append(ctx.get(dut.v_next[j]))
                got_s.append((bits >> j) & 1)
                if syn is not None:
                    got_i.append(ctx.get(dut.syn_next[j]))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return np.array(got_s, np.uint8), np.array(got_v, np.int64), np.array(got_i, np.int64)


@pytest.mark.parametrize("spec", SPECS, ids=_spec_id)
def test_lif_lanes_match_golden(spec):
    cur_bits = spec.v_bits + 3  # currents wider than v: saturation both ways
    rng = np.random.default_rng(spec.v_bits * 7 + spec.theta)
    v, cur, syn = _vectors(spec, cur_bits, 256, rng)
    spikes_want, state = lif_step(cur, LIFState(v, syn), spec)
    got_s, got_v, got_i = run_lanes(spec, cur_bits, v, cur, syn)
    np.testing.assert_array_equal(got_s, spikes_want)
    np.testing.assert_array_equal(got_v, state.v)
    if syn is not None:
        np.testing.assert_array_equal(got_i, state.i)


def test_saturation_is_exercised():
    """The vectors above really hit both saturation limits (the test can fail there)."""
    spec = SPECS[0]
    v, cur, _ = _vectors(spec, spec.v_bits + 3, 256, np.random.default_rng(0))
    raw = v - (v >> spec.leak_shift) + cur
    assert (raw > smax(spec.v_bits)).any() and (raw < smin(spec.v_bits)).any()


def test_v1_neurons_have_no_extra_stage():
    """A v1 neuron is the adders and the decision only (the v1 pipeline is unchanged);
    each neuron mode adds only what it needs."""
    assert lif_stages(SPECS[0]) == (LIFSum, lif_stages(SPECS[0])[1])
    assert len(lif_stages(SPECS[12])) == 2  # gt alone
    assert lif_stages(SPECS[6])[0] is LIFPrep  # decay
    assert lif_stages(SPECS[14])[0] is LIFPrep  # delayed-reset
    assert lif_stages(SPECS[18])[:2] == (LIFPrep, SynapseSum)  # cuba


def test_neuron_must_be_a_lifspec():
    with pytest.raises(TypeError, match=r"^neuron must be a LIFSpec, not NoneType$"):
        LIFLanes(neuron=None, lanes=2, cur_bits=8)
