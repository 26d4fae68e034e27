"""Hardware benchmark: bitstreams per board, cycles per inference, latency, against Spiker+.

    python bench/hw.py [--nets digits mnist5k] [--boards ...] [--lanes N] [--images N]
    python bench/hw.py --report-only     # the page again from bench/results/hw.json

For each network (the demo's digits model, 64-128-10, and an MNIST-5k model, 784-128-10,
both T=4 with direct 4-bit input, trained here with ``spikefab.train.fit`` and exported
with ``export_ptq``; cached under build/bench/hw/nets/):

* golden accuracy on the whole test split (``spikefab.golden``);
* cycles per inference of the core in Verilator on ``--images`` test images
  (``spikefab_hdl.sim.native``, input always valid, output always ready), every
  prediction and accumulator checked against golden; the first 8 images also through
  the cocotb bench (``spikefab_hdl.sim.rtlsim``), whose cycle counts must be the same;
* synaptic operations (weights read and added) per inference, from golden's events:
  nonzero inputs × n_out for the direct first layer (computed once per sample) plus
  spikes × n_out for every later layer;

and for each board a bitstream built with the YoWASP tools
(``spikefab_hdl.build.bitstream.build_bitstream``: UART board top around the core) giving
resources in % of the device, Fmax and the board clock. From these: latency at Fmax and
at the board clock, inferences/s at Fmax (compute only: UART transfer time excluded),
and SOP/cycle against the device's weight-read ceiling (hardware_anchors.md §c:
block-RAM read bits per cycle ÷ w_bits; 30 × 16 bit on the UP5K, 36 bit per DP16KD on
ECP5) and against the core's own ``lanes``. Builds are cached by the IR, the board,
lanes, seed and the board top's RTLIL, so a re-run rebuilds exactly what changed.

Writes bench/results/hw.json and bench/results/hw.md (bench/hw_report.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import subprocess
import time
from pathlib import Path

import numpy as np
from amaranth.back import rtlil
from hw_report import markdown, table, targets
from jobcache import write_results
from spikefab import trained
from spikefab.atomic import atomic_write_text
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab_hdl.board.definitions import BOARDS, get_board
from spikefab_hdl.board.top import BoardTop
from spikefab_hdl.build.bitstream import build_bitstream, check_network
from spikefab_hdl.build.tool_report import BuildError, FitError, TimingError
from spikefab_hdl.sim.native import run_native
from spikefab_hdl.sim.rtlsim import simulate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "build" / "bench" / "hw"
#: Block-RAM read port width in bits per block (iCE40 SB_RAM40_4K x16; ECP5 DP16KD x36).
PORT_BITS = {"ice40": 16, "ecp5": 36}
N_COCOTB = 8


def measure(name: str, net, x, y, lanes: int, images: int) -> dict:
    """Accuracy, cycles (Verilator), SOPs and agreement of ``net`` at ``lanes``."""
    gold = run_network(net, x)
    acc = float((gold.prediction == y).mean())
    xs = x[:images]
    g = run_network(net, xs)
    n_sop = (xs != 0).sum(1) * net.spec.layers[0].n_out
    for i, s in enumerate(g.spikes):
        n_sop = n_sop + s.sum(axis=(0, 2)).astype(np.int64) * net.spec.layers[i + 1].n_out
    build = WORK / "rtl" / f"{name}-l{lanes}"
    nat = run_native(net, xs, lanes=lanes, build_dir=build / "native")
    agree = int(((nat["prediction"] == g.prediction) & (nat["acc"] == g.acc).all(1)).sum())
    coco = simulate(net, xs[:N_COCOTB], lanes=lanes, build_dir=build / "cocotb", trace=False)
    cycles = nat["cycles"]
    return {
        "net": name,
        "sizes": [net.spec.n_in] + [la.n_out for la in net.spec.layers],
        "n_weights": net.n_weights,
        "w_bits": max(la.w_bits for la in net.spec.layers),
        "timesteps": net.spec.timesteps,
        "encoding": net.spec.encoding,
        "lanes": lanes,
        "test_images": int(len(y)),
        "golden_acc": acc,
        "float_acc": net.meta.get("float_acc"),
        "images": int(cycles.size),
        "cycles_mean": float(cycles.mean()),
        "cycles_max": int(cycles.max()),
        "sop_mean": float(n_sop.mean()),
        "sop_per_cycle": float(n_sop.sum() / cycles.sum()),
        "rtl_agree": f"{agree}/{cycles.size}",
        "rtl_all_agree": agree == cycles.size,
        "cocotb_cycles_equal": bool((coco["cycles"] == cycles[:N_COCOTB]).all()),
    }


def build_key(net: QuantizedNetwork, board_name: str, lanes: int, seed: int) -> str:
    """Hash of what a build depends on: the board top's RTLIL (network included), the board
    wrapper and build sources, the seed. Source locations are left out of the RTLIL, so
    edits that do not change the design rebuild nothing."""
    board = get_board(board_name)
    top = BoardTop(net=net, clk_hz=board.clk_hz, lanes=lanes, n_leds=len(board.leds),
                   dsp=board.capacity["dsp"])
    src = ROOT / "hdl" / "spikefab_hdl"
    il = re.sub(r'attribute \\src "[^"]*"\n', "", rtlil.convert(top, name="top"))
    parts = [board.name, lanes, seed, il]
    parts += [(src / f).read_bytes()
              for f in ("board/definitions.py", "build/bitstream.py", "build/tool_report.py",
                        "build/yosys_names.py")]
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
    return h.hexdigest()[:16]


def gateware_version() -> dict:
    """The commit measured and any uncommitted gateware edits in the working tree."""
    def git(*a):
        r = subprocess.run(["git", *a], capture_output=True, text=True, cwd=ROOT)
        return r.stdout.strip() if r.returncode == 0 else None

    dirty = git("status", "--porcelain", "--", "hdl")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_hdl": dirty.splitlines() if dirty else []}


def _fits(net, board_name: str, lanes: int) -> bool:
    try:
        check_network(get_board(board_name), net, lanes=lanes)
    except (FitError, ValueError):
        return False
    return True


def board_row(name: str, net, m: dict, board_name: str, lanes: int, seed: int) -> dict:
    """Build (or reuse) the bitstream of ``net`` for a board and derive the figures."""
    board = get_board(board_name)
    row = {"net": name, "board": board.name, "device": board.device, "lanes": lanes}
    try:
        check_network(board, net, lanes=lanes)
    except (FitError, ValueError) as e:
        return {**row, "status": f"does not fit: {e}"}
    out_root = WORK / "bitstreams" / f"{name}-{build_key(net, board.name, lanes, seed)}"
    rpt_path = out_root / board.name / "report.json"
    done = out_root / board.name / "bench_status.txt"
    if not done.is_file():
        status = "ok"
        try:
            build_bitstream(net, board.name, lanes=lanes, out_root=out_root, seed=seed)
        except TimingError:
            status = "timing failed (Fmax < board clock)"
        except FitError as e:
            status = f"does not fit: {e}"
        except BuildError as e:
            return {**row, "status": f"build failed: {e}"}
        atomic_write_text(done, status + "\n")
    status = done.read_text().strip()
    rep = json.loads(rpt_path.read_text()) if rpt_path.is_file() else None
    if rep is None or rep["clock"] is None:  # refused before the tools, or by nextpnr
        return {**row, "status": status, **({"resources": rep["resources"]} if rep else {})}
    fmax, clk = rep["clock"]["fmax_mhz"], rep["clock"]["board_mhz"]
    res = rep["resources"]
    ceiling = board.capacity["bram"] * PORT_BITS[board.family] / m["w_bits"]
    return {
        **row,
        "status": status,
        "resources": res,
        "fmax_mhz": fmax,
        "board_mhz": clk,
        "target_mhz": board.target_mhz,
        "cycles_mean": m["cycles_mean"],
        "latency_us_fmax": m["cycles_mean"] / fmax,
        "latency_us_board": m["cycles_mean"] / clk,
        "inferences_per_s_fmax": fmax * 1e6 / m["cycles_mean"],
        "sop_per_cycle": m["sop_per_cycle"],
        "weight_read_ceiling": ceiling,
        "ceiling_fraction": m["sop_per_cycle"] / ceiling,
        "lanes_fraction": m["sop_per_cycle"] / lanes,
        "build_seconds": rep["build_seconds"],
        "report": str(rpt_path.relative_to(ROOT)),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", nargs="+", default=["digits", "mnist5k"],
                    choices=["digits", "mnist5k"])
    ap.add_argument("--boards", nargs="+", default=sorted(BOARDS), choices=sorted(BOARDS))
    ap.add_argument("--lanes", type=int, default=None,
                    help="lanes on every board (default: each board's own, board/definitions.py)")
    ap.add_argument("--images", type=int, default=200, help="test images simulated per net")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    ap.add_argument("--out", default=str(RESULTS / "hw"), help="results stem (.json, .md)")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the .md (and the targets) from the saved .json")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.report_only:
        result = json.loads(out.with_suffix(".json").read_text())
        result["targets"] = targets(result["nets"], result["boards"])
        _write(out, result)
        return 0
    t0 = time.perf_counter()
    nets, rows = [], []
    for name in args.nets:
        net, x, y = trained.load(name)
        lanes = {b: args.lanes or get_board(b).lanes for b in args.boards}
        by_lanes = {}
        for n_lanes in sorted({n for b, n in lanes.items() if _fits(net, b, n)}, reverse=True):
            m = by_lanes[n_lanes] = measure(name, net, x, y, n_lanes, args.images)
            nets.append(m)
            print(f"{name}, lanes {n_lanes}: golden acc {m['golden_acc']:.4f}, "
                  f"{m['cycles_mean']:.0f} cycles/inf, RTL agrees {m['rtl_agree']}", flush=True)
        for b in args.boards:
            row = board_row(name, net, by_lanes.get(lanes[b]), b, lanes[b], args.seed)
            rows.append(row)
            print(f"  {b}: {row['status']}" + (f", Fmax {row['fmax_mhz']} MHz" if
                                              "fmax_mhz" in row else ""), flush=True)
    result = {
        "nets": nets,
        "boards": rows,
        "targets": targets(nets, rows),
        "gateware": gateware_version(),
        "machine": platform.platform(),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    _write(out, result)
    return 0


def _write(out: Path, result: dict) -> None:
    write_results(out, result, markdown(result))
    print("\n".join(table(result["boards"])))
    for t in result["targets"]:
        print(f"{'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['measured']}")


if __name__ == "__main__":
    raise SystemExit(main())
