"""yosys 0.70's ABC9 stops on wires named like bit selects; every synthesis we run hides them.

The reproducer is ten lines of Verilog (a register ``x``, a register named ``x[1]``, an
adder between them): ``read_verilog; synth_ecp5`` stops in ABC9's reintegration with the
assertion the MNIST-5k core at lanes 64 stopped on after ~10 min; with
:data:`~spikefab_hdl.build.yosys_names.HIDE_BIT_NAMES` after the read it synthesises. The
board builds run the command right after reading the design (their yosys script).
"""

import subprocess

from spikefab_hdl.board.definitions import get_board
from spikefab_hdl.build.bitstream import NAME, yosys_overrides, yowasp_env
from spikefab_hdl.build.yosys_names import HIDE_BIT_NAMES

REPRODUCER = r"""
module top(input clk, input [3:0] a, input [1:0] b, output reg [1:0] y);
  reg [3:0] x;
  reg [1:0] \x[1] ;
  always @(posedge clk) begin
    x <= a;
    \x[1] <= b;
    y <= (x[1:0] + x[3:2]) ^ \x[1] ;
  end
endmodule
"""
ASSERTION = "Assert `GetSize(conn.first) == GetSize(conn.second)' failed"


def _synth(tmp_path, after_read: str) -> tuple[int, str]:
    (tmp_path / "top.v").write_text(REPRODUCER)
    env = yowasp_env()
    script = f"read_verilog top.v; {after_read} synth_ecp5 -top top"
    proc = subprocess.run([env["YOSYS"], "-q", "-l", "yosys.log", "-p", script],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, (tmp_path / "yosys.log").read_text()


def test_bit_select_names_stop_abc9(tmp_path):
    rc, log = _synth(tmp_path, "")
    assert rc != 0
    assert ASSERTION in log and "ABC" in log[log.rindex("Executing"):]


def test_hidden_names_synthesise(tmp_path):
    rc, log = _synth(tmp_path, f"{HIDE_BIT_NAMES};")
    assert rc == 0, log[-2000:]
    assert "TRELLIS_FF" in log and "CCU2C" in log


def test_board_scripts_hide_the_names_after_reading(tmp_path):
    from amaranth import Elaboratable, Module

    class Blinky(Elaboratable):
        def elaborate(self, platform):
            return Module()

    for board, spram in (("icebreaker", False), ("icebreaker", True), ("ulx3s-25f", False)):
        platform = get_board(board).make_platform()
        plan = platform.prepare(Blinky(), name=NAME,
                                **yosys_overrides(get_board(board).family, spram=spram))
        ys = plan.files[f"{NAME}.ys"]
        read = ys.index("read_rtlil")
        assert ys.index(HIDE_BIT_NAMES) > read
        assert ys.index(HIDE_BIT_NAMES) < ys.index("synth_")
