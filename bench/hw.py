"""Hardware benchmark: bitstreams per board, cycles per inference, latency, against Spiker+.

    python bench/hw.py [--nets digits mnist5k] [--boards ...] [--lanes N] [--images N]
    python bench/hw.py --rows mnist5k:ulx3s-85f:4 mnist5k:ulx3s-85f:128,16x64:8
    python bench/hw.py --report-only     # the page again from bench/results/hw.json

``--rows net:board:lanes[:in_pack]`` measures just those rows (any ``--lanes`` form, e.g.
``128,16x64``; ``in_pack`` direct input values per beat, default 1) in one run and merges
them into the saved results: a row measured before keeps its own ``gateware`` commit.
``--clock-mhz F`` runs the designs built in that call from the FPGA's PLL (ECP5 ``EHXPLLL``,
iCE40 ``SB_PLL40``) at (at most) F MHz instead of the board clock: nextpnr then checks and
places for that clock, and ``board MHz`` is the PLL's (a row of its own beside the board
clock's).
``--rows`` also takes ``mnist5k-w4``, the MNIST-5k model fine-tuned with QAT to 4-bit weights.

For each network (the demo's digits model, 64-128-10, and an MNIST-5k model, 784-128-10,
both T=4 with direct 4-bit input, trained with ``spikefab.train.fit`` and exported with
``export_ptq`` by ``spikefab.trained``, which caches them under build/trained/):

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
ECP5) and against the core's own ``lanes``. Layer 0's read rate: while layer 0 runs it reads
one weight row (``lanes_0`` weights, ``n_out`` of them real over its ``G_0`` groups) per
cycle for each nonzero input, so it reads ``n_out / G_0`` weights per cycle; that over the
ceiling at the weights' width is the "share of the block-RAM read ceiling while layer 0
runs" (``l0_ceiling_fraction``); ``l0_reads_per_cycle_measured`` is layer 0's reads
(nonzero inputs x n_out, from golden) over the whole inference's Verilator cycles. ECP5
rows are simulated and built with the DP16KD output registers (``bram_outreg``) and the
board's DSP count, as ``build_bitstream`` builds them. Builds are cached by the IR, the board,
lanes, seed and the board top's RTLIL, so a re-run rebuilds exactly what changed.

Writes bench/results/hw.json and bench/results/hw.md (bench/hw_report.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import time
from pathlib import Path

import numpy as np
from amaranth.back import rtlil
from hw_report import markdown, table, targets
from jobcache import gateware_version, write_results
from spikefab import trained
from spikefab.atomic import atomic_write_text
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab_hdl.board.definitions import BOARDS, BoardDesign, get_board
from spikefab_hdl.build.bitstream import ROUTERS, build_bitstream, check_network
from spikefab_hdl.build.tool_report import BuildError, FitError, TimingError
from spikefab_hdl.core.lanes import lanes_label, parse_lanes, resolve_lanes
from spikefab_hdl.sim.bound import event_bound
from spikefab_hdl.sim.native import run_native
from spikefab_hdl.sim.rtlsim import simulate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "build" / "bench" / "hw"
#: Block-RAM read port width in bits per block (iCE40 SB_RAM40_4K x16; ECP5 DP16KD x36).
PORT_BITS = {"ice40": 16, "ecp5": 36}
#: The trained nets (``spikefab.trained``); ``mnist5k-w4``: mnist5k with 4-bit QAT weights.
NETS = ("digits", "mnist5k", "mnist5k-w4")
N_COCOTB = 8
#: A board build's default wall-clock limit (``--build-timeout``), as ``build_bitstream``'s.
BUILD_TIMEOUT_S = 3600


def layer0_work(xs: np.ndarray, n_out: int, item: tuple[int, int]):
    """Per image, what a direct layer 0 of plan ``item`` = ``(L, K)`` does: its nonzero input
    values, the weights it reads (``n_out x K`` per nonzero ``K``-chunk of consecutive inputs:
    a row of ``L x K`` a cycle, over ``G = ceil(n_out / L)`` groups, padding lanes left out)
    and its busy cycles (nonzero chunks x ``G``)."""
    lanes, k = item
    n = xs.shape[1]
    chunks = np.zeros((xs.shape[0], -(-n // k) * k), dtype=xs.dtype)
    chunks[:, :n] = xs
    nz_chunks = (chunks.reshape(xs.shape[0], -1, k) != 0).any(2).sum(1)
    return (xs != 0).sum(1), nz_chunks * n_out * k, nz_chunks * -(-n_out // lanes)


def measure(name: str, net, x, y, lanes, images: int, in_pack: int = 1,
            outreg: bool | int = False) -> dict:
    """Accuracy, cycles (Verilator), SOPs and agreement of ``net`` at ``lanes``."""
    gold = run_network(net, x)
    acc = float((gold.prediction == y).mean())
    xs = x[:images]
    g = run_network(net, xs)
    n_sop = (xs != 0).sum(1) * net.spec.layers[0].n_out
    for i, s in enumerate(g.spikes):
        n_sop = n_sop + s.sum(axis=(0, 2)).astype(np.int64) * net.spec.layers[i + 1].n_out
    items = resolve_lanes(net, lanes, in_pack=in_pack)
    tag = f"-outreg{outreg}" if outreg else ""  # (a block budget: Board.outreg)
    build = WORK / "rtl" / f"{name}-l{lanes_label(items)}-p{in_pack}{tag}"
    nat = run_native(net, xs, lanes=lanes, build_dir=build / "native", in_pack=in_pack,
                     bram_outreg=outreg)
    agree = int(((nat["prediction"] == g.prediction) & (nat["acc"] == g.acc).all(1)).sum())
    coco = simulate(net, xs[:N_COCOTB], lanes=lanes, build_dir=build / "cocotb", trace=False,
                    in_pack=in_pack, bram_outreg=outreg)
    cycles = nat["cycles"]
    l0_pixels, l0_reads, l0_busy = layer0_work(xs, net.spec.layers[0].n_out, items[0])
    l0_sop = l0_pixels * net.spec.layers[0].n_out
    ratio = cycles / event_bound(net, xs, lanes=items, in_pack=in_pack,
                                 bram_outreg=outreg)["bound"]
    return {
        "net": name,
        "sizes": [net.spec.n_in] + [la.n_out for la in net.spec.layers],
        "n_weights": net.n_weights,
        "w_bits": max(la.w_bits for la in net.spec.layers),
        "l0_w_bits": net.spec.layers[0].w_bits,
        "timesteps": net.spec.timesteps,
        "encoding": net.spec.encoding,
        "lanes": lanes_label(items),
        "in_pack": in_pack,
        "bram_outreg": bool(outreg),
        "test_images": int(len(y)),
        "golden_acc": acc,
        "float_acc": net.meta.get("float_acc"),
        "images": int(cycles.size),
        "cycles_mean": float(cycles.mean()),
        "cycles_max": int(cycles.max()),
        "cycles_over_bound": [float(ratio.min()), float(ratio.max())],
        "sop_mean": float(n_sop.mean()),
        "sop_per_cycle": float(n_sop.sum() / cycles.sum()),
        "l0_products": items[0][0] * items[0][1],
        "l0_busy_cycles_mean": float(l0_busy.mean()),
        "l0_reads_per_cycle": float(l0_reads.sum() / l0_busy.sum()),
        "l0_zero_value_reads": float(1 - l0_sop.sum() / l0_reads.sum()),
        "l0_sop_per_busy_cycle": float(l0_sop.sum() / l0_busy.sum()),
        "l0_reads_per_cycle_measured": float(l0_sop.sum() / cycles.sum()),
        "rtl_agree": f"{agree}/{cycles.size}",
        "rtl_all_agree": agree == cycles.size,
        "cocotb_cycles_equal": bool((coco["cycles"] == cycles[:N_COCOTB]).all()),
    }


def build_key(net: QuantizedNetwork, board_name: str, lanes, seed: int,
              in_pack: int = 1, clock_mhz: float | None = None, router: str | None = None) -> str:
    """Hash of what a build depends on: the board top's RTLIL (network included) as
    ``build_bitstream`` makes it (``BoardDesign``: the board's DSP count, SB_MAC16 dual 8x8
    products on iCE40, DP16KD output registers on ECP5, the state memories' SPRAM
    placement), the board wrapper and build sources, the seed, the PLL clock asked for,
    nextpnr's router when one is named.
    Source locations are left out of the RTLIL, so edits that do not change the design
    rebuild nothing."""
    board = get_board(board_name)
    items = resolve_lanes(net, lanes, budget={"family": board.family, **board.capacity},
                          in_pack=in_pack)
    est = check_network(board, net, lanes=items, in_pack=in_pack)
    design = BoardDesign(board=board, net=net, lanes=items, in_pack=in_pack,
                         spram=est["spram"] or None,
                         pll_hz=None if clock_mhz is None else clock_mhz * 1e6)
    design._MustUse__silence = True  # only its top is converted here
    top = design.top
    src = ROOT / "hdl" / "spikefab_hdl"
    il = re.sub(r'attribute \\src "[^"]*"\n', "", rtlil.convert(top, name="top"))
    parts = [board.name, lanes, seed, il] + ([in_pack] if in_pack != 1 else [])
    parts += [] if clock_mhz is None else [f"pll {design.clk_hz}"]
    parts += [] if router is None else [f"router {router}"]
    parts += [(src / f).read_bytes()
              for f in ("board/definitions.py", "build/bitstream.py", "build/tool_report.py",
                        "build/yosys_names.py")
              + (("board/pll.py", "board/ecp5_pll.py") if clock_mhz is not None else ())]
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
    return h.hexdigest()[:16]


def _fits(net, board_name: str, lanes, in_pack: int = 1) -> bool:
    try:
        check_network(get_board(board_name), net, lanes=lanes, in_pack=in_pack)
    except (FitError, ValueError):
        return False
    return True


def board_row(name: str, net, m: dict, board_name: str, lanes, seed: int,
              in_pack: int = 1, timeout_s: int = BUILD_TIMEOUT_S,
              clock_mhz: float | None = None, router: str | None = None) -> dict:
    """Build (or reuse) the bitstream of ``net`` for a board and derive the figures
    (``timeout_s``: the build's wall-clock limit; ``clock_mhz``: run the design from the
    FPGA's PLL at (at most) this frequency, None: the board clock; ``router``: nextpnr's,
    None: its default)."""
    board = get_board(board_name)
    row = {"net": name, "board": board.name, "device": board.device,
           "lanes": lanes_label(resolve_lanes(net, lanes, in_pack=in_pack)), "in_pack": in_pack,
           "gateware": gateware_version()["commit"],
           **({} if clock_mhz is None else {"clock_mhz": clock_mhz}),
           **({} if router is None else {"router": router})}
    try:
        check_network(board, net, lanes=lanes, in_pack=in_pack)
    except (FitError, ValueError) as e:
        return {**row, "status": f"does not fit: {e}"}
    key = build_key(net, board.name, lanes, seed, in_pack, clock_mhz, router)
    out_root = WORK / "bitstreams" / f"{name}-{key}"
    rpt_path = out_root / board.name / "report.json"
    done = out_root / board.name / "bench_status.txt"
    if not done.is_file():
        status = "ok"
        try:
            build_bitstream(net, board.name, lanes=lanes, out_root=out_root, seed=seed,
                            in_pack=in_pack, timeout_s=timeout_s, clock_mhz=clock_mhz,
                            router=router)
        except TimingError:
            status = f"timing failed (Fmax < {'PLL' if clock_mhz else 'board'} clock)"
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
    l0_ceiling = board.capacity["bram"] * PORT_BITS[board.family] / m["l0_w_bits"]
    return {
        **row,
        "status": status,
        "resources": res,
        "fmax_mhz": fmax,
        "board_mhz": clk,
        "clock_source": "board" if rep["pll"] is None else "PLL",
        "target_mhz": board.target_mhz,
        "cycles_mean": m["cycles_mean"],
        "latency_us_fmax": m["cycles_mean"] / fmax,
        "latency_us_board": m["cycles_mean"] / clk,
        "inferences_per_s_fmax": fmax * 1e6 / m["cycles_mean"],
        "sop_per_cycle": m["sop_per_cycle"],
        "weight_read_ceiling": ceiling,
        "ceiling_fraction": m["sop_per_cycle"] / ceiling,
        "lanes_fraction": m["sop_per_cycle"] / m["l0_products"],
        "l0_reads_per_cycle": m["l0_reads_per_cycle"],
        "l0_weight_read_ceiling": l0_ceiling,
        "l0_ceiling_fraction": m["l0_reads_per_cycle"] / l0_ceiling,
        "l0_zero_value_reads": m["l0_zero_value_reads"],
        "l0_sop_per_busy_cycle": m["l0_sop_per_busy_cycle"],
        "l0_sop_ceiling_fraction": m["l0_sop_per_busy_cycle"] / l0_ceiling,
        "l0_reads_per_cycle_measured": m["l0_reads_per_cycle_measured"],
        "rtl_agree": m["rtl_agree"],
        "build_seconds": rep["build_seconds"],
        "report": str(rpt_path.relative_to(ROOT)),
    }


def _parse_row(text: str):
    parts = text.split(":")
    if len(parts) not in (3, 4) or parts[0] not in NETS or parts[1] not in BOARDS:
        raise SystemExit(f"error: --rows takes net:board:lanes[:in_pack] (net one of "
                         f"{', '.join(NETS)}, board one of {', '.join(sorted(BOARDS))}), "
                         f"not {text!r}")
    pack = parts[3] if len(parts) == 4 else "1"
    if not pack.isdigit():
        raise SystemExit(f"error: in_pack of --rows {text!r} must be an integer")
    return parts[0], parts[1], parse_lanes(parts[2]), int(pack)


def _key(r: dict) -> tuple:
    return (r["net"], r.get("board"), str(r["lanes"]), r.get("in_pack") or 1,
            bool(r.get("bram_outreg")))  # rows of older runs lack the last two


def _board_key(r: dict) -> tuple:
    """A board row's identity: a PLL clock (or another router) makes another row than the
    board clock's."""
    return _key(r)[:4] + (r.get("clock_mhz"), r.get("router"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", nargs="+", default=["digits", "mnist5k"],
                    choices=NETS)
    ap.add_argument("--boards", nargs="+", default=sorted(BOARDS), choices=sorted(BOARDS))
    ap.add_argument("--lanes", type=int, default=None,
                    help="lanes on every board (default: each board's own, board/definitions.py)")
    ap.add_argument("--rows", nargs="+", default=None, metavar="NET:BOARD:LANES[:PACK]",
                    help="measure these rows only and merge them into the saved results")
    ap.add_argument("--images", type=int, default=200, help="test images simulated per net")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    ap.add_argument("--build-timeout", type=int, default=BUILD_TIMEOUT_S, metavar="S",
                    help="wall-clock limit of one board build in seconds (default %(default)s)")
    ap.add_argument("--clock-mhz", type=float, default=None, metavar="MHZ",
                    help="run the built designs from the FPGA's PLL at (at most) this "
                         "frequency (default: the board clock)")
    ap.add_argument("--router", default=None, choices=ROUTERS,
                    help="nextpnr's router (default: nextpnr's, router1)")
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
    if args.rows:
        wanted = [_parse_row(r) for r in args.rows]
    else:
        wanted = [(name, b, args.lanes or get_board(b).lanes, 1)
                  for name in args.nets for b in args.boards]
    nets, rows, measured, loaded = [], [], {}, {}
    for name, b, lanes, pack in wanted:
        if name not in loaded:
            loaded[name] = trained.load(name)
        net, x, y = loaded[name]
        outreg = get_board(b).outreg  # as the board build makes it
        m = None
        if _fits(net, b, lanes, pack):
            key = (name, lanes_label(resolve_lanes(net, lanes, in_pack=pack)), pack, outreg)
            if key not in measured:
                m = measured[key] = measure(name, net, x, y, lanes, args.images, pack, outreg)
                nets.append(m)
                print(f"{name}, lanes {m['lanes']}, in_pack {pack}: golden acc "
                      f"{m['golden_acc']:.4f}, {m['cycles_mean']:.0f} cycles/inf, RTL agrees "
                      f"{m['rtl_agree']}", flush=True)
            m = measured[key]
        row = board_row(name, net, m, b, lanes, args.seed, pack, args.build_timeout,
                        args.clock_mhz, args.router)
        rows.append(row)
        print(f"  {b}: {row['status']}" + (f", Fmax {row['fmax_mhz']} MHz" if
                                          "fmax_mhz" in row else ""), flush=True)
    gw = gateware_version()
    if args.rows and out.with_suffix(".json").is_file():  # keep the rows not measured now
        old = json.loads(out.with_suffix(".json").read_text())
        commit = (old.get("gateware") or {}).get("commit")
        have_n, have_b = {_key(n) for n in nets}, {_board_key(r) for r in rows}
        nets = [{**n, "gateware": n.get("gateware", commit)} for n in old["nets"]
                if _key(n) not in have_n] + [{**n, "gateware": gw["commit"]} for n in nets]
        rows = [{**r, "gateware": r.get("gateware", commit)} for r in old["boards"]
                if _board_key(r) not in have_b] + rows
    result = {
        "nets": nets,
        "boards": rows,
        "targets": targets(nets, rows),
        "gateware": gw,
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
