"""Per-layer lanes and spike masks ``K`` wide (core/lanes.py, the integrator's adder tree, the
spike queue's chunks): exact against golden in amaranth.sim, the cycles the bound counts,
the memory layout, ``auto`` under a budget, and the refusals."""

import numpy as np
import pytest
from goldcheck import assert_core_equals_golden
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.spec import LIFSpec, SynapseSpec
from spikefab_hdl.core.adder_tree import tree_schedule
from spikefab_hdl.core.lanes import (
    DEFAULT_BUDGET,
    MAX_LANES,
    MAX_MASK,
    auto_lanes,
    estimate_cost,
    estimate_cycles,
    lanes_label,
    resolve_lanes,
)
from spikefab_hdl.core.layout import pack_rows
from spikefab_hdl.core.network import NetworkCore
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.sim.bound import event_bound
from spikefab_hdl.sim.pysim import simulate_amaranth
from spikefab_hdl.sim.randnet import make_spec, random_input, random_network, random_neuron


def test_mask_rows_hold_k_inputs_per_row():
    w = np.arange(5 * 7).reshape(5, 7) - 17  # [n_out 5, n_in 7]
    rows = pack_rows(w, lanes=2, mask=3)  # G = 3, chunks = 3
    assert rows.shape == (3 * 3, 3 * 2)
    for c in range(3):
        for g in range(3):
            for k in range(3):
                for j in range(2):
                    o, i = g * 2 + j, c * 3 + k
                    want = w[o, i] if o < 5 and i < 7 else 0
                    assert rows[c * 3 + g, k * 2 + j] == want
    np.testing.assert_array_equal(pack_rows(w, 2, 1), pack_rows(w, 2))


def _mixed_case(seed: int):
    """A random dense net, 2-3 spiking layers, random per-layer lanes and mask widths."""
    rng = np.random.default_rng(700 + seed)
    readout = "spikes" if seed % 2 else "current"
    direct = seed % 3 == 0
    sizes = [int(rng.integers(4, 12))] + [int(rng.integers(6, 20)) for _ in range(2)] + [4]
    spiking = len(sizes) - 2 + (readout == "spikes")
    neurons = [random_neuron(rng, modes=("decay", "gt", "cuba") if seed % 4 == 1 else ())
               for _ in range(spiking)]
    spec = make_spec(sizes, encoding="direct" if direct else "spikes", in_bits=3,
                     timesteps=int(rng.integers(2, 5)), w_bits=8, neurons=neurons,
                     readout=readout)
    net = random_network(spec, seed)
    prev = int(2 ** rng.integers(0, 5))
    lanes = [prev]
    for _ in sizes[2:]:
        own = int(rng.integers(1, 9))
        k = int(rng.choice([d for d in range(1, prev + 1) if prev % d == 0]))
        lanes.append(own if k == 1 else f"{own}x{k}")
        prev = own
    return net, random_input(spec, 3, seed, rate=0.5), lanes


#: Seeds whose every layer both spikes and stays silent (direct: 0, 6; spiking readout: 7,
#: 13, 19; neuron modes: 13; masks 2..8 wide).
SEEDS = (0, 6, 7, 10, 13, 19, 20, 26)


@pytest.mark.parametrize("seed", SEEDS)
def test_mixed_lanes_and_masks_match_golden(seed):
    net, x, lanes = _mixed_case(seed)
    gold = run_network(net, x)
    res = simulate_amaranth(net, x, lanes=lanes, idle=0.2, stall=0.2, seed=seed)
    assert_core_equals_golden(res, gold)
    np.testing.assert_array_equal(res["cycles"], res["wall_cycles"])
    b = event_bound(net, x, lanes=lanes)
    assert (res["cycles"] >= b["lower"]).all(), (lanes, res["cycles"], b["lower"])


def test_mixed_cases_use_masks_and_spike():
    used = set()
    for seed in SEEDS:
        net, x, lanes = _mixed_case(seed)
        used |= {k for _, k in resolve_lanes(net, lanes)}
        assert all(0 < s.mean() < 1 for s in run_network(net, x).spikes), seed
    assert max(used) >= 4 and 1 in used


def _saturating_net(w_value: int, bias: int):
    """Input spikes -> 16 hidden neurons that always fire (bias >= theta) -> a summing
    readout whose every weight is ``w_value``: each step the readout adds 16 extreme
    weights, a chunk sum of 16 * w_value (12 bits for 8-bit weights)."""
    spec = make_spec((4, 16, 3), timesteps=3, w_bits=8, b_bits=12,
                     neurons=[LIFSpec(6, 1, None, "zero")])
    w0 = np.zeros((16, 4), np.int64)
    w1 = np.full((3, 16), w_value, np.int64)
    b0 = np.full(16, 5, np.int64)
    b1 = np.array([bias, 0, -bias], np.int64)
    return QuantizedNetwork(spec, (w0, w1), (b0, b1), {"source": "test"})


@pytest.mark.parametrize("w_value,bias", [(-128, -2047), (127, 2047), (-128, 2047)])
def test_adder_tree_is_exact_at_the_rails(w_value, bias):
    """Every chunk sum at the extreme of its width, currents at the edge of cur_bits."""
    net = _saturating_net(w_value, bias)
    x = np.ones((3, 2, 4), np.int64)
    gold = run_network(net, x)
    assert gold.spikes[0].all()
    lanes = [4, "4x16"]
    with pytest.raises(ValueError, match="must divide layer 0's lanes 4"):
        resolve_lanes(net, lanes)
    for lanes in ([16, "4x16"], [16, "2x8"], [16, "3x4"]):
        res = simulate_amaranth(net, x, lanes=lanes)
        assert_core_equals_golden(res, gold)
    assert gold.logits[0, 0, 0] == 16 * w_value + bias


def test_a_chunk_costs_what_one_spike_costs():
    """16 always-firing neurons into the readout: 16 events a step at K = 1, one at K = 16;
    the bound counts exactly that, and the cycles follow it."""
    net = _saturating_net(3, 0)
    x = np.ones((3, 1, 4), np.int64)
    one = event_bound(net, x, lanes=[16, "3x1"])
    wide = event_bound(net, x, lanes=[16, "3x16"])
    assert (int(one["spike_work"][0]), int(wide["spike_work"][0])) == (3 * 16, 3 * 1)
    c_one = simulate_amaranth(net, x, lanes=[16, 3], trace=False)["cycles"][0]
    c_wide = simulate_amaranth(net, x, lanes=[16, "3x16"], trace=False)["cycles"][0]
    assert c_one - c_wide >= 30, (c_one, c_wide)  # of the 45 events saved (layers overlap)


def test_forms_of_lanes_resolve_alike():
    spec = make_spec((6, 8, 4, 3), neurons=[LIFSpec(8, 9, 2), LIFSpec(8, 9, 2)])
    net = random_network(spec, 1)
    want = ((8, 1), (4, 8), (2, 2))
    for form in ([8, "4x8", "2x2"], "8,4x8,2x2", [8, (4, 8), (2, 2)], [(8, 1), "4X8", "2x2"]):
        assert resolve_lanes(net, form) == want
    assert resolve_lanes(net, 4) == ((4, 1),) * 3 == resolve_lanes(net, "4")
    assert resolve_lanes(net, [4]) == ((4, 1),) * 3
    assert lanes_label(want) == "8,4x8,2x2" and lanes_label(((4, 1),) * 3) == "4"
    plan = plan_core(net, lanes=want)
    assert [(lp.lanes, lp.mask, lp.groups) for lp in plan.layers] == [(8, 1, 1), (4, 8, 1),
                                                                     (2, 2, 2)]
    assert plan.to_dict()["lanes"] == "8,4x8,2x2"
    assert plan_core(net, lanes=4).to_dict()["lanes"] == 4


@pytest.mark.parametrize("lanes,message", [
    ([8, "4x8"], "lanes lists one entry per layer (3) or one for all, not 2: [8, '4x8']"),
    ([8, "4x3", 2], "lanes entry of layer 1 (4x3): the mask width must divide layer 0's "
                    "lanes 8 (allowed: 1, 2, 4, 8)"),
    (["2x2", 4, 2], "lanes entry of layer 0 (2x2): a first layer with spike input or a conv "
                    "first layer takes one event a cycle (mask width 1)"),
    ([8, "4y8", 2], f"lanes entry of layer 1 must be L or 'LxK' with L in [1, {MAX_LANES}] "
                    f"and K in [1, {MAX_MASK}], not '4y8'"),
    ([8, 129, 2], f"lanes entry of layer 1 must be L or 'LxK' with L in [1, {MAX_LANES}] and "
                 f"K in [1, {MAX_MASK}], not 129"),
    ("fast", f"lanes must be an integer in [1, {MAX_LANES}], a list of one 'L' or 'LxK' per "
             "layer, or 'auto', not 'fast'"),
    (0, f"lanes must be an integer in [1, {MAX_LANES}], not 0"),
])
def test_bad_lanes_are_refused_in_one_line(lanes, message):
    spec = make_spec((6, 8, 4, 3), neurons=[LIFSpec(8, 9, 2), LIFSpec(8, 9, 2)])
    net = random_network(spec, 1)
    with pytest.raises(ValueError) as e:
        NetworkCore(net=net, lanes=lanes)
    assert str(e.value) == message


def test_conv_layers_take_one_event_a_cycle():
    from spikefab_hdl.sim.randnet import make_conv_spec
    spec = make_conv_spec(image=(1, 6, 6), convs=[(2, 3, 1, 0)], dense=[5, 3], timesteps=2,
                          neurons=[LIFSpec(8, 9, 2), LIFSpec(8, 9, 2)])
    net = random_network(spec, 2)
    with pytest.raises(ValueError, match=r"layer 1 \(4x2\): a conv layer or one fed by a conv"):
        resolve_lanes(net, [2, "4x2", 2])


def test_auto_fits_the_budget_and_balances():
    spec = make_spec((784, 128, 10), encoding="direct", in_bits=4, w_bits=8, b_bits=16,
                     neurons=[LIFSpec(16, 100, 3)])
    net = random_network(spec, 0)
    boards = {"25f": DEFAULT_BUDGET, "up5k": {"family": "ice40", "lut": 5280, "bram": 30,
                                              "dsp": 8},
              "85f": {"family": "ecp5", "lut": 83640, "bram": 208, "dsp": 156}}
    plans = {}
    for name, budget in boards.items():
        items = auto_lanes(net, budget)
        cost = estimate_cost(net, items, budget["family"])
        assert cost["dsp"] <= budget["dsp"], name
        plans[name] = items
        if name == "up5k":  # the weights alone need 199 blocks: nothing fits, all at 1
            assert items == ((1, 1), (1, 1))
            continue
        assert cost["lut"] <= 0.85 * budget["lut"] and cost["bram"] <= budget["bram"] - 2
        # no plan of uniform lanes that fits is estimated faster (powers of two, as auto's;
        # 28 lanes on the 25F's 28 DSPs is not one of its plans)
        for lanes in (1, 2, 4, 8, 16, 32, 64, 128):
            uniform = ((min(lanes, 1 << (budget["dsp"].bit_length() - 1)), 1), (lanes, 1))
            c = estimate_cost(net, uniform, budget["family"])
            if c["lut"] <= 0.85 * budget["lut"] and c["bram"] <= budget["bram"] - 2:
                assert estimate_cycles(net, items) <= estimate_cycles(net, uniform), (name, lanes)
        assert items[1][1] > 1  # the readout takes spike masks
    assert resolve_lanes(net, "auto") == plans["25f"]
    assert plans["85f"][0][0] > plans["25f"][0][0]


def test_mask_layers_match_golden_with_cuba_synapses_saturating():
    spec = make_spec((8, 12, 6), encoding="direct", in_bits=3, timesteps=3, readout="spikes",
                     neurons=[LIFSpec(8, 30, 2),
                              LIFSpec(7, 12, None, synapse=SynapseSpec(5, 1, 1))])
    net = random_network(spec, 5)
    x = random_input(spec, 3, 5)
    gold = run_network(net, x)
    top = (1 << 4) - 1
    assert (gold.synapses[1] == top).any() and (gold.synapses[1] == -top - 1).any()
    res = simulate_amaranth(net, x, lanes=[16, "8x16"], stall=0.3, seed=1)
    assert_core_equals_golden(res, gold)


def test_default_budget_is_the_ulx3s_25f():
    from spikefab_hdl.build.cli import board_budget
    board = board_budget("ulx3s-25f")
    assert {k: board[k] for k in DEFAULT_BUDGET} == DEFAULT_BUDGET


@pytest.mark.parametrize("lanes", [[32, "8x32"], [32, 8], [8, "8x8"], 4])
def test_the_bound_follows_a_direct_core_within_1_2(lanes):
    """Wide lanes and masks leave little work per step, so the pipelines' fill shows: the
    bound counts it (``latency``) and stays within 1.2x of the cycles both ways."""
    spec = make_spec((32, 24, 6), encoding="direct", in_bits=3, timesteps=4,
                     neurons=[LIFSpec(10, 30, 2)])
    net = random_network(spec, 2)
    x = random_input(spec, 4, 2)
    res = simulate_amaranth(net, x, lanes=lanes, trace=False)
    b = event_bound(net, x, lanes=lanes)
    ratio = res["cycles"] / b["bound"]
    assert (ratio <= 1.2).all() and (ratio >= 1 / 1.2).all(), ratio
    assert (res["cycles"] >= b["lower"]).all()


def test_no_integrator_proof_claims_a_mask_layer():
    from spikefab_hdl.formal.integrator import integrator_proofs
    spec = make_spec((6, 8, 4), neurons=[LIFSpec(8, 9, 2)])
    plan = plan_core(random_network(spec, 1), lanes=[8, "4x8"])
    assert integrator_proofs(plan.layers[1]) == []
    assert len(integrator_proofs(plan_core(random_network(spec, 1), lanes=8).layers[1])) == 1


def test_the_tree_is_registered_in_balanced_stages():
    """At most ``tree_levels`` levels a stage, the fewest stages, the odd level late; 2 levels
    a stage on an ECP5 core (``bram_outreg``), 3 otherwise, or the planner's override."""
    want = {2: ([1], [1]), 8: ([3], [1, 2]), 16: ([2, 2], [2, 2]), 32: ([2, 3], [1, 2, 2]),
            64: ([3, 3], [2, 2, 2]), 128: ([2, 2, 3], [1, 2, 2, 2])}
    for k, (three, two) in want.items():
        assert (tree_schedule(k, 3), tree_schedule(k, 2)) == (three, two), k
    spec = make_spec((32, 24, 6), encoding="direct", in_bits=3, neurons=[LIFSpec(10, 30, 2)])
    net = random_network(spec, 2)
    levels = [plan_core(net, lanes=[32, "8x32"], **kw).layers[1].tree_levels
              for kw in ({}, {"bram_outreg": True}, {"bram_outreg": True, "tree_levels": 1})]
    assert levels == [3, 2, 1]
    with pytest.raises(ValueError) as e:
        plan_core(net, lanes=[32, "8x32"], tree_levels=0)
    assert str(e.value) == "tree_levels must be an integer >= 1, not 0"


def test_an_ecp5_core_s_deeper_tree_is_exact_and_counted():
    """64-wide masks at 2 levels a stage: three tree stages instead of two, and a skid buffer
    before the mask layer; the core stays exact, takes two cycles more per step in the mask
    layer, and the bound counts them."""
    spec = make_spec((64, 64, 6), encoding="direct", in_bits=3, timesteps=4,
                     neurons=[LIFSpec(10, 30, 2)])
    net = random_network(spec, 2)
    x = random_input(spec, 3, 2)
    gold = run_network(net, x)
    lanes = [64, "6x64"]
    fast = simulate_amaranth(net, x, lanes=lanes, bram_outreg=True)
    assert_core_equals_golden(fast, gold)
    slow = simulate_amaranth(net, x, lanes=lanes, trace=False)
    bounds = [event_bound(net, x, lanes=lanes, bram_outreg=r)["bound"] for r in (False, True)]
    # layer 1's tree: 3 + 3 levels -> 2 + 2 + 2, and its skid buffer (core.skid): two cycles
    # in each of the T = 4 steps (layer 0's second product register, once per sample,
    # overlaps layer 1's first step); layer 0's skid: one cycle once per sample (direct)
    assert (bounds[1] - bounds[0] == 9).all(), bounds
    assert (fast["cycles"] > slow["cycles"]).all()
    for res, b in ((slow, bounds[0]), (fast, bounds[1])):
        ratio = res["cycles"] / b
        assert (ratio <= 1.2).all() and (ratio >= 1 / 1.2).all(), ratio
