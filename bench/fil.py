"""Firmware in the loop: the C library and the Python driver on the board top's Verilator model.

    python bench/fil.py [--images N]

For the trained digits models (direct 4-bit input, T=4; rate-coded spikes, T=8; from
``spikefab.trained``): build ``board_sim`` (the board top in Verilator with C++ UART pins,
``spikefab_hdl.sim.board_bridge``; 12 MHz, 4 clocks per UART bit, T_idle 300 cycles) and
classify the test images twice through the board's UART:

* ``fil``: the C99 library (firmware/) linked to the model, no Python in the loop;
* ``python``: :class:`spikefab.driver.client.Board` over ``SimTransport`` (a pipe to
  the same executable), the code that drives a serial port.

Every prediction and accumulator is compared with golden. Reported: samples per
wall-clock second of each loop, simulated clock cycles per sample (UART transfers
included) and per wall-clock second, the core's own cycles per inference, and the bytes
on the wire per sample. ``uart_bound_115200`` is arithmetic, not a measurement: the
samples/s the 115,200-baud link of the board builds allows (10 bits per byte, both
directions' bytes in sequence, core time ignored).

Prints a table and writes bench/results/fil.json and bench/results/fil.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from jobcache import write_results
from spikefab import trained
from spikefab.driver.client import Board
from spikefab.golden import run_network
from spikefab.protocol import FRAME_OVERHEAD, NetInfo
from spikefab_hdl.sim.board_bridge import build_board_sim, open_bridge, run_fil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CLK_HZ, DIVISOR, T_IDLE = 12_000_000, 4, 300
COLUMNS = [
    ("net", "net"), ("driver", "driver"), ("images", "images"), ("agree", "== golden"),
    ("samples_per_s", "samples/s"), ("sim_cycles_per_sample", "sim cycles/sample"),
    ("sim_cycles_per_s", "sim cycles/s"), ("core_cycles_mean", "core cycles/inf"),
    ("wire_bytes", "bytes/sample"), ("uart_bound_115200", "UART bound @115200 (samples/s)"),
]


def measure(name: str, net, x, encoding: str) -> list[dict]:
    """Both drivers on ``x`` ([N, n_in] or [N, T, n_in]); one row each."""
    build = build_board_sim(net, ROOT / "build" / "bench" / "fil" / name, clk_hz=CLK_HZ,
                            divisor=DIVISOR, timeout_cycles=T_IDLE)
    batch = x if encoding == "direct" else np.transpose(x, (1, 0, 2))
    golden = run_network(net, batch)
    info = NetInfo.from_network(net, CLK_HZ)
    wire = (info.sample_len + FRAME_OVERHEAD) + (info.result_len + FRAME_OVERHEAD)
    common = {"net": name, "images": len(x), "wire_bytes": wire,
              "uart_bound_115200": round(115_200 / 10 / wire, 1)}
    fil = run_fil(build, x, encoding, build.exe.parent)
    rows = [{
        **common, "driver": "fil (C)",
        "agree": bool(np.array_equal(fil["prediction"], golden.prediction)
                      and np.array_equal(fil["acc"], golden.acc)),
        "samples_per_s": round(fil["samples_per_s"], 1),
        "sim_cycles_per_sample": round(fil["sim_cycles"] / len(x)),
        "sim_cycles_per_s": round(fil["sim_cycles"] / fil["seconds"]),
        "core_cycles_mean": round(float(fil["cycles"].mean()), 1),
    }]
    with Board(open_bridge(build), timeout=0.005, idle=2 * T_IDLE / CLK_HZ) as board:
        board.info()
        start = board.transport.cycles
        t0 = time.perf_counter()
        res = [board.infer(s) for s in x]
        secs = time.perf_counter() - t0
        sim = board.transport.cycles - start
    rows.append({
        **common, "driver": "python (SimTransport)",
        "agree": bool(np.array_equal([r.prediction for r in res], golden.prediction)
                      and np.array_equal([r.acc for r in res], golden.acc)),
        "samples_per_s": round(len(x) / secs, 1),
        "sim_cycles_per_sample": round(sim / len(x)),
        "sim_cycles_per_s": round(sim / secs),
        "core_cycles_mean": round(float(np.mean([r.cycles for r in res])), 1),
    })
    return rows


def _markdown(rows: list[dict], meta: dict) -> str:
    head = "| " + " | ".join(t for _, t in COLUMNS) + " |"
    sep = "|" + "---|" * len(COLUMNS)
    body = ["| " + " | ".join(str(r[k]) for k, _ in COLUMNS) + " |" for r in rows]
    return "\n".join([
        "# Firmware in the loop (bench/fil.py)", "",
        f"Board top in Verilator at a nominal {CLK_HZ / 1e6:g} MHz, {DIVISOR} clocks per "
        f"UART bit, T_idle {T_IDLE} cycles; machine: {meta['machine']}.", "",
        head, sep, *body, "",
        "`UART bound` is arithmetic (115,200 baud, 10 bits per byte, request + answer "
        "bytes), not a measurement.", ""])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=360)
    args = p.parse_args(argv)
    rows = []
    net, x, _ = trained.load("digits", 0)
    rows += measure("digits-direct", net, x[: args.images], "direct")
    net, x, _ = trained.load("digits-spikes", 0)
    rows += measure("digits-spikes", net, np.transpose(x, (1, 0, 2))[: args.images], "spikes")
    meta = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "python": platform.python_version()}
    for r in rows:
        print("  ".join(f"{t}={r[k]}" for k, t in COLUMNS))
    write_results(RESULTS / "fil", {"meta": meta, "rows": rows}, _markdown(rows, meta))
    return 0 if all(r["agree"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
