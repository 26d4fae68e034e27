"""Digits on the iCE40 UP5K (iCEBreaker): where the cycles and the logic go, plan by plan.

    python bench/up5k.py [--images N] [--plans 2 4,2x4 ...] [--synth PLAN ...]
                         [--build PLAN ...] [--keep]

For the trained digits model (64-128-10, T=4, 4-bit direct input, ``in_pack = 8``), each
``--lanes`` plan (``core.lanes``: ``LxK`` per layer; on layer 0 ``K`` is the pixel-chunk
width, on the readout the spike-mask width):

* **cycles**: the core without trace ports, its products placed as the board build places
  them (``_dsp``), in Verilator (``sim.native``: input always valid, output always ready;
  the SB_MAC16 model simulated) on every test image: cycles mean and max, every prediction and
  accumulator against golden, ``event_bound`` (the pipeline over the steps) and the ratio;
  and where the cycles go, means over the images (``event_bound``'s parts): layer 0's input
  work (its nonzero ``K``-value chunks x ``G_0``, once per sample), the spike work into the
  readout per step (events x ``G_1``), the passes (``T x G_l`` rows).
* **synth** (``--synth``): yosys ``synth_ice40 -noflatten`` of the core alone (no board
  top; ``-dsp`` only when the core infers its DSPs, as the board build), cells per
  submodule: SB_LUT4, flip-flops, SB_CARRY, SB_RAM40_4K, SB_MAC16.
* **build** (``--build``): the board top placed and routed for the iCEBreaker
  (``build_bitstream``, nextpnr seed 1; the products on the UP5K's 8 DSPs two a block,
  SB_MAC16 dual 8x8, the rest in logic): logic cells, block RAMs, DSPs and Fmax from
  nextpnr, or the tool's refusal.
  A build is reused when the board top's RTLIL and the build sources are unchanged.

Every row names the gateware commit it was measured on. ``--keep``: the saved rows of plans
not measured now stay (each with its own commit; the synth rows of a plan go together).

Writes bench/results/up5k.{json,md}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from amaranth.back import rtlil
from decay_cost import yowasp_env
from jobcache import gateware_note, gateware_version, markdown_table, write_results
from spikefab import trained
from spikefab.atomic import atomic_write_text
from spikefab.golden import run_network
from spikefab.golden.layers import pass_on
from spikefab_hdl.board.definitions import get_board
from spikefab_hdl.board.top import BoardTop
from spikefab_hdl.build.bitstream import build_bitstream, yosys_overrides
from spikefab_hdl.build.tool_report import BuildError, FitError, TimingError
from spikefab_hdl.build.yosys_names import HIDE_BIT_NAMES
from spikefab_hdl.core.lanes import lanes_label, resolve_lanes
from spikefab_hdl.core.network import NetworkCore
from spikefab_hdl.core.sb_mac16 import network_fits
from spikefab_hdl.sim.bound import event_bound
from spikefab_hdl.sim.native import run_native

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bench" / "up5k"
OUT = ROOT / "bench" / "results" / "up5k"
BOARD = "icebreaker"
PACK = 8
#: The issue's "today": digits on the iCEBreaker at lanes 2 (bench/results/hw.md).
TODAY = 3328
PLANS = ["2", "4,2x4", "4,10", "2x4,10", "2x8,4x2", "2x8,8", "2x8,10", "4x4,10", "4x8,10"]
CELLS = {"LUT4": "SB_LUT4", "carry": "SB_CARRY", "BRAM": "SB_RAM40_4K", "DSP": "SB_MAC16"}


def _budget() -> dict:
    board = get_board(BOARD)
    return {"family": board.family, **board.capacity}


def _dsp(net) -> dict:
    """The products as the board build places them: the UP5K's 8 DSPs, two products a block
    (SB_MAC16 dual 8x8, ``core.sb_mac16``) where the widths fit, the rest in logic."""
    return {"dsp": _budget()["dsp"], "mac8x8": network_fits(net)}


def cycles_row(net, x, plan: str) -> dict:
    """Verilator cycles, agreement and where the cycles go for one plan."""
    items = resolve_lanes(net, plan, budget=_budget(), in_pack=PACK)
    label = lanes_label(items)
    nat = run_native(net, x, lanes=items, build_dir=WORK / "native" / label.replace(",", "_"),
                     in_pack=PACK, **_dsp(net))
    gold = run_network(net, x)
    agree = int(((nat["prediction"] == gold.prediction) & (nat["acc"] == gold.acc).all(1)).sum())
    b = event_bound(net, x, lanes=items, in_pack=PACK)
    c = nat["cycles"]
    spec, steps = net.spec, net.spec.timesteps
    seen = pass_on(spec.layers[0], gold.spikes[0].reshape(-1, spec.layers[0].n_out))
    k1 = items[1][1]
    seen = np.pad(seen, ((0, 0), (0, -seen.shape[1] % k1)))
    events = seen.reshape(seen.shape[0], -1, k1).any(axis=2).reshape(steps, len(x), -1).sum(2)
    g0, g1 = b["groups"]
    row = {
        "plan": plan, "lanes": label, "images": int(c.size),
        "cycles": float(c.mean()), "max": int(c.max()),
        "speed_up": TODAY / float(c.mean()),
        "bound": float(b["bound"].mean()),
        "ratio_min": float((c / b["bound"]).min()), "ratio_max": float((c / b["bound"]).max()),
        "rtl_golden": f"{agree}/{c.size}", "rtl_all_agree": agree == c.size,
        "input_work": float(b["input_work"].mean()),
        "passes_l0": steps * g0, "passes_l1": steps * g1, "G0": g0, "G1": g1,
        "latency": float(b["latency"].mean()),
    }
    for t in range(steps):
        row[f"spikes_t{t}"] = float((events[t] * g1).mean())
    return row


def _stat(log: str) -> dict:
    """Cells per module of the last ``stat`` in a yosys log."""
    text = log[log.rindex("Printing statistics"):]
    out = {}
    for block in re.split(r"\n=== ", text)[1:]:
        name = block.split(" ===")[0].strip()
        if name == "design hierarchy":
            name = "total"
        cells = {c: int(n) for n, c in re.findall(r"^\s+(\d+)\s+(\S+)\s*$", block, re.M)}
        row = {key: cells.get(cell, 0) for key, cell in CELLS.items()}
        row["FF"] = sum(n for c, n in cells.items() if re.fullmatch(r"SB_DFF\w*", c))
        out[name.removeprefix("dut.") if name != "dut" else "core (own logic)"] = row
    return out


def synth_rows(net, plan: str) -> list[dict]:
    """``synth_ice40 -noflatten`` of the core alone, per submodule (reused when the
    core's RTLIL is unchanged)."""
    items = resolve_lanes(net, plan, budget=_budget(), in_pack=PACK)
    core = NetworkCore(net=net, lanes=items, trace=False, in_pack=PACK, **_dsp(net))
    il = rtlil.convert(core, name="dut")
    key = hashlib.sha256(re.sub(r'attribute \\src "[^"]*"\n', "", il).encode()).hexdigest()
    cached = WORK / "synth" / f"{lanes_label(items).replace(',', '_')}-{key[:16]}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    env = yowasp_env()
    opts = yosys_overrides("ice40", spram=False, dsp=not _dsp(net)["mac8x8"])["synth_opts"]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "dut.il").write_text(il)
        proc = subprocess.run(
            [env["YOSYS"], "-q", "-l", "log.txt", "-p",
             f"read_rtlil dut.il; {HIDE_BIT_NAMES}; synth_ice40 {opts} -noflatten -top dut; "
             "stat"],
            cwd=tmp, env=env, capture_output=True, text=True, timeout=3600)
        if proc.returncode:
            raise SystemExit(f"yosys failed on {plan}: {proc.stderr.strip()[-300:]}")
        cells = _stat((Path(tmp) / "log.txt").read_text())
    rows = [{"plan": plan, "module": name, **row} for name, row in cells.items()]
    cached.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cached, json.dumps(rows))
    return rows


def _key(net, items) -> str:
    """Hash of the board top's RTLIL (source locations left out) and the build sources."""
    board = get_board(BOARD)
    top = BoardTop(net=net, clk_hz=board.clk_hz, lanes=items, n_leds=len(board.leds),
                   in_pack=PACK, **_dsp(net))
    il = re.sub(r'attribute \\src "[^"]*"\n', "", rtlil.convert(top, name="top"))
    h = hashlib.sha256(il.encode())
    src = ROOT / "hdl" / "spikefab_hdl"
    for f in ("board/definitions.py", "build/bitstream.py", "build/tool_report.py",
              "build/yosys_names.py", "build/fit.py"):
        h.update((src / f).read_bytes())
    return h.hexdigest()[:16]


def build_row(net, plan: str) -> dict:
    """Place and route of the board top (reused when unchanged)."""
    items = resolve_lanes(net, plan, budget=_budget(), in_pack=PACK)
    label = lanes_label(items)
    out_root = WORK / "bits" / f"{label.replace(',', '_')}-{_key(net, items)}"
    status_file = out_root / BOARD / "bench_status.txt"
    if not status_file.is_file():
        status = "ok"
        try:
            build_bitstream(net, BOARD, lanes=items, out_root=out_root, in_pack=PACK)
        except TimingError:
            status = "timing failed (Fmax < board clock)"
        except (FitError, BuildError) as e:
            status = f"{type(e).__name__}: {e}"
        atomic_write_text(status_file, status + "\n")
    status = status_file.read_text().strip()
    row = {"plan": plan, "lanes": label, "status": status}
    rpt = out_root / BOARD / "report.json"
    rep = json.loads(rpt.read_text()) if rpt.is_file() else None
    if rep is not None:
        for key in ("lut", "ff", "bram", "dsp"):
            r = rep["resources"].get(key)
            if r:
                row[key] = r["used"]
                row[f"{key}_pct"] = r["percent"]
        if rep.get("clock"):
            row["fmax_mhz"] = rep["clock"]["fmax_mhz"]
        row["build_seconds"] = rep.get("build_seconds")
    return row


def _cols(keys) -> list[tuple[str, str]]:
    return [(k, k.replace("_", " ")) for k in keys]


def markdown(res: dict) -> str:
    lines = ["# Digits on the iCE40 UP5K (iCEBreaker): cycles, logic, plans", "",
             f"`python bench/up5k.py` ({res['images']} test images, Verilator, `in_pack = "
             f"{PACK}`; {res['wall_s']:.0f} s, {gateware_note(res['gateware'])}; `gateware`: "
             "the commit a row was measured on, rows of earlier runs kept by `--keep`). Plans "
             "are `core.lanes` forms: `LxK` on layer 0 "
             "takes `K` values of a packed beat a cycle (pixel chunks: `L x K` products, an "
             "adder tree per lane), on the readout `K` spikes a cycle. Speed-up over the "
             f"issue's today ({TODAY:,} cycles at lanes 2). `bound`: `event_bound`, the pipeline "
             "over the steps.", "", "## Cycles and where they go (means per image)", ""]
    cols = ["plan", "gateware", "cycles", "max", "speed_up", "bound", "ratio_min", "ratio_max",
            "rtl_golden", "input_work", *[k for k in res["cycles"][0] if k.startswith("spikes_")],
            "passes_l0", "passes_l1", "latency"]
    lines += markdown_table(res["cycles"], _cols(cols))
    if res["builds"]:
        lines += ["", "## Placed and routed on the iCEBreaker (whole board top, nextpnr seed 1)",
                  ""]
        cols = ["plan", "gateware", "status", "lut", "lut_pct", "ff", "bram", "dsp", "fmax_mhz"]
        lines += markdown_table([{k: r.get(k, "-") for k in cols} for r in res["builds"]],
                                _cols(cols))
    if res["synth"]:
        lines += ["", "## The core alone, `synth_ice40 -noflatten` (`-dsp` without SB_MAC16 "
                  "instances), per submodule", ""]
        cols = ["plan", "gateware", "module", "LUT4", "FF", "carry", "BRAM", "DSP"]
        lines += markdown_table(res["synth"], _cols(cols))
    return "\n".join(lines) + "\n"


def _kept(old: dict, rows, synth, builds):
    """The saved rows of plans not measured now, then this run's, in the saved order."""
    def merge(saved, new):
        plans = {r["plan"] for r in new}
        kept = [r for r in saved if r["plan"] not in plans]
        order = {p: i for i, p in enumerate(dict.fromkeys(r["plan"] for r in saved + new))}
        return sorted(kept + new, key=lambda r: order[r["plan"]])

    return merge(old["cycles"], rows), merge(old["synth"], synth), merge(old["builds"], builds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=0, help="test images (default: all)")
    ap.add_argument("--plans", nargs="+", default=PLANS)
    ap.add_argument("--synth", nargs="*", default=[])
    ap.add_argument("--build", nargs="*", default=[])
    ap.add_argument("--keep", action="store_true",
                    help="keep the saved rows of plans not measured now")
    args = ap.parse_args(argv)
    gw = gateware_version()
    t0 = time.perf_counter()
    net, x, _ = trained.load("digits", 0)
    x = x[: args.images] if args.images else x
    rows = []
    for plan in args.plans:
        rows.append(cycles_row(net, x, plan))
        print(json.dumps(rows[-1]), flush=True)
    synth = [r for plan in args.synth for r in synth_rows(net, plan)]
    builds = []
    for plan in args.build:
        builds.append(build_row(net, plan))
        print(json.dumps(builds[-1]), flush=True)
    rows, synth, builds = ([{**r, "gateware": gw["commit"]} for r in part]
                           for part in (rows, synth, builds))
    if args.keep and OUT.with_suffix(".json").is_file():
        rows, synth, builds = _kept(json.loads(OUT.with_suffix(".json").read_text()),
                                    rows, synth, builds)
    res = {"net": "digits", "board": BOARD, "in_pack": PACK, "images": int(len(x)),
           "cycles": rows, "synth": synth, "builds": builds, "gateware": gw,
           "wall_s": time.perf_counter() - t0}
    write_results(OUT, res, markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
