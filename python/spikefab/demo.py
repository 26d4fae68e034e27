"""``python -m spikefab.demo`` (``make demo``): the end-to-end slice on sklearn digits.

Stages, each timed: train a float SpikingMLP 64-128-10 (T=4, direct 4-bit input) ->
export it with post-training quantisation -> save the IR under ``build/demo/`` -> golden
(NumPy integer) accuracy -> generate RTL and simulate every test image in Verilator
(``spikefab_hdl.sim.rtlsim.simulate``) -> compare. Prints float, golden and RTL accuracy,
``agreement: <matching>/<total>`` (a sample matches when its RTL prediction and every one
of its readout accumulators equal golden's) and cycles per inference. Exits 1 when the
agreement is not total, 2 when the RTL stage cannot run.

A thin entry point: nothing imports it. The model comes from :mod:`spikefab.trained` (the
one recipe and cache that sim/ and bench/ use too), the comparison from
:func:`spikefab.golden.compare_rtl`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .atomic import atomic_write_text
from .data import encode_direct
from .golden import compare_rtl, run_network
from .ir import QuantizedNetwork
from .train import encode_inputs, predict
from .trained import DIGITS_CONFIG, train_digits

__all__ = ["main"]

def _stage(n: int, total: int, text: str) -> float:
    print(f"[{n}/{total}] {text} ...", flush=True)
    return time.perf_counter()


def _done(t0: float, extra: str = "") -> None:
    print(f"      done in {time.perf_counter() - t0:.1f} s{extra}", flush=True)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m spikefab.demo", description=__doc__.split(
        "\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    ap.add_argument("--lanes", type=int, default=4, help="gateware lanes (default 4)")
    ap.add_argument("--out", type=Path, default=Path("build/demo"), help="output folder")
    ap.add_argument("--limit", type=int, default=None, help="simulate only the first N images")
    args = ap.parse_args(argv)
    total = 5
    t_all = time.perf_counter()

    t0 = _stage(1, total, "training float SpikingMLP 64-128-10 on digits (T=4, direct 4-bit)")
    model, net, ds = train_digits(args.seed)
    _done(t0, f" (training loop {net.meta['train_seconds']:.1f} s)")

    t0 = _stage(2, total, "exporting (post-training quantisation) and saving the IR")
    path = net.save(args.out / "digits")
    widths = ", ".join(
        f"L{i}: w{la.w_bits} b{la.b_bits}" + (f" v{la.neuron.v_bits} theta {la.neuron.theta}"
                                               if la.neuron else " readout")
        for i, la in enumerate(net.spec.layers))
    _done(t0, f" -> {path} ({widths}; acc {net.acc_bits()} bits)")

    t0 = _stage(3, total, "golden model (NumPy integers) on the test images")
    x01, y_test = ds.x_test[: args.limit], ds.y_test[: args.limit]
    x_test = encode_direct(x01, net.spec.in_bits)
    golden = run_network(net, x_test)
    golden_acc = float((golden.prediction == y_test).mean())
    _done(t0)

    t0 = _stage(4, total, f"RTL: Verilog + Verilator simulation (lanes={args.lanes})")
    try:
        from spikefab_hdl.sim.rtlsim import simulate
    except ImportError as e:
        print(f"error: the RTL stage needs spikefab_hdl.sim.rtlsim.simulate, which is not "
              f"available ({e})", file=sys.stderr)
        return 2
    rtl = simulate(QuantizedNetwork.load(path), x_test, lanes=args.lanes,
                   build_dir=args.out / "rtl", trace=True)
    _done(t0, f" (build {rtl['build_seconds']:.1f} s, simulation {rtl['sim_seconds']:.1f} s)")

    t0 = _stage(5, total, "comparing RTL with golden")
    cmp = compare_rtl(golden, rtl)
    rtl_acc = float((np.asarray(rtl["prediction"]) == y_test).mean())
    cycles = np.asarray(rtl["cycles"], dtype=np.int64)
    _done(t0)

    n = len(y_test)
    float_pred = predict(model, encode_inputs(DIGITS_CONFIG, x01, seed=args.seed))
    float_acc = float((float_pred == y_test).mean())
    rows = (("float", float_pred), ("golden", golden.prediction), ("RTL", rtl["prediction"]))
    print()
    for name, pred in rows:
        right = int((np.asarray(pred) == y_test).sum())
        print(f"{name + ' accuracy:':17s}{_pct(right / n)} ({right}/{n})")
    print(f"agreement: {cmp['matching']}/{cmp['total']}")
    if cmp["trace_compared"]:
        print(f"trace ({', '.join(cmp['trace_compared'])}): "
              f"{cmp['total'] - cmp['trace_mismatches']}/{cmp['total']} samples identical")
    print(f"cycles per inference: mean {cycles.mean():.1f}, min {cycles.min()}, max {cycles.max()}")
    print(f"total time: {time.perf_counter() - t_all:.1f} s")

    summary = {
        "float_acc": float_acc, "golden_acc": golden_acc, "rtl_acc": rtl_acc,
        "matching": cmp["matching"], "total": cmp["total"],
        "trace_compared": cmp["trace_compared"], "trace_mismatches": cmp["trace_mismatches"],
        "cycles": {"mean": float(cycles.mean()), "min": int(cycles.min()),
                   "max": int(cycles.max())},
        "lanes": args.lanes, "seed": args.seed, "ir": str(path),
    }
    atomic_write_text(args.out / "summary.json", json.dumps(summary, indent=2) + "\n")
    ok = cmp["matching"] == cmp["total"] and cmp["trace_mismatches"] == 0
    if not ok:
        print("error: RTL and golden disagree", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
