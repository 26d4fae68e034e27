"""Lanes sweep: LUT/DSP/BRAM, Fmax, cycles, latency per lanes; two gateware versions side by side.

    python bench/hw_lanes.py [--rows net:board:lanes ...] [--gateware BASE NEW] [--images N]
                             [--reuse] [--report-only [--partial]]

A row is one network (bench/hw.py's digits or mnist5k model) at one ``lanes`` on one board,
measured for each gateware commit (default: the commit this checkout was cloned from, and
HEAD): the commit is checked out in a git worktree under build/bench/hw_lanes/src/ and its
own code runs the measurement in a subprocess (its ``build_bitstream``: the whole UART board
top through yosys and nextpnr, seed 1; its ``run_native``: Verilator cycles on the first
``--images`` test images, every prediction and accumulator compared with golden). A version
that refuses a row (lanes above its limit, a network that does not fit) is reported with its
one-line reason. Runs are cached in build/bench/hw_lanes/runs.jsonl (bench/jobcache.py) under
the job (net, board, lanes, commit, images), so nothing is recomputed; a build takes minutes
(MNIST-5k at lanes 64: ~10 min on one core), so run it under ``nice`` and one at a time.

Writes bench/results/hw_lanes.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from jobcache import RunCache, add_flags, code_hash, gather, write_results

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bench" / "hw_lanes"
RESULTS = ROOT / "bench" / "results" / "hw_lanes"
#: the gateware before issue 22 item 3 (main when this bench was written)
BASE = "c706871"
#: MNIST-5k: lanes 16 on the 25F (32 needs 57 block RAMs of its 56), 64 and 128 on the 85F;
#: digits: lanes 4 on the UP5K (79.7 % of its LUTs before, docs/hardware.md), 64 and 128 on the
#: 25F (more products than its 28 DSPs)
DEFAULT_ROWS = ["mnist5k:orangecrab-25f:16", "mnist5k:orangecrab-25f:32", "mnist5k:ulx3s-85f:64",
                "mnist5k:ulx3s-85f:128", "digits:icebreaker:4", "digits:ulx3s-25f:64",
                "digits:ulx3s-25f:128"]

# Runs in the worktree's interpreter path: only APIs the base commit has too.
_MEASURE = r"""
import json, sys, time
import numpy as np
import spikefab_hdl
from spikefab import trained
from spikefab.golden import run_network
from spikefab_hdl.build.bitstream import build_bitstream
from spikefab_hdl.sim.native import run_native
job, out = json.loads(sys.argv[1]), sys.argv[2]
assert spikefab_hdl.__file__.startswith(sys.argv[3]), spikefab_hdl.__file__
net, x, y = trained.load(job["net"])
res = {}
try:
    rep = build_bitstream(net, job["board"], lanes=job["lanes"], out_root=out + "/bits")
    res["status"] = "ok"
except Exception as e:  # the row records why a version refuses or fails it
    res["status"] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
    try:
        rep = json.load(open(out + "/bits/" + job["board"] + "/report.json"))
    except OSError:
        rep = None
if rep is not None:
    res["resources"] = rep["resources"]
    res["clock"] = rep["clock"]
    res["build_seconds"] = rep["build_seconds"]
if res["status"] == "ok" or (rep is not None and rep["clock"] is not None):
    xs = x[: job["images"]]
    t0 = time.time()
    nat = run_native(net, xs, lanes=job["lanes"], build_dir=out + "/native")
    g = run_network(net, xs)
    agree = int(((nat["prediction"] == g.prediction) & (nat["acc"] == g.acc).all(1)).sum())
    res.update(cycles_mean=float(nat["cycles"].mean()), cycles_max=int(nat["cycles"].max()),
               rtl_agree=f"{agree}/{len(xs)}", sim_seconds=round(time.time() - t0, 1))
print("RESULT " + json.dumps(res))
"""


def worktree(commit: str) -> Path:
    """A checkout of ``commit`` (created once) whose code a job runs."""
    path = WORK / "src" / commit
    if not (path / "hdl").is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", "-f", str(path), commit],
                       cwd=ROOT, check=True, capture_output=True)
    return path


def measure(job: dict) -> dict:
    """Build and simulate one row with one gateware commit (see the module docstring)."""
    src = worktree(job["gateware"])
    out = WORK / "runs" / f"{job['net']}-{job['board']}-l{job['lanes']}-{job['gateware']}"
    env = {**os.environ, "PYTHONPATH": f"{src / 'python'}:{src / 'hdl'}"}
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps(job), str(out),
                           str(src)], cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        res = {"status": "bench failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]}
    else:
        res = json.loads(lines[-1][len("RESULT "):])
    return {**job, **res, "wall_s": round(time.time() - t0, 1)}


def _fmt_row(r: dict) -> list[str]:
    res, clk = r.get("resources"), r.get("clock")

    def used(k):
        return f"{res[k]['used']}/{res[k]['available']}" if res else "-"

    fmax = clk["fmax_mhz"] if clk else None
    cyc = r.get("cycles_mean")
    return [r["net"], r["board"], str(r["lanes"]), r["gateware"],
            r["status"] if len(r["status"]) <= 70 else r["status"][:67] + "...",
            used("lut"), used("dsp"), used("bram"),
            f"{fmax:.1f}" if fmax else "-", f"{cyc:,.0f}" if cyc else "-",
            f"{cyc / fmax:.2f}" if cyc and fmax else "-", r.get("rtl_agree", "-"),
            f"{r['build_seconds']:.0f}" if r.get("build_seconds") else "-"]


HEAD = ["net", "board", "lanes", "gateware", "status", "LUT", "DSP", "BRAM", "Fmax MHz",
        "cycles/inf", "µs @Fmax", "RTL = golden", "build s"]


def markdown(rows: list[dict], missing: list[dict], meta: dict) -> str:
    lines = ["# Lanes sweep: resources, Fmax, cycles", "",
             "Generated by `python bench/hw_lanes.py`. Each row is measured with each gateware "
             "commit in its own worktree (same nextpnr seed 1, same board top): resources and "
             "Fmax from nextpnr, cycles per inference from Verilator on the first "
             f"{meta['images']} test images (every prediction and accumulator = golden), "
             "µs = cycles ÷ Fmax (compute only).", "",
             "| " + " | ".join(HEAD) + " |", "|" + "|".join("---" for _ in HEAD) + "|"]
    lines += ["| " + " | ".join(_fmt_row(r)) + " |" for r in rows]
    if missing:
        lines += ["", "Not measured yet: " + ", ".join(
            f"{j['net']}:{j['board']}:{j['lanes']}@{j['gateware']}" for j in missing) + "."]
    lines += ["", f"Gateware: {', '.join(meta['gateware'])}. Machine wall time of the runs "
              f"in this table: {sum(r.get('wall_s', 0) for r in rows):,.0f} s."]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", nargs="+", default=DEFAULT_ROWS, help="net:board:lanes ...")
    ap.add_argument("--gateware", nargs="+", default=None,
                    help=f"commits to compare (default {BASE} and HEAD)")
    ap.add_argument("--images", type=int, default=100, help="test images simulated per row")
    add_flags(ap)
    args = ap.parse_args(argv)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.strip()
    commits = args.gateware or [BASE, head]
    jobs = []
    for row in args.rows:
        net, board, lanes = row.split(":")
        jobs += [{"net": net, "board": board, "lanes": int(lanes), "gateware": c,
                  "images": args.images} for c in commits]
    cache = RunCache(WORK / "runs.jsonl", code_hash([__file__]))

    def done(job, res, i, n):
        print(f"[{i}/{n}] {job['net']}:{job['board']}:{job['lanes']}@{job['gateware']}: "
              f"{res['status']} ({res['wall_s']} s)", flush=True)

    rows, missing = gather(cache, jobs, measure, 1, print, args, done=done,
                           describe=lambda j: json.dumps(j))
    meta = {"images": args.images, "gateware": commits}
    write_results(RESULTS, {"rows": rows, "missing": missing, **meta},
                  markdown(rows, missing, meta))
    print(markdown(rows, missing, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
