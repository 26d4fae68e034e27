"""LIFLanes (combinational LIF update of ``lanes`` neurons) against golden.lif_step, exactly."""

import numpy as np
import pytest
from amaranth.sim import Simulator
from spikefab.fixed import smax, smin
from spikefab.golden import LIFState, lif_step
from spikefab.spec import LIFSpec
from spikefab_hdl.core.lif import LIFLanes

SPECS = [
    LIFSpec(v_bits=8, theta=20, leak_shift=2, reset="subtract"),
    LIFSpec(v_bits=8, theta=20, leak_shift=None, reset="zero"),
    LIFSpec(v_bits=6, theta=1, leak_shift=0, reset="subtract"),
    LIFSpec(v_bits=12, theta=2047, leak_shift=11, reset="zero"),
    LIFSpec(v_bits=17, theta=2327, leak_shift=3, reset="subtract"),
    LIFSpec(v_bits=2, theta=1, leak_shift=1, reset="zero"),
]


def _vectors(spec: LIFSpec, cur_bits: int, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Membranes over the whole v_bits range (edges included) and currents over cur_bits."""
    lo, hi = smin(spec.v_bits), smax(spec.v_bits)
    edges = np.array([lo, lo + 1, -1, 0, 1, spec.theta - 1, spec.theta, hi - 1, hi])
    v = rng.integers(lo, hi + 1, n)
    v[: len(edges)] = np.clip(edges, lo, hi)
    clo, chi = smin(cur_bits), smax(cur_bits)
    cur = rng.integers(clo, chi + 1, n)
    cur[: 4] = [clo, chi, 0, -1]
    return v.astype(np.int64), cur.astype(np.int64)


def _spec_id(s: LIFSpec) -> str:
    return f"v{s.v_bits}-t{s.theta}-k{s.leak_shift}-{s.reset}"


@pytest.mark.parametrize("spec", SPECS, ids=_spec_id)
def test_lif_lanes_match_golden(spec):
    lanes, cur_bits = 4, spec.v_bits + 3  # currents wider than v: saturation both ways
    dut = LIFLanes(neuron=spec, lanes=lanes, cur_bits=cur_bits)
    rng = np.random.default_rng(spec.v_bits * 7 + spec.theta)
    v, cur = _vectors(spec, cur_bits, 256, rng)
    spikes_want, state = lif_step(cur, LIFState(v), spec)
    got_v, got_s = [], []

    async def bench(ctx):
        for k in range(0, len(v), lanes):
            for j in range(lanes):
                ctx.set(dut.v[j], int(v[k + j]))
                ctx.set(dut.current[j], int(cur[k + j]))
            bits = ctx.get(dut.spikes)
            for j in range(lanes):
                got_v.append(ctx.get(dut.v_next[j]))
                got_s.append((bits >> j) & 1)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    np.testing.assert_array_equal(np.array(got_s, np.uint8), spikes_want)
    np.testing.assert_array_equal(np.array(got_v, np.int64), state.v)


def test_saturation_is_exercised():
    """The vectors above really hit both saturation limits (the test can fail there)."""
    spec = SPECS[0]
    v, cur = _vectors(spec, spec.v_bits + 3, 256, np.random.default_rng(0))
    raw = v - (v >> spec.leak_shift) + cur
    assert (raw > smax(spec.v_bits)).any() and (raw < smin(spec.v_bits)).any()


def test_neuron_must_be_a_lifspec():
    with pytest.raises(TypeError, match=r"^neuron must be a LIFSpec, not NoneType$"):
        LIFLanes(neuron=None, lanes=2, cur_bits=8)
