"""Real bitstream builds with the YoWASP tools: one per FPGA family, a small network each.

iCE40 through the command line (``python -m spikefab_hdl build``, what ``make
bitstream`` runs), ECP5 through :func:`spikefab_hdl.build.bitstream.build_bitstream`. Each checks
the bitstream's sync preamble, that report.json holds the numbers the tools printed
(resources used and available, Fmax against the board clock) and that the small design
fits and meets the board clock. The network is tiny (16-6-3) to keep the place and route
short; the first YoWASP run on a machine also compiles the tools (about 90 s).
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from spikefab.ir import QuantizedNetwork
from spikefab.protocol import network_id
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec
from spikefab_hdl.build.bitstream import build_bitstream

ROOT = Path(__file__).resolve().parents[1]
#: Sync words: iCE40 ``7E AA 99 7E``; ECP5 ``FF FF BD B3`` after its comment block.
PREAMBLE = {"ice40": b"\x7e\xaa\x99\x7e", "ecp5": b"\xff\xff\xbd\xb3"}


def _small_net():
    spec = NetworkSpec(
        layers=(LayerSpec(16, 6, w_bits=5, b_bits=6,
                          neuron=LIFSpec(v_bits=10, theta=12, leak_shift=2)),
                LayerSpec(6, 3, w_bits=5, b_bits=6)),
        timesteps=3, encoding="direct", in_bits=4,
    )
    rng = np.random.default_rng(5)
    ws = [rng.integers(-15, 16, (la.n_out, la.n_in)) for la in spec.layers]
    bs = [rng.integers(-30, 30, la.n_out) for la in spec.layers]
    return QuantizedNetwork(spec, ws, bs)


def _check_report(rep: dict, out: Path, *, board: str, family: str, clk_mhz: float, net):
    assert rep["board"] == board and rep["family"] == family
    assert rep["net_id"] == f"{network_id(net):08x}"
    assert rep["network"]["sizes"] == [16, 6, 3]
    res, util = rep["resources"], rep["nextpnr_utilization"]
    lut_cell = "ICESTORM_LC" if family == "ice40" else "TRELLIS_COMB"
    assert res["lut"]["used"] == util[lut_cell]["used"] > 0
    assert res["lut"]["available"] == util[lut_cell]["available"]
    assert res["lut"]["percent"] == round(100 * res["lut"]["used"] / res["lut"]["available"], 1)
    assert 0 < res["ff"]["used"] <= res["ff"]["available"]
    for name in ("bram", "dsp"):
        assert 0 <= res[name]["used"] <= res[name]["available"]
    assert res["bram"]["available"] == (30 if family == "ice40" else 56)
    assert res["spram"]["available"] == (4 if family == "ice40" else 0)
    clock = rep["clock"]
    assert clock["board_mhz"] == clk_mhz
    assert clock["met"] is True and clock["fmax_mhz"] >= clk_mhz
    bit = (out / rep["bitstream"]).read_bytes()
    assert len(bit) > 10_000 and PREAMBLE[family] in bit[:4096]
    assert json.loads((out / "report.json").read_text()) == rep


def test_ice40_bitstream_via_cli(tmp_path):
    net = _small_net()
    tmp_path = tmp_path / "a föld er"  # the tools take paths with spaces and any letters
    net.save(tmp_path / "small")
    r = subprocess.run(
        [sys.executable, "-m", "spikefab_hdl", "build", "--board", "icebreaker",
         "--ir", str(tmp_path / "small.json"), "-o", str(tmp_path / "bits")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("icebreaker (iCE40UP5K-SG48): lut ")
    assert r.stdout.count("\n") == 1 and "board clock 12.0 MHz" in r.stdout
    out = tmp_path / "bits" / "icebreaker"
    rep = json.loads((out / "report.json").read_text())
    assert rep["bitstream"] == "spikefab.bin"
    _check_report(rep, out, board="icebreaker", family="ice40", clk_mhz=12.0, net=net)


def test_ecp5_bitstream(tmp_path):
    net = _small_net()
    rep = build_bitstream(net, "ulx3s-25f", out_root=tmp_path)
    assert rep["bitstream"] == "spikefab.bit" and rep["device"] == "LFE5U-25F-6BG381"
    _check_report(rep, tmp_path / "ulx3s-25f", board="ulx3s-25f", family="ecp5",
                  clk_mhz=25.0, net=net)


def test_ecp5_bitstream_from_the_pll(tmp_path):
    # the EHXPLLL at 75 MHz from the ULX3S's 25 MHz: nextpnr derives the output clock's
    # constraint from the dividers, so Fmax is checked (and placed for) against 75 MHz
    net = _small_net()
    rep = build_bitstream(net, "ulx3s-25f", out_root=tmp_path, clock_mhz=75)
    assert rep["pll"] == {"clki_div": 1, "clkfb_div": 3, "clkop_div": 8, "mhz": 75.0}
    _check_report(rep, tmp_path / "ulx3s-25f", board="ulx3s-25f", family="ecp5",
                  clk_mhz=75.0, net=net)
    tim = (tmp_path / "ulx3s-25f" / "work" / "spikefab.tim").read_text()
    assert "Derived frequency constraint of 75.0 MHz" in tim, tim[:3000]
    assert re.search(r"Max frequency for clock '[^']*': [\d.]+ MHz \(PASS at 75\.00 MHz\)",
                     tim), tim[-2000:]


def test_ecp5_bitstream_routed_by_router2(tmp_path):
    net = _small_net()
    rep = build_bitstream(net, "ulx3s-25f", out_root=tmp_path, router="router2")
    assert rep["router"] == "router2"
    _check_report(rep, tmp_path / "ulx3s-25f", board="ulx3s-25f", family="ecp5",
                  clk_mhz=25.0, net=net)
    work = tmp_path / "ulx3s-25f" / "work"
    assert "--router router2" in (work / "build_spikefab.sh").read_text()
    tim = (work / "spikefab.tim").read_text()
    # (router2 routes; router1 then only checks that the routing is legal)
    assert "Running router2..." in tim and "Router2 time" in tim, tim[-3000:]
