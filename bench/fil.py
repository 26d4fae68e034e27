"""End to end through the UART: inferences per second of the board top's Verilator model.

    python bench/fil.py [--images N] [--clk-mhz F] [--bauds 115200,1000000,3000000]

For the trained nets ``digits`` (64 4-bit pixels, T=4), ``mnist5k`` (784 4-bit pixels) and
``digits-spikes`` (rate-coded, T=8), from ``spikefab.trained``: build ``board_sim`` (the
board top in Verilator, its UART pins driven from C++, ``spikefab_hdl.sim.board_bridge``)
at each UART rate and classify the same test images through the pins with the C99 library
(firmware/, no Python in the loop), twice in the same run: one request at a time
(``sfp_client_infer``: request, inference and answer one after another, today's link) and
with two requests outstanding (``sfp_client_infer_many``, INFO ``window`` 2: the next
sample is on the wire while the board computes and answers). The clock is the ULX3S's
25 MHz board clock by default, the bit time ``clk_hz / baud`` exactly (a fractional divider
where it does not divide: 3 Mbaud is 8 1/3 cycles per bit); every bit of every byte is
simulated. 4-bit pixels travel two per byte (INFO ``value_bits`` 4); one row per direct net
at the top rate has them one per byte (``pack=False``), and one row per net runs the Python
driver (``SimTransport``, ``Board.infer_many``) instead.

Reported per row: every prediction and accumulator against golden; bytes per image
(request + answer frames); simulated clock cycles per image (UART and core);
**inferences/s = clk_hz / cycles per image** (simulated time: what the board would do);
the ratio to the same net's 115,200-baud one-outstanding row and to the same rate's
one-outstanding row; **link use**: bits per second on the busier of the two lines (the
request line for these nets) / baud, which a line that never idles makes 100 %; ``both
lines``: request and answer bits per second / baud (over 100 % once they overlap); the
core's own cycles; ``bound``: baud / 10 / the busier line's bytes per image, the rate of a
line that never idles (arithmetic; one request at a time can reach only baud / 10 / both
frames' bytes); wall-clock images/s of the simulation.

Prints a table and writes bench/results/fil.json and bench/results/fil.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from jobcache import gateware_note, gateware_version, write_results
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
    ("window", "outstanding"), ("images", "images"), ("agree", "== golden"),
    ("wire_bytes", "bytes/image"), ("cycles_per_image", "sim cycles/image"),
    ("inferences_per_s", "inferences/s"), ("ratio", "× vs 115200, 1"),
    ("ratio_window", "× vs 1 outstanding"), ("link_use", "link use"),
    ("both_lines", "both lines"), ("core_cycles_mean", "core cycles"),
    ("bound", "bound (inf/s)"), ("wall_per_s", "wall images/s"),
]


def _load(name: str, encoding: str, n: int):
    net, x, _y = trained.load(name, 0)
    x = x[:n] if encoding == "direct" else np.transpose(x, (1, 0, 2))[:n]
    batch = x if encoding == "direct" else np.transpose(x, (1, 0, 2))
    return net, x, run_network(net, batch)


def _row(name, build, info, x, golden, *, driver, window, got, cycles, wall_s) -> dict:
    request, answer = info.sample_len + FRAME_OVERHEAD, info.result_len + FRAME_OVERHEAD
    wire, busier = request + answer, max(request, answer)
    per_image = cycles / len(x)
    rate = build.clk_hz / per_image
    return {
        "net": name, "baud": build.baud, "driver": driver, "window": window,
        "request_bytes": request, "answer_bytes": answer,
        "packed": "-" if info.encoding == "spikes" else ("yes" if info.value_bits == 4 else "no"),
        "images": len(x),
        "agree": bool(np.array_equal(got["prediction"], golden.prediction[: len(x)])
                      and np.array_equal(got["acc"], golden.acc[: len(x)])),
        "wire_bytes": wire, "cycles_per_image": round(per_image),
        "inferences_per_s": round(rate, 1),
        "link_use": f"{100 * rate * busier * 10 / build.baud:.1f}%",
        "both_lines": f"{100 * rate * wire * 10 / build.baud:.1f}%",
        "core_cycles_mean": round(float(np.mean(got["cycles"])), 1),
        "bound": round(build.baud / 10 / (busier if window > 1 else wire), 1),
        "wall_per_s": round(len(x) / wall_s, 1),
        "clk_hz": build.clk_hz, "divisor": str(build.divisor), "value_bits": info.value_bits,
    }


def measure(name, encoding, net, x, golden, *, clk_hz, baud, pack=True, python=False,
            window=1) -> dict:
    """One build at ``baud``; the C library (or the Python driver) on every image, with
    ``window`` requests outstanding."""
    tag = f"{name}-{baud}" + ("" if pack else "-unpacked")
    build = build_board_sim(net, ROOT / "build" / "bench" / "fil" / tag, clk_hz=clk_hz,
                            baud=baud, pack=pack)
    with Board(open_bridge(build), timeout=0.05, idle=0.001) as board:
        info = board.info()  # what the board says: baud, value_bits
        if python:
            start, t0 = board.transport.cycles, time.perf_counter()
            res = board.infer_many(x, window=window)
            wall = time.perf_counter() - t0
            got = {"prediction": [r.prediction for r in res], "acc": [r.acc for r in res],
                   "cycles": [r.cycles for r in res]}
            return _row(name, build, info, x, golden, driver="python", window=window,
                        got=got, cycles=board.transport.cycles - start, wall_s=wall)
    fil = run_fil(build, x, encoding, build.exe.parent / f"w{window}", window=window)
    return _row(name, build, info, x, golden, driver="fil (C)", window=window, got=fil,
                cycles=fil["infer_cycles"], wall_s=fil["seconds"])


def _markdown(rows: list[dict], meta: dict) -> str:
    head = "| " + " | ".join(t for _, t in COLUMNS) + " |"
    sep = "|" + "---|" * len(COLUMNS)
    body = ["| " + " | ".join(str(r[k]) for k, _ in COLUMNS) + " |" for r in rows]
    return "\n".join([
        "# End to end through the UART (bench/fil.py)", "",
        f"The board top in Verilator at {meta['clk_hz'] / 1e6:g} MHz (the ULX3S's board "
        f"clock), the core's lanes 4, UART bit time clk_hz / baud exactly (3 Mbaud: 8 1/3 "
        f"cycles), every bit simulated; `outstanding`: 1 = one request at a time (request, "
        f"inference, answer; the link before issue 22's pipelining), 2 = two requests "
        f"outstanding (INFO window 2: the next sample on the wire while the board computes), "
        f"both in this run. `inferences/s` = clk_hz / simulated cycles per image; `× vs "
        f"115200, 1`: against the same net's 115,200-baud one-outstanding row; `× vs 1 "
        f"outstanding`: against the same rate's one-outstanding row; `link use`: bits per "
        f"second on the busier line (host → board here) / baud; `both lines`: request and "
        f"answer bits per second / baud; `bound`: baud / 10 / bytes per image on the busier "
        f"line (2 outstanding) or on both (1 outstanding): a line that never idles "
        f"(arithmetic); `wall images/s`: the simulation's own speed. Every row's predictions "
        f"and accumulators equal golden (`== golden`). Machine: {meta['machine']}; "
        f"{gateware_note(meta['gateware'])}.", "",
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
        runs = [dict(baud=b, window=w) for b in bauds for w in (1, 2)]
        if encoding == "direct":
            runs.append(dict(baud=bauds[-1], pack=False))
        runs.append(dict(baud=bauds[-1], python=True, window=2))
        mine = []
        for run in runs:
            xs = x[:20] if run.get("python") else x  # the Python loop is slower
            mine.append(measure(name, encoding, net, xs, golden, clk_hz=clk_hz, **run))
            print("  ".join(f"{t}={mine[-1].get(k, '-')}" for k, t in COLUMNS), flush=True)
        base = next((r for r in mine if r["baud"] == DEFAULT_BAUD and r["window"] == 1), None)
        for r in mine:
            r["ratio"] = round(r["inferences_per_s"] / base["inferences_per_s"], 2) \
                if base else "-"
            one = next((o for o in mine if o["baud"] == r["baud"] and o["window"] == 1
                        and o["packed"] == r["packed"] and o["driver"] == "fil (C)"), None)
            r["ratio_window"] = round(r["inferences_per_s"] / one["inferences_per_s"], 2) \
                if one and r is not one else "-"
        rows += mine
    meta = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "python": platform.python_version(), "clk_hz": clk_hz,
            "gateware": gateware_version()}
    write_results(RESULTS / "fil", {"meta": meta, "rows": rows}, _markdown(rows, meta))
    return 0 if all(r["agree"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
