"""MULT18X18D products with the block's own registers (core/mult18x18d.py): the model against
yosys's own ECP5 mapping of a multiply (its netlist simulated in Icarus with the model), the
registered instances against the products they stand for, yosys keeping their parameters,
the plan's choice and the model in the simulation Verilog.
(Exactness of a core built this way: sim/core_cases.py's OUTREG cases, Verilator and Icarus.)"""

import re
import shutil
import subprocess

import pytest
from amaranth import Module, Signal, signed, unsigned
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from spikefab_hdl.build.verilog import write_verilog
from spikefab_hdl.core import mult18x18d
from spikefab_hdl.core.integrator import dsp_registers, product_latency
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.sim.randnet import make_spec, random_network
from yosys_synth import synth_top


class _Mul(wiring.Component):
    """``p = w * x`` (``registered``: the block's registers, two cycles; else a plain
    multiply, combinational, as yosys maps it)."""

    def __init__(self, w_bits, x_bits, registered):
        self.registered = registered
        super().__init__({"w": In(signed(w_bits)), "x": In(unsigned(x_bits)),
                          "p": Out(signed(36))})

    def elaborate(self, platform):
        m = Module()
        if self.registered:
            (p,) = mult18x18d.products(m, "mult", [(self.w, self.x)])
            m.d.comb += self.p.eq(p)
        else:
            m.d.sync += Signal().eq(0)  # a clock port, as the registered one has
            m.d.comb += self.p.eq(self.w * self.x)
        return m


# Operands from a linear congruential walk plus both ends of each range; the product checked
# ``LAT`` cycles after its operands.
_BENCH = """
module bench;
  reg clk = 0, rst = 0;
  reg [WB-1:0] w = 0;
  reg [XB-1:0] x = 0;
  wire [35:0] p;
  top dut(.clk(clk), .rst(rst), .w(w), .x(x), .p(p));
  integer i, k, bad = 0, checked = 0;
  reg [31:0] seed = 1;
  reg signed [35:0] want [0:2];
  initial begin
    for (i = 0; i < N + LAT; i = i + 1) begin
      for (k = 2; k > 0; k = k - 1) want[k] = want[k - 1];
      seed = seed * 1664525 + 1013904223;
      w = (i < 4) ? ((i & 1) ? {1'b1, {WB-1{1'b0}}} : {1'b0, {WB-1{1'b1}}}) : seed[31:32-WB];
      x = (i < 4) ? ((i & 2) ? {XB{1'b1}} : 0) : seed[XB-1:0] ^ seed[31:32-XB];
      want[0] = $signed(w) * $signed({1'b0, x});
      #1;
      if (i >= LAT) begin
        if ($signed(p) !== want[LAT]) bad = bad + 1;
        checked = checked + 1;
      end
      clk = 1;
      #1 clk = 0;
    end
    $display("checked %0d bad %0d", checked, bad);
    $finish;
  end
endmodule
"""


def _run(tmp_path, text, w_bits, x_bits, latency, n=20000) -> tuple[str, str]:
    assert shutil.which("iverilog") and shutil.which("vvp"), "Icarus Verilog is missing"
    bench = _BENCH.replace("WB", str(w_bits)).replace("XB", str(x_bits)) \
        .replace("LAT", str(latency)).replace("N + ", f"{n} + ")
    (tmp_path / "dut.v").write_text(text + bench)
    proc = subprocess.run(["iverilog", "-g2005", "-o", "sim.vvp", "-s", "bench", "dut.v"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = subprocess.run(["vvp", "-n", "sim.vvp"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300).stdout
    return re.search(r"checked (\d+) bad (\d+)", out).groups()


def _synth(top, tmp_path, out: str) -> dict:
    return synth_top(top, tmp_path, "synth_ecp5 -top top", extra=f"write_verilog -noattr {out}")


@pytest.mark.parametrize(("w_bits", "x_bits"), [(7, 4), (18, 17)])
def test_model_matches_yosys_s_own_mapping_of_a_multiply(tmp_path, w_bits, x_bits):
    """yosys maps ``w * x`` (signed x unsigned) to a MULT18X18D with no register; its netlist,
    simulated with :data:`mult18x18d.MODEL` (the netlist's only cell), computes the product:
    the model reads the pins and SIGNEDA/SIGNEDB as yosys drives them (yosys ships no
    simulation model of the primitive, only a black box)."""
    mod = _synth(_Mul(w_bits, x_bits, registered=False), tmp_path, "net.v")
    cells = [c for c in mod["cells"].values() if c["type"] == "MULT18X18D"]
    assert len(cells) == 1
    assert {k: cells[0]["parameters"].get(k, "NONE") for k in ("REG_INPUTA_CLK",
            "REG_OUTPUT_CLK")} == {"REG_INPUTA_CLK": "NONE", "REG_OUTPUT_CLK": "NONE"}
    assert [c["type"] for c in mod["cells"].values()] == ["MULT18X18D"]  # nothing else
    text = (tmp_path / "net.v").read_text() + mult18x18d.MODEL
    assert _run(tmp_path, text, w_bits, x_bits, 0) == ("20000", "0")


@pytest.mark.parametrize(("w_bits", "x_bits"), [(7, 4), (12, 6), (18, 17)])
def test_registered_instances_make_the_product_two_cycles_later(tmp_path, w_bits, x_bits):
    text = mult18x18d.with_model(verilog.convert(_Mul(w_bits, x_bits, registered=True),
                                                 name="top", emit_src=False))
    assert text.count("MULT18X18D ") == 1 + 1  # the instance and the model
    assert _run(tmp_path, text, w_bits, x_bits, 2) == ("20000", "0")
    # one cycle early is wrong: the check can fail
    assert _run(tmp_path, text, w_bits, x_bits, 1)[1] != "0"


def test_yosys_keeps_the_registers_in_the_block(tmp_path):
    mod = _synth(_Mul(12, 6, registered=True), tmp_path, "net.v")
    types = [c["type"] for c in mod["cells"].values()]
    assert types.count("MULT18X18D") == 1
    assert "TRELLIS_FF" not in types  # no fabric register on the path
    (cell,) = [c for c in mod["cells"].values() if c["type"] == "MULT18X18D"]
    assert {k: cell["parameters"][k] for k in mult18x18d.PARAMETERS} == mult18x18d.PARAMETERS


def test_wide_or_unsigned_operands_are_refused():
    m = Module()
    with pytest.raises(ValueError, match=r"^a MULT18X18D product takes a signed weight of at "
                                         r"most 18 bits and an unsigned value of at most 17, "
                                         r"not signed\(8\) x unsigned\(18\)$"):
        mult18x18d.products(m, "p", [(Signal(signed(8)), Signal(unsigned(18)))])


def _net(w_bits=8, in_bits=4):
    spec = make_spec((9, 7, 3), encoding="direct", in_bits=in_bits, w_bits=w_bits)
    return random_network(spec, seed=2)


def test_plan_uses_the_block_registers_on_ecp5_builds_only():
    net = _net()
    lp = plan_core(net, lanes=3, bram_outreg="always").layers[0]
    assert dsp_registers(lp) and product_latency(lp) == 2
    assert not dsp_registers(plan_core(net, lanes=3).layers[0])
    assert not dsp_registers(plan_core(net, lanes=3, bram_outreg="always").layers[1])  # spikes
    assert not dsp_registers(plan_core(net, lanes=3, mac8x8=True).layers[0])
    assert not mult18x18d.widths_fit(8, 18) and mult18x18d.widths_fit(18, 17)


def test_the_simulation_verilog_carries_the_model_once(tmp_path):
    net = _net()
    v, _ = write_verilog(net, tmp_path / "a", lanes=3, dsp=2, bram_outreg="always")
    text = v.read_text()
    assert text.count("module MULT18X18D(") == 1 and text.count("MULT18X18D ") == 3
    assert mult18x18d.with_model(text) == text
    v, _ = write_verilog(net, tmp_path / "b", lanes=3)
    assert "MULT18X18D" not in v.read_text()
