"""End to end through the UART: inferences per second of the board top's Verilator model.

    python bench/fil.py [--images N] [--clk-mhz F] [--bauds 115200,1000000,3000000]

For the trained nets ``digits`` (64 4-bit pixels, T=4), ``mnist5k`` (784 4-bit pixels) and
``digits-spikes`` (rate-coded, T=8), from ``spikefab.trained``: build ``board_sim`` (the
board top in Verilator, its UART pins driven from C++, ``spikefab_hdl.sim.board_bridge``)
at each UART rate and classify the same test images through the pins with the C99 library
(firmware/, no Python in the loop): request, inference and answer one after another, as a
host does (docs/protocol.md). The clock is the ULX3S's 25 MHz board clock by default, the
bit time ``clk_hz / baud`` exactly (a fractional divider where it does not divide: 3 Mbaud is
8 1/3 cycles per bit); every bit of every byte is simulated. 4-bit pixels travel two per
byte (INFO ``value_bits`` 4); one row per net at the top rate has them one per byte
(``pack=False``), and one row per net runs the Python driver (``SimTransport``) instead.

Reported per row: every prediction and accumulator against golden; bytes on the wire per
image (request and answer frames); simulated clock cycles per image (UART and core);
**inferences/s = clk_hz / cycles per image** (simulated time: what the board would do);
the ratio to the 115,200-baud row of the same net and run; the link's use (bits on the wire
per second / baud: what one-request-at-a-time leaves of the line); the core's own cycles;
``bound``: baud / 10 / bytes, the rate of a line that never idles (arithmetic); wall-clock
images/s of the simulation.

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
from spikefab.protocol import DEFAULT_BAUD, FRAME_OVERHEAD
from spikefab_hdl.sim.board_bridge import build_board_sim, open_bridge, run_fil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
NETS = (("digits", "direct"), ("mnist5k", "direct"), ("digits-spikes", "spikes"))
COLUMNS = [
    ("net", "net"), ("baud", "baud"), ("packed", "4-bit packed"), ("driver", "driver"),
    ("images", "images"), ("agree", "== golden"), ("wire_bytes", "bytes/image"),
    ("cycles_per_image", "sim cycles/image"), ("inferences_per_s", "inferences/s"),
    ("ratio", "× vs 115200"), ("link_use", "link use"), ("core_cycles_mean", "core cycles"),
    ("bound", "bound (inf/s)"), ("wall_per_s", "wall images/s"),
]


def _load(name: str, encoding: str, n: int):
    net, x, _y = trained.load(name, 0)
    x = x[:n] if encoding == "direct" else np.transpose(x, (1, 0, 2))[:n]
    batch = x if encoding == "direct" else np.transpose(x, (1, 0, 2))
    return net, x, run_network(net, batch)


def _row(name, build, info, x, golden, *, driver, got, cycles, wall_s) -> dict:
    wire = (info.sample_len + FRAME_OVERHEAD) + (info.result_len + FRAME_OVERHEAD)
    per_image = cycles / len(x)
    rate = build.clk_hz / per_image
    return {
        "net": name, "baud": build.baud, "driver": driver,
        "packed": "-" if info.encoding == "spikes" else ("yes" if info.value_bits == 4 else "no"),
        "images": len(x),
        "agree": bool(np.array_equal(got["prediction"], golden.prediction[: len(x)])
                      and np.array_equal(got["acc"], golden.acc[: len(x)])),
        "wire_bytes": wire, "cycles_per_image": round(per_image),
        "inferences_per_s": round(rate, 1),
        "link_use": f"{100 * rate * wire * 10 / build.baud:.1f}%",
        "core_cycles_mean": round(float(np.mean(got["cycles"])), 1),
        "bound": round(build.baud / 10 / wire, 1), "wall_per_s": round(len(x) / wall_s, 1),
        "clk_hz": build.clk_hz, "divisor": str(build.divisor), "value_bits": info.value_bits,
    }


def measure(name, encoding, net, x, golden, *, clk_hz, baud, pack=True,
            python=False) -> dict:
    """One build at ``baud``; the C library (or the Python driver) on every image."""
    tag = f"{name}-{baud}" + ("" if pack else "-unpacked")
    build = build_board_sim(net, ROOT / "build" / "bench" / "fil" / tag, clk_hz=clk_hz,
                            baud=baud, pack=pack)
    with Board(open_bridge(build), timeout=0.05, idle=0.001) as board:
        info = board.info()  # what the board says: baud, value_bits
        if python:
            start, t0 = board.transport.cycles, time.perf_counter()
            res = [board.infer(s) for s in x]
            wall = time.perf_counter() - t0
            got = {"prediction": [r.prediction for r in res], "acc": [r.acc for r in res],
                   "cycles": [r.cycles for r in res]}
            return _row(name, build, info, x, golden, driver="python", got=got,
                        cycles=board.transport.cycles - start, wall_s=wall)
    fil = run_fil(build, x, encoding, build.exe.parent)
    return _row(name, build, info, x, golden, driver="fil (C)", got=fil,
                cycles=fil["infer_cycles"], wall_s=fil["seconds"])


def _markdown(rows: list[dict], meta: dict) -> str:
    head = "| " + " | ".join(t for _, t in COLUMNS) + " |"
    sep = "|" + "---|" * len(COLUMNS)
    body = ["| " + " | ".join(str(r[k]) for k, _ in COLUMNS) + " |" for r in rows]
    return "\n".join([
        "# End to end through the UART (bench/fil.py)", "",
        f"The board top in Verilator at {meta['clk_hz'] / 1e6:g} MHz (the ULX3S's board "
        f"clock), the core's lanes 4, UART bit time clk_hz / baud exactly (3 Mbaud: 8 1/3 "
        f"cycles), every bit simulated; one request at a time, as a host sends them. "
        f"`inferences/s` = clk_hz / simulated cycles per image (request, inference, answer); "
        f"`× vs 115200`: against the same net's 115,200-baud row of this run; `link use`: "
        f"bits on the wire per second / baud; `bound`: baud / 10 / bytes per image "
        f"(arithmetic: a line that never idles); `wall images/s`: the simulation's own "
        f"speed. Machine: {meta['machine']}.", "",
        head, sep, *body, ""])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--clk-mhz", type=float, default=25.0)
    p.add_argument("--bauds", default="115200,1000000,3000000")
    args = p.parse_args(argv)
    clk_hz = round(args.clk_mhz * 1e6)
    bauds = [int(b) for b in args.bauds.split(",")]
    rows = []
    for name, encoding in NETS:
        net, x, golden = _load(name, encoding, args.images)
        runs = [dict(baud=b) for b in bauds]
        if encoding == "direct":
            runs.append(dict(baud=bauds[-1], pack=False))
        runs.append(dict(baud=bauds[-1], python=True))
        mine = []
        for run in runs:
            xs = x[:20] if run.get("python") else x  # the Python loop is slower
            mine.append(measure(name, encoding, net, xs, golden, clk_hz=clk_hz, **run))
            print("  ".join(f"{t}={mine[-1].get(k, '-')}" for k, t in COLUMNS), flush=True)
        base = next((r for r in mine if r["baud"] == DEFAULT_BAUD), None)
        for r in mine:
            r["ratio"] = round(r["inferences_per_s"] / base["inferences_per_s"], 2) \
                if base else "-"
        rows += mine
    meta = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "python": platform.python_version(), "clk_hz": clk_hz}
    write_results(RESULTS / "fil", {"meta": meta, "rows": rows}, _markdown(rows, meta))
    return 0 if all(r["agree"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
