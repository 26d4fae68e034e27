"""Pixel chunks: a direct first layer taking ``K`` values of a packed beat a cycle (lanes entry
``LxK`` on layer 0, core/lanes.py; the integrator's products and adder tree, the packed input
adapter's chunks): exact against golden in amaranth.sim, the cycles the bound counts, the
planner, and the refusals."""

import numpy as np
import pytest
from goldcheck import assert_core_equals_golden
from spikefab.golden import run_network
from spikefab.spec import LIFSpec
from spikefab_hdl.core.lanes import auto_lanes, estimate_cost, resolve_lanes
from spikefab_hdl.core.network import NetworkCore
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.sim.bound import event_bound
from spikefab_hdl.sim.pysim import simulate_amaranth
from spikefab_hdl.sim.randnet import make_conv_spec, make_spec, random_input, random_network

ICE40 = {"family": "ice40", "lut": 5280, "bram": 30, "dsp": 8}


def _case(seed: int):
    rng = np.random.default_rng(900 + seed)
    k = int(rng.choice([2, 4, 8]))
    pack = k * int(rng.integers(1, 3))
    n_in = int(rng.integers(k + 1, 4 * k + 3))  # often not a multiple of K: a chunk straddles
    spec = make_spec((n_in, int(rng.integers(5, 14)), 4), encoding="direct",
                     in_bits=int(rng.integers(2, 6)), timesteps=int(rng.integers(2, 4)),
                     w_bits=int(rng.integers(4, 9)), neurons=[LIFSpec(10, 24, 2)])
    net = random_network(spec, seed)
    x = random_input(spec, 5, seed)
    x[:, : n_in // 3] = 0  # whole chunks of zeros, skipped
    lanes = [f"{int(rng.integers(1, 6))}x{k}", int(rng.integers(1, 5))]
    dsp = int(rng.integers(0, 12))  # some products in logic (shifts and adds)
    return net, x, lanes, pack, dsp


@pytest.mark.parametrize("seed", range(6))
def test_pixel_chunks_equal_golden_and_follow_the_bound(seed):
    net, x, lanes, pack, dsp = _case(seed)
    gold = run_network(net, x)
    res = simulate_amaranth(net, x, lanes=lanes, in_pack=pack, dsp=dsp, idle=0.3, stall=0.3,
                            seed=seed)
    assert_core_equals_golden(res, gold)
    fast = simulate_amaranth(net, x, lanes=lanes, in_pack=pack, dsp=dsp, trace=False)
    np.testing.assert_array_equal(fast["acc"], gold.acc)
    b = event_bound(net, x, lanes=lanes, in_pack=pack)
    ratio = fast["cycles"] / b["bound"]
    assert (ratio <= 1.2).all() and (ratio >= 1 / 1.2).all(), ratio
    assert (fast["cycles"] >= b["lower"]).all()


def test_a_chunk_costs_the_groups_once_whatever_its_nonzero_values():
    """The bound's input work counts nonzero chunks: K = 4 over 8 values with one nonzero value
    in each half costs two chunks, as does one with all eight nonzero."""
    spec = make_spec((8, 6, 3), encoding="direct", in_bits=3, timesteps=2,
                     neurons=[LIFSpec(8, 9, 2)])
    net = random_network(spec, 1)
    x = np.zeros((3, 8), np.int64)
    x[0, [0, 4]] = 5
    x[1] = 1
    x[2, 0] = 7  # one chunk
    b = event_bound(net, x, lanes=["3x4", 3], in_pack=8)
    np.testing.assert_array_equal(b["input_work"], [2 * 2, 2 * 2, 2])
    one = event_bound(net, x, lanes=[3, 3], in_pack=8)
    np.testing.assert_array_equal(one["input_work"], [2 * 2, 8 * 2, 2])
    res = simulate_amaranth(net, x, lanes=["3x4", 3], in_pack=8, trace=False)
    np.testing.assert_array_equal(res["acc"], run_network(net, x).acc)


def test_products_beyond_the_dsps_are_logic_per_lane_and_value():
    spec = make_spec((16, 8, 3), encoding="direct", in_bits=4, neurons=[LIFSpec(10, 20, 2)])
    net = random_network(spec, 2)
    lp = plan_core(net, lanes=["4x4", 3], in_pack=8, dsp=5).layers[0]
    assert (lp.lanes * lp.mask, lp.logic_lanes) == (16, 11)
    # ECP5: one product a DSP; iCE40 two (SB_MAC16 dual 8x8): 8 DSPs hold all 16 there
    cost = estimate_cost(net, ((4, 4), (3, 1)), "ecp5", dsp=8)
    assert cost["dsp"] == 8
    assert cost["lut"] > estimate_cost(net, ((4, 4), (3, 1)), "ecp5")["lut"]
    assert estimate_cost(net, ((4, 4), (3, 1)), "ice40", dsp=8) == \
        estimate_cost(net, ((4, 4), (3, 1)), "ice40")


@pytest.mark.parametrize(("lanes", "pack", "message"), [
    (["2x4", 2], 6, "lanes entry of layer 0 (2x4): the pixel-chunk width must divide in_pack 6 "
                    "(allowed: 1, 2, 3, 6)"),
    (["2x3", 2], 1, "lanes entry of layer 0 (2x3): the pixel-chunk width must divide in_pack 1 "
                    "(allowed: 1)"),
])
def test_a_chunk_that_does_not_divide_in_pack_is_refused(lanes, pack, message):
    spec = make_spec((12, 6, 3), encoding="direct", in_bits=3, neurons=[LIFSpec(8, 9, 2)])
    with pytest.raises(ValueError) as e:
        NetworkCore(net=random_network(spec, 1), lanes=lanes, in_pack=pack)
    assert str(e.value) == message


def test_a_conv_first_layer_takes_one_value_a_cycle():
    spec = make_conv_spec(image=(1, 6, 6), convs=[(2, 3, 1, 1, 2)], dense=[3], timesteps=2,
                          encoding="direct", in_bits=3)
    with pytest.raises(ValueError, match="a first layer with spike input or a conv first layer"):
        resolve_lanes(random_network(spec, 1), ["2x2", 2], in_pack=6)


def test_auto_takes_pixel_chunks_only_when_the_input_is_packed():
    """The digits shape (64-128-10, 4-bit direct) on the UP5K's budget: with in_pack 8 the
    planner takes chunks on layer 0 (its work is the input's); at in_pack 1 it cannot."""
    # 7-bit weights: the currents of the trained digits net (16 and 13 bits)
    spec = make_spec((64, 128, 10), encoding="direct", in_bits=4, timesteps=4, w_bits=7,
                     neurons=[LIFSpec(17, 2000, 3)])
    net = random_network(spec, 1)
    assert (net.current_bits(0), net.current_bits(1)) == (16, 13)
    packed = auto_lanes(net, ICE40, in_pack=8)
    assert packed[0][1] > 1, packed
    assert auto_lanes(net, ICE40)[0][1] == 1
    assert resolve_lanes(net, "auto", budget=ICE40, in_pack=8) == packed


def test_the_fit_check_elaborates_a_chunk_plan_with_its_in_pack():
    from spikefab_hdl.board.definitions import get_board
    from spikefab_hdl.build.fit import check_network
    spec = make_spec((64, 32, 10), encoding="direct", in_bits=4, timesteps=2,
                     neurons=[LIFSpec(12, 200, 3)])
    net = random_network(spec, 3)
    board = get_board("icebreaker")
    est = check_network(board, net, lanes=((2, 8), (10, 1)), in_pack=8)
    w = next(m for m in est["memories"] if m["path"].endswith("layer0/integrator/weights/bank0"))
    assert (w["width"], w["depth"]) == (2 * 8 * spec.layers[0].w_bits, 8 * 16)
    with pytest.raises(ValueError, match="pixel-chunk width must divide in_pack 1"):
        check_network(board, net, lanes=((2, 8), (10, 1)))


def test_a_pixel_chunk_layer_has_its_integrator_proof():
    """formal/rmw_chunk.py; proven in tests/test_formal_rmw_chunk.py."""
    from spikefab_hdl.formal.rmw import rmw_proofs
    spec = make_spec((16, 8, 3), encoding="direct", in_bits=4, neurons=[LIFSpec(10, 20, 2)])
    plan = plan_core(random_network(spec, 1), lanes=["2x4", 3], in_pack=8)
    (proof,) = rmw_proofs(plan.layers[0])
    assert proof.name == "layer0.integrator" and proof.mode == "prove"
    assert "direct, pixel chunks 4 wide; any lane" in proof.what
    assert len(rmw_proofs(plan.layers[1])) >= 1


@pytest.mark.parametrize("seed", range(3))
def test_pixel_chunks_on_an_ecp5_core_equal_golden(seed):
    """An ECP5 core (``bram_outreg``): the packed adapter's event from registers set a cycle
    ahead (``input_adapter._registered_event``), the pass's enables from copies; exact, and
    the bound still follows (products in logic, ``dsp=0``: no MULT18X18D model in Amaranth's
    simulator)."""
    net, x, lanes, pack, _ = _case(seed)
    gold = run_network(net, x)
    res = simulate_amaranth(net, x, lanes=lanes, in_pack=pack, dsp=0, idle=0.3, stall=0.6,
                            seed=seed, bram_outreg="always")
    assert_core_equals_golden(res, gold)
    fast = simulate_amaranth(net, x, lanes=lanes, in_pack=pack, dsp=0, trace=False,
                             bram_outreg="always")
    np.testing.assert_array_equal(fast["acc"], gold.acc)
    ratio = fast["cycles"] / event_bound(net, x, lanes=lanes, in_pack=pack,
                                         bram_outreg="always")["bound"]
    assert (ratio <= 1.2).all() and (ratio >= 1 / 1.2).all(), ratio
