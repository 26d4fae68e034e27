"""Packed direct input: cycles per inference at 1 and ``P`` values per input beat.

    python bench/input_pack.py [--images N] [--lanes 4 16 64] [--packs 1 8]

For the trained digits model (64-128-10, T=4, 4-bit direct input) and the MNIST-5k model
(784-128-10, T=4, 4-bit direct input; ``spikefab.trained``), each ``lanes`` and each
``in_pack``: the core without trace ports in Verilator (``spikefab_hdl.sim.native``: input
always valid, output always ready), every prediction and accumulator compared with golden,
the cycles per inference against ``spikefab_hdl.sim.bound.event_bound`` (which counts a
direct sample's empty beats), and the speed-up of each pack over ``in_pack = 1`` measured
in the same run on the same images.

Writes bench/results/input_pack.{json,md}.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from jobcache import gateware_note, gateware_version, markdown_table, write_results
from spikefab import trained
from spikefab.golden import run_network
from spikefab_hdl.sim.bound import event_bound
from spikefab_hdl.sim.native import run_native

ROOT = Path(__file__).resolve().parent.parent
NETS = {"digits": "digits", "mnist5k": "mnist5k"}


def measure(name, net, x, lanes, pack) -> dict:
    build = ROOT / "build" / "bench" / "input_pack" / f"{name}-l{lanes}-p{pack}"
    nat = run_native(net, x, lanes=lanes, build_dir=build, in_pack=pack)
    gold = run_network(net, x)
    agree = int(((nat["prediction"] == gold.prediction) & (nat["acc"] == gold.acc).all(1)).sum())
    b = event_bound(net, x, lanes=lanes, in_pack=pack)
    c = nat["cycles"]
    return {
        "net": name, "lanes": lanes, "in_pack": pack, "images": int(c.size),
        "zero_inputs": float((x == 0).mean()),
        "cycles_mean": float(c.mean()), "cycles_max": int(c.max()),
        "input_work_mean": float(b["input_work"].mean()),
        "bound_mean": float(b["bound"].mean()),
        "ratio_bound": float((c / b["bound"]).mean()),
        "lower_mean": float(b["lower"].mean()),
        "ratio_lower": float((c / b["lower"]).mean()),
        "agree": f"{agree}/{c.size}", "all_agree": agree == c.size,
        "_cycles": c,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=200, help="test images per net (200)")
    ap.add_argument("--lanes", type=int, nargs="+", default=[4, 16, 64])
    ap.add_argument("--packs", type=int, nargs="+", default=[1, 8])
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = []
    for name, recipe in NETS.items():
        net, x_test, _ = trained.load(recipe, 0)
        x = x_test[: args.images]
        for lanes in args.lanes:
            base = None
            for pack in args.packs:
                row = measure(name, net, x, lanes, pack)
                base = row["_cycles"] if base is None else base
                row["speedup"] = float((base / row.pop("_cycles")).mean())
                rows.append(row)
                print(f"{name} lanes={lanes} in_pack={pack}: {row['cycles_mean']:.0f} cycles "
                      f"({row['ratio_bound']:.2f} x bound, {row['ratio_lower']:.2f} x lower), "
                      f"x{row['speedup']:.2f} vs in_pack {args.packs[0]}, agree {row['agree']}",
                      flush=True)
    cols = [("net", "net"), ("lanes", "lanes"), ("in_pack", "in_pack"), ("images", "images"),
            ("zero_inputs", "zero inputs"), ("cycles_mean", "cycles/inf"), ("cycles_max", "max"),
            ("input_work_mean", "input work"), ("bound_mean", "bound"),
            ("ratio_bound", "cycles/bound"), ("lower_mean", "lower"),
            ("ratio_lower", "cycles/lower"), ("speedup", f"speed-up vs in_pack {args.packs[0]}"),
            ("agree", "RTL = golden")]

    lines = markdown_table(rows, cols)
    print("\n".join(lines))
    gw = gateware_version()
    md = [
        "# Packed direct input: cycles per inference",
        "",
        f"`python bench/input_pack.py --images {args.images}` ({gateware_note(gw)}; "
        "Verilator, input always valid, "
        "output always ready; the same images for every row). `in_pack` values per input "
        "beat; the adapter sends only nonzero values to the integrator, so an empty beat "
        "costs one cycle and a zero value none. The bound counts a direct sample's input as "
        "`Σ_beats max(1, work of its nonzero values)` (docs/core.md).",
        "",
        *lines,
    ]
    doc = {"bench": "input_pack", "description": __doc__.split("\n")[0], "gateware": gw,
           "rows": rows,
           "seconds": time.perf_counter() - t0}
    write_results(ROOT / "bench" / "results" / "input_pack", doc, "\n".join(md) + "\n")
    return 0 if all(r["all_agree"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
