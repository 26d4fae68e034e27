"""Conv networks on the boards: resources, Fmax, cycles, latency, golden and RTL accuracy,
and the iCEBreaker's (iCE40 UP5K) latency/accuracy front against Spiker+.

    python bench/hw_conv.py [--runs build/runs] [--designs NAME ...] [--boards B ...]
                            [--images N]
    python bench/hw_conv.py --report-only      # the page again from bench/results/hw_conv.json

The networks are conv students trained and exported by the pipeline (``spikefab run
<config> --until quantize`` writes ``<runs>/<name>/quant/net.json``): the configs are
listed in :data:`DESIGNS` (bench/conv_up5k/*.toml: MNIST-5k students small enough for the
UP5K; configs/digits_conv.toml). For each network and each (board, lanes) of its design:

* golden accuracy on the whole test split (``spikefab.golden``);
* the core in Verilator (``spikefab_hdl.sim.native``: input always valid, output always
  ready) on ``--images`` test images (default all), with the board's placement of state
  memories in SPRAM: every prediction and accumulator compared with golden, cycles per
  inference, and their ratio to the event bound (``spikefab_hdl.sim.bound``);
* a bitstream at the board clock (``build_bitstream``: the UART board top, SPRAM placed
  when block RAM runs out) giving resources and Fmax; on the iCEBreaker a second build
  with the PLL (``--clock-mhz``) at the highest frequency not above that Fmax (lowered
  by 5 % until timing is met, three tries), whose clock gives the latency.

``--designs`` and ``--boards`` measure a subset and merge it into the saved results: a row
measured now replaces the saved one of the same (net, lanes[, board]), the others stay,
each with the ``gateware`` commit it was measured on.

Writes bench/results/hw_conv.{json,md} (the page: ``hw_conv_report``). Builds are cached
under build/bench/hw_conv/ by a hash of the design's RTLIL, the board, lanes, clock and
seed; simulations by the network, lanes, placement and the core's RTL (both by RTLIL
with its lines sorted: Amaranth orders some declarations differently in each process).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from pathlib import Path

from amaranth.back import rtlil
from hw_conv_report import markdown, targets
from jobcache import gateware_version, write_results
from spikefab.atomic import atomic_write_text
from spikefab.data import encode_direct, load_dataset
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.protocol import network_id
from spikefab_hdl.board.definitions import get_board
from spikefab_hdl.board.pll import ice40_pll
from spikefab_hdl.board.top import BoardTop
from spikefab_hdl.build.bitstream import build_bitstream
from spikefab_hdl.build.fit import check_network
from spikefab_hdl.build.tool_report import BuildError, FitError, TimingError
from spikefab_hdl.core.network import NetworkCore
from spikefab_hdl.sim.bound import event_bound
from spikefab_hdl.sim.native import run_native

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "build" / "bench" / "hw_conv"
#: (run name, config, [(board, lanes), ...]) in the order measured (the UP5K first; a
#: net may come back for more boards).
DESIGNS = [
    ("mnist5k_c4-8", "bench/conv_up5k/mnist5k_c4-8.toml", [("icebreaker", 4), ("icebreaker", 2)]),
    ("mnist5k_c4-8-t2", "bench/conv_up5k/mnist5k_c4-8-t2.toml", [("icebreaker", 2)]),
    ("digits_conv", "configs/digits_conv.toml", [("icebreaker", 2)]),
    ("mnist5k_conv", "configs/mnist5k_conv.toml", [("icebreaker", 1)]),
    ("mnist5k_c4", "bench/conv_up5k/mnist5k_c4.toml", [("icebreaker", 2)]),
    ("mnist5k_conv", "configs/mnist5k_conv.toml",
     [("ulx3s-25f", 8), ("orangecrab-25f", 8), ("ulx3s-85f", 8)]),
    ("digits_conv", "configs/digits_conv.toml", [("ulx3s-25f", 8), ("orangecrab-25f", 8)]),
]
#: PLL builds tried on the iCEBreaker, each this much slower than the last that failed.
PLL_TRIES, PLL_BACKOFF = 3, 0.95


def load(runs: Path, name: str, config: str):
    path = runs / name / "quant" / "net.json"
    if not path.is_file():
        raise SystemExit(f"{path} missing: run `spikefab --runs {runs} run {config} "
                         "--until quantize` first")
    net = QuantizedNetwork.load(path)
    ds = load_dataset(net.meta.get("dataset", {}).get("name", name.split("_")[0]))
    return net, encode_direct(ds.x_test, net.spec.in_bits), ds.y_test


def rtl_hash(design) -> str:
    """A hash of ``design``'s RTLIL that is the same in every process: Amaranth's order of
    some declarations changes from one process to the next, so the lines are sorted (and
    the ``src`` attributes, paths into this checkout, left out)."""
    il = re.sub(r'attribute \\src "[^"]*"\n', "", rtlil.convert(design, name="top"))
    return hashlib.sha256("\n".join(sorted(il.splitlines())).encode()).hexdigest()[:16]


def measure(name, net, x, y, lanes, spram, images) -> dict:
    """Golden accuracy on the whole test split, and the core in Verilator on the first
    ``images`` test images; cached by the network, lanes, placement and the core's RTL."""
    core = NetworkCore(net=net, lanes=lanes, trace=False, spram=spram)
    key = hashlib.sha256(json.dumps([network_id(net), lanes, spram, images, rtl_hash(core),
                                     (ROOT / "hdl/spikefab_hdl/sim/native.py").read_text()],
                                    sort_keys=True, default=str).encode()).hexdigest()[:16]
    cache = WORK / "measure" / f"{name}-l{lanes}-{key}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    gold = run_network(net, x)
    xs = x[:images]
    g = run_network(net, xs)
    nat = run_native(net, xs, lanes=lanes, build_dir=WORK / "rtl" / f"{name}-l{lanes}-{key}",
                     spram=spram)
    agree = int(((nat["prediction"] == g.prediction) & (nat["acc"] == g.acc).all(1)).sum())
    ratio = nat["cycles"] / event_bound(net, xs, lanes=lanes, spram=spram)["bound"]
    m = {"golden_acc": float((gold.prediction == y).mean()), "test_images": int(len(y)),
         "images": int(len(xs)), "rtl_acc": float((nat["prediction"] == y[:images]).mean()),
         "rtl_agree": f"{agree}/{len(xs)}", "rtl_all_agree": agree == len(xs),
         "cycles_mean": float(nat["cycles"].mean()), "cycles_max": int(nat["cycles"].max()),
         "bound_ratio_max": float(ratio.max())}
    atomic_write_text(cache, json.dumps(m) + "\n")
    return m


def _key(net, board, lanes, spram, clock, seed) -> str:
    top = BoardTop(net=net, clk_hz=board.clk_hz, lanes=lanes, n_leds=len(board.leds),
                   spram=spram)
    src = ROOT / "hdl" / "spikefab_hdl"
    h = hashlib.sha256()
    for p in [board.name, lanes, clock, seed, rtl_hash(top)] + [
            (src / f).read_bytes() for f in ("board/definitions.py", "board/pll.py",
                                             "build/bitstream.py", "build/fit.py")]:
        h.update(p if isinstance(p, bytes) else str(p).encode())
    return h.hexdigest()[:16]


def build(net, board, lanes, spram, clock, seed) -> tuple[str, dict | None]:
    """``(status, report)`` of one (cached) build; ``clock``: a PLL target or None."""
    out_root = WORK / "bitstreams" / _key(net, board, lanes, spram, clock, seed)
    done = out_root / board.name / "bench_status.txt"
    if not done.is_file():
        status = "ok"
        try:
            build_bitstream(net, board.name, lanes=lanes, out_root=out_root, seed=seed,
                            spram=spram, clock_mhz=clock)
        except TimingError:
            status = "timing failed"
        except FitError as e:
            status = f"does not fit: {e}"
        except BuildError as e:
            status = f"build failed: {e}"
        atomic_write_text(done, status + "\n")
    rpt = out_root / board.name / "report.json"
    return done.read_text().strip(), json.loads(rpt.read_text()) if rpt.is_file() else None


def board_row(name, net, m, board, lanes, spram, seed) -> dict:
    row = {"net": name, "board": board.name, "lanes": lanes, "spram": spram or {}}
    status, rep = build(net, board, lanes, spram, None, seed)
    if rep is None or rep["clock"] is None:
        return {**row, "status": status}
    fmax = rep["clock"]["fmax_mhz"]
    clock, source, pll_rep = rep["clock"]["board_mhz"], "board", rep
    if board.family == "ice40":
        target = fmax
        for _ in range(PLL_TRIES):
            mhz = ice40_pll(board.clk_hz, target * 1e6).f_out_hz / 1e6
            if mhz <= clock:
                break
            s, r = build(net, board, lanes, spram, mhz, seed)
            if s == "ok":
                clock, source, pll_rep = mhz, "PLL", r
                break
            target = mhz * PLL_BACKOFF
    res = pll_rep["resources"]
    return {**row, "status": status, "resources": res, "fmax_mhz": fmax,
            "board_mhz": rep["clock"]["board_mhz"], "clock_mhz": clock, "clock_source": source,
            "pll_fmax_mhz": pll_rep["clock"]["fmax_mhz"], "cycles_mean": m["cycles_mean"],
            "latency_us": m["cycles_mean"] / clock,
            "latency_us_fmax": m["cycles_mean"] / fmax,
            "latency_us_board": m["cycles_mean"] / rep["clock"]["board_mhz"],
            "golden_acc": m["golden_acc"], "rtl_acc": m["rtl_acc"], "rtl_agree": m["rtl_agree"]}


def _net_key(n: dict) -> tuple:
    return n["net"], n["lanes"]


def _row_key(r: dict) -> tuple:
    return r["net"], r["board"], r["lanes"]


def merge(old: list[dict], new: list[dict], key, commit) -> list[dict]:
    """``old`` with each row that ``new`` has (by ``key``) replaced by the new one, then the
    rest of ``new``; an old row without its own ``gateware`` gets ``commit``."""
    fresh = {key(r): r for r in new}
    out = [fresh.pop(key(r)) if key(r) in fresh else {**r, "gateware": r.get("gateware", commit)}
           for r in old]
    return out + [r for r in new if key(r) in fresh]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default=str(ROOT / "build" / "runs"),
                    help="runs folder holding <name>/quant/net.json")
    ap.add_argument("--designs", nargs="+", default=None, help="run names (default: all)")
    ap.add_argument("--boards", nargs="+", default=None,
                    help="only these boards of each design (default: all)")
    ap.add_argument("--images", type=int, default=None, help="test images in Verilator "
                    "(default: all)")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    ap.add_argument("--out", default=str(RESULTS / "hw_conv"), help="results stem")
    ap.add_argument("--no-build", action="store_true", help="simulations only")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.report_only:
        result = json.loads(out.with_suffix(".json").read_text())
        result["targets"] = targets(result["nets"], result["boards"])
        write_results(out, result, markdown(result))
        return 0
    t0 = time.perf_counter()
    gw = gateware_version()
    nets, rows = [], []
    for name, config, boards in DESIGNS:
        boards = [(b, n) for b, n in boards if not args.boards or b in args.boards]
        if args.designs and name not in args.designs or not boards:
            continue
        net, x, y = load(Path(args.runs), name, config)
        images = len(y) if args.images is None else args.images
        for b, lanes in boards:
            board = get_board(b)
            try:
                spram = check_network(board, net, lanes=lanes)["spram"] or None
            except (FitError, ValueError) as e:
                rows.append({"net": name, "board": b, "lanes": lanes,
                             "status": f"does not fit: {e}", "gateware": gw["commit"]})
                print(f"  {b} l{lanes}: {rows[-1]['status']}", flush=True)
                continue
            m = next((n for n in nets if n["net"] == name and n["lanes"] == lanes
                      and n["spram"] == (spram or {})), None)
            if m is None:
                m = {"net": name, "config": config, "lanes": lanes, "spram": spram or {},
                     "sizes": [net.spec.n_in] + [la.n_out for la in net.spec.layers],
                     "timesteps": net.spec.timesteps, "n_weights": net.n_weights,
                     **measure(name, net, x, y, lanes, spram, images), "gateware": gw["commit"]}
                nets.append(m)
                print(f"{name} l{lanes}: golden {m['golden_acc']:.4f}, "
                      f"{m['cycles_mean']:.0f} cycles, RTL {m['rtl_agree']}", flush=True)
            if args.no_build:
                continue
            row = {**board_row(name, net, m, board, lanes, spram, args.seed),
                   "gateware": gw["commit"]}
            rows.append(row)
            print(f"  {b} l{lanes}: {row['status']}" + (
                f", Fmax {row['fmax_mhz']} MHz, {row['latency_us']:.0f} µs at "
                f"{row['clock_mhz']:g} MHz" if "latency_us" in row else ""), flush=True)
    saved = out.with_suffix(".json")
    if (args.designs or args.boards) and saved.is_file():
        old = json.loads(saved.read_text())
        commit = (old.get("gateware") or {}).get("commit")
        nets = merge(old["nets"], nets, _net_key, commit)
        rows = merge(old["boards"], rows, _row_key, commit)
    result = {"nets": nets, "boards": rows, "targets": targets(nets, rows),
              "gateware": gw, "wall_s": round(time.perf_counter() - t0, 1)}
    write_results(out, result, markdown(result))
    for t in result["targets"]:
        print(f"{'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['measured']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
