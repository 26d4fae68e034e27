"""Synthesise an Amaranth design with the board build's YoWASP yosys, for tests that read the
netlist: RTLIL in, the board build's bit-name pass, a ``synth_*`` command, JSON out."""

import json
import subprocess

from amaranth.back import rtlil
from spikefab_hdl.build.bitstream import yowasp_env
from spikefab_hdl.build.yosys_names import HIDE_BIT_NAMES


def synth_top(top, tmp_path, synth: str, *, after_read: str = HIDE_BIT_NAMES,
              extra: str = "") -> dict:
    """``top`` through ``read_rtlil; after_read; synth; write_json; extra``: the JSON's
    ``top`` module (``extra``: more yosys commands after the JSON, e.g. ``write_verilog``)."""
    (tmp_path / "dut.il").write_text(rtlil.convert(top, name="top"))
    env = yowasp_env()
    script = f"read_rtlil dut.il; {after_read}; {synth}; write_json dut.json; {extra}"
    proc = subprocess.run([env["YOSYS"], "-q", "-p", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((tmp_path / "dut.json").read_text())["modules"]["top"]
