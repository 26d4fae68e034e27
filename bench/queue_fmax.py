"""The spike queue alone on an ECP5-25F: Fmax and LUTs per lanes, two gateware versions.

    python bench/queue_fmax.py [--lanes 16 32 64 128] [--gateware BASE NEW]

The queue of a hidden layer (``SpikeQueue``, ``groups = 4``) with a register on every input
and output (so that nextpnr times register to register), elaborated by each gateware commit
in its worktree (bench/hw_lanes.py's), synthesised with ``synth_ecp5`` (bit-select names
hidden, ``build.yosys_names``) and placed by nextpnr-ecp5 (LFE5U-25F, CABGA381, seed 1,
asked for 250 MHz). Isolates the queue's lowest-spike search from the rest of the core.
Writes bench/results/queue_fmax.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hw_lanes import BASE, worktree
from jobcache import write_results
from spikefab_hdl.build.bitstream import yowasp_env
from spikefab_hdl.build.yosys_names import HIDE_BIT_NAMES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "queue_fmax"

_RTLIL = r"""
import sys
from amaranth import Module, Signal, Value
from amaranth.back import rtlil
from amaranth.lib import wiring
from spikefab_hdl.core.spike_queue import SpikeQueue
lanes, groups = int(sys.argv[1]), 4
q = SpikeQueue(lanes=lanes, groups=groups, index_bits=(groups * lanes - 1).bit_length())
m = Module()
m.submodules.q = q
ports = []
for path, member, sig in q.signature.flatten(q):
    outer = Signal(len(Value.cast(sig)), name="p_" + "_".join(map(str, path)))
    ports.append(outer)
    if member.flow == wiring.In:
        m.d.sync += Value.cast(sig).eq(outer)
    else:
        m.d.sync += outer.eq(Value.cast(sig))
print(rtlil.convert(m, ports=ports, name="top"))
"""


def measure(commit: str, lanes: int) -> dict:
    src = worktree(commit)
    env = {**os.environ, "PYTHONPATH": f"{src / 'python'}:{src / 'hdl'}"}
    il = subprocess.run([sys.executable, "-c", _RTLIL, str(lanes)], env=env, check=True,
                        capture_output=True, text=True).stdout
    tools = yowasp_env()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "top.il").write_text(il)
        subprocess.run([tools["YOSYS"], "-q", "-p", f"read_rtlil top.il; {HIDE_BIT_NAMES}; "
                        "synth_ecp5 -top top -json top.json"], cwd=tmp, env=tools, check=True,
                       capture_output=True)
        subprocess.run([tools["NEXTPNR_ECP5"], "--25k", "--package", "CABGA381", "--json",
                        "top.json", "--freq", "250", "--seed", "1", "--timing-allow-fail",
                        "--report", "report.json", "-q", "-l", "pnr.log"], cwd=tmp, env=tools,
                       check=True, capture_output=True)
        rep = json.loads((Path(tmp) / "report.json").read_text())
    return {"gateware": commit, "lanes": lanes,
            "fmax_mhz": round(min(v["achieved"] for v in rep["fmax"].values()), 2),
            "lut": rep["utilization"]["TRELLIS_COMB"]["used"],
            "ff": rep["utilization"]["TRELLIS_FF"]["used"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lanes", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--gateware", nargs=2, default=None, help=f"default {BASE} and HEAD")
    args = ap.parse_args(argv)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    commits = args.gateware or [BASE, head]
    rows = []
    for lanes in args.lanes:
        for c in commits:
            try:
                rows.append(measure(c, lanes))
            except subprocess.CalledProcessError as e:
                err = (e.stderr or "").strip().splitlines()
                rows.append({"gateware": c, "lanes": lanes,
                             "status": (err or ["failed"])[-1][:200]})
            print(rows[-1], flush=True)
    head_row = "| lanes | " + " | ".join(f"{c}: Fmax MHz, LUT, FF" for c in commits) + " |"
    lines = ["# Spike queue alone: Fmax per lanes", "", __doc__.split("\n\n", 2)[2].strip(),
             "", head_row, "|---|" + "---|" * len(commits)]
    for lanes in args.lanes:
        cells = []
        for c in commits:
            r = next(r for r in rows if r["gateware"] == c and r["lanes"] == lanes)
            cells.append(r.get("status") or f"{r['fmax_mhz']:.1f}, {r['lut']}, {r['ff']}")
        lines.append(f"| {lanes} | " + " | ".join(cells) + " |")
    write_results(RESULTS, {"rows": rows, "gateware": commits}, "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
