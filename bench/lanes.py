"""Per-layer lanes and spike masks: cycles per inference against today's core, same run.

    python bench/lanes.py [--images N]

For the trained MNIST-5k model (784-128-10, T=4, 4-bit direct input) and the digits model
(64-128-10, T=4; ``spikefab.trained``), each row a ``lanes`` setting (``core.lanes``: ``L``
or ``LxK`` per layer; ``auto`` planned for a board's resources) at ``in_pack = 8``: the
core without trace ports in Verilator (``spikefab_hdl.sim.native``: input always valid,
output always ready), every prediction and accumulator compared with golden, cycles per
inference, synaptic operations per cycle (the weights the core adds: nonzero inputs x
``n_out`` of layer 0 once per sample, then every spike x ``n_out`` of the next layer),
``event_bound`` and the ratio, and the speed-up over the row's baseline (today's core:
one ``lanes`` for every layer, one spike a cycle) measured in the same run on the same
images.

Writes bench/results/lanes.{json,md}.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from jobcache import gateware_note, gateware_version, markdown_table, write_results
from spikefab import trained
from spikefab.golden import run_network
from spikefab.golden.layers import pass_on
from spikefab_hdl.build.cli import board_budget
from spikefab_hdl.core.lanes import estimate_cost, lanes_label, resolve_lanes
from spikefab_hdl.sim.bound import event_bound
from spikefab_hdl.sim.native import run_native

ROOT = Path(__file__).resolve().parent.parent
PACK = 8
#: (net, board whose budget the row is planned for / checked against, lanes, baseline row).
ROWS = [
    ("mnist5k", "ulx3s-85f", 64, None),
    ("mnist5k", "ulx3s-85f", "128,16x128", 64),
    ("mnist5k", "ulx3s-25f", 16, None),
    ("mnist5k", "ulx3s-25f", "auto", 16),
    ("digits", "icebreaker", 2, None),
    ("digits", "icebreaker", "auto", 2),
    ("mnist5k", "ulx3s-85f", "64,16x64", 64),
    ("mnist5k", "ulx3s-85f", "auto", 64),
    ("digits", "ulx3s-25f", 64, None),
    ("digits", "ulx3s-25f", "64,16x64", 64),
]


def synaptic_ops(net, x) -> np.ndarray:
    """Per sample, the weights the core adds (module docstring)."""
    spec = net.spec
    gold = run_network(net, x)
    xs = np.asarray(x)
    if spec.encoding == "direct":
        ops = (xs != 0).sum(axis=1) * spec.layers[0].n_out
    else:
        ops = (xs != 0).sum(axis=(0, 2)) * spec.layers[0].n_out
    for i, s in enumerate(gold.spikes[: len(spec.layers) - 1]):
        seen = pass_on(spec.layers[i], s.reshape(-1, s.shape[-1]).astype(np.int64))
        ops = ops + seen.reshape(s.shape[0], s.shape[1], -1).sum(axis=(0, 2)) * \
            spec.layers[i + 1].n_out
    return ops


def measure(name, net, x, board, lanes) -> dict:
    budget = board_budget(board)
    items = resolve_lanes(net, lanes, budget=budget, in_pack=PACK)
    label = lanes_label(items)
    build = ROOT / "build" / "bench" / "lanes" / f"{name}-{label.replace(',', '_')}"
    nat = run_native(net, x, lanes=items, build_dir=build, in_pack=PACK)
    gold = run_network(net, x)
    agree = int(((nat["prediction"] == gold.prediction) & (nat["acc"] == gold.acc).all(1)).sum())
    b = event_bound(net, x, lanes=items, in_pack=PACK)
    c = nat["cycles"]
    ops = synaptic_ops(net, x)
    cost = estimate_cost(net, items, budget["family"], dsp=budget["dsp"])
    ratio = c / b["bound"]
    return {
        "net": name, "board": board, "asked": str(lanes), "lanes": label, "in_pack": PACK,
        "images": int(c.size), "cycles_mean": float(c.mean()), "cycles_max": int(c.max()),
        "ops_per_cycle": float(ops.sum() / c.sum()),
        "input_work_mean": float(b["input_work"].mean()),
        "spike_work_mean": float(b["spike_work"].mean()),
        "bound_mean": float(b["bound"].mean()),
        "ratio_min": float(ratio.min()), "ratio_max": float(ratio.max()),
        "below_lower": int((c < b["lower"]).sum()),
        "est_dsp": f"{cost['dsp']}/{budget['dsp']}", "est_bram": f"{cost['bram']}/{budget['bram']}",
        "agree": f"{agree}/{c.size}", "all_agree": agree == c.size,
        "_cycles": c,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=200, help="test images per net (200)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows, nets = [], {}
    for name, board, lanes, base in ROWS:  # the results are rewritten after every row
        if rows:
            report(rows, args.images, t0)
        if name not in nets:
            net, x_test, _ = trained.load(name, 0)
            nets[name] = (net, x_test[: args.images])
        net, x = nets[name]
        row = measure(name, net, x, board, lanes)
        ref = next((r for r in rows if r["net"] == name and r["asked"] == str(base)), None)
        row["baseline"] = "-" if ref is None else ref["lanes"]
        row["speedup"] = 1.0 if ref is None else float((ref["_cycles"] / row["_cycles"]).mean())
        rows.append(row)
        print(f"{name} {board} lanes={row['lanes']}: {row['cycles_mean']:.0f} cycles, "
              f"{row['ops_per_cycle']:.1f} ops/cycle, bound ratio {row['ratio_min']:.2f}-"
              f"{row['ratio_max']:.2f}, x{row['speedup']:.2f} vs {row['baseline']}, agree "
              f"{row['agree']}", flush=True)
    report(rows, args.images, t0)
    return 0 if all(r["all_agree"] and r["below_lower"] == 0 for r in rows) else 1


def report(rows, images, t0) -> None:
    """Print and write bench/results/lanes.{json,md} for the rows measured so far."""
    rows = [{k: v for k, v in r.items() if k != "_cycles"} for r in rows]
    cols = [("net", "net"), ("board", "planned for"), ("asked", "--lanes"), ("lanes", "lanes"),
            ("images", "images"), ("cycles_mean", "cycles/inf"), ("cycles_max", "max"),
            ("ops_per_cycle", "syn. ops/cycle"), ("input_work_mean", "input work"),
            ("spike_work_mean", "spike work"), ("bound_mean", "bound"),
            ("ratio_min", "cycles/bound min"), ("ratio_max", "max"),
            ("speedup", "speed-up"), ("baseline", "vs"), ("est_dsp", "DSP (est.)"),
            ("est_bram", "BRAM (est.)"), ("agree", "RTL = golden")]

    lines = markdown_table(rows, cols)
    print("\n".join(lines))
    gw = gateware_version()
    md = [
        "# Per-layer lanes and spike masks: cycles per inference",
        "",
        f"`python bench/lanes.py --images {images}` ({gateware_note(gw)}; Verilator, "
        f"`in_pack = {PACK}`, input "
        "always valid, output always ready; the same images for every row of a net). `LxK`: "
        "`L` lanes, `K` spikes of the previous layer a cycle (an adder tree over `K` weight "
        "rows, docs/core.md). `auto` is planned for the named board's resources "
        "(`core.lanes.auto_lanes`); the DSP and block-RAM columns are the planner's "
        "shape-only estimates for that board, not a synthesis result. The speed-up is over "
        "the baseline row named in `vs` (today's core: one `lanes`, one spike a cycle), "
        "measured in the same run.",
        "",
        *lines,
    ]
    doc = {"bench": "lanes", "description": __doc__.split("\n")[0], "in_pack": PACK,
           "gateware": gw, "rows": rows, "seconds": time.perf_counter() - t0}
    write_results(ROOT / "bench" / "results" / "lanes", doc, "\n".join(md) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
