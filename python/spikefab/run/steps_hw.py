"""Steps ``verilog``, ``sim`` and ``bitstream``: the gateware side, called without importing
Amaranth here.

``verilog`` and ``bitstream`` run ``python -m spikefab_hdl verilog|build`` in a
subprocess whose output goes to ``<run>/logs/<step>.log``; a failure is the command's own
one-line error (it names the tool and the tool's log) or, when it has none, its exit
status and that log. ``sim`` imports ``spikefab_hdl.sim.rtlsim`` inside the step (python/spikefab
never imports Amaranth at module import) and compares the Verilator run with golden using
``golden.compare_rtl``: prediction and every accumulator, and with ``hardware.trace`` every
per-step logit, spike and membrane.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from ..golden import compare_rtl, run_network
from ..ir import QuantizedNetwork
from .config import lanes_arg
from .progress import spinner
from .rundir import write_json

__all__ = ["RTLMismatch", "StepFailed", "run_bitstream_board", "run_sim", "run_verilog",
           "sim_inputs", "sim_lines"]


class StepFailed(RuntimeError):
    """A step ran but its result is a failure (RTL disagrees, a tool or a build failed);
    ``step`` names it (the runner fills it in)."""

    def __init__(self, message: str, step: str | None = None):
        super().__init__(message)
        self.step = step


class RTLMismatch(StepFailed):
    """The ``sim`` step ran and RTL and golden disagree (``sim/results.npz`` holds which
    samples: ``agree``)."""


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


def _hdl(ctx, args: list[str], desc: str, log_name: str) -> str:
    """Run ``python -m spikefab_hdl <args>``, its output saved to ``logs/<log_name>``;
    returns its stdout. A failure raises :class:`StepFailed` (ValueError for bad input,
    exit 2)."""
    log = ctx.run.path("logs", log_name)
    cmd = [sys.executable, "-m", "spikefab_hdl", *args]
    with spinner(desc):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    atomic_write_text(log, f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
                           f"[exit {proc.returncode}]\n")
    if proc.returncode == 0:
        return proc.stdout
    if proc.returncode in (130, -2):
        raise KeyboardInterrupt
    said = [ln[len("error: "):] for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    if said and proc.returncode == 2:
        raise ValueError(said[-1])
    if said:
        raise StepFailed(said[-1])
    raise StepFailed(f"python -m spikefab_hdl {args[0]} failed (exit {proc.returncode}): "
                     f"{_last_line(proc.stderr or proc.stdout)}; log: {log}")


def run_verilog(ctx) -> dict:
    """``rtl/spikefab_core.{v,json}`` for ``hardware.lanes`` and ``hardware.in_pack``."""
    lanes, pack = ctx.cfg["hardware"]["lanes"], ctx.cfg["hardware"]["in_pack"]
    out = ctx.run.path("rtl")
    _hdl(ctx, ["verilog", "--ir", str(ctx.run.path("ir", "net")), "-o", str(out),
               "--lanes", lanes_arg(lanes), "--in-pack", str(pack)], "generate Verilog",
         "verilog.log")
    files = sorted(p.name for p in out.glob("*") if p.is_file())
    ctx.say(f"Verilog (lanes={lanes}, in_pack={pack}) -> {out}: {', '.join(files)}")
    return {"lanes": lanes, "in_pack": pack, "files": files}


def sim_lines(s: dict) -> list[str]:
    """What ``make demo`` prints, from a ``sim.json`` summary."""
    lines = []
    for name in ("float", "golden", "RTL"):
        key = name.lower()
        right = s["right"][key] if "right" in s else round(s[f"{key}_acc"] * s["n"])
        lines.append(f"{name + ' accuracy:':17s}{100 * right / s['n']:.2f}% ({right}/{s['n']})")
    lines.append(f"agreement: {s['matching']}/{s['total']}")
    if s["trace_compared"]:
        lines.append(f"trace ({', '.join(s['trace_compared'])}): "
                     f"{s['total'] - s['trace_mismatches']}/{s['total']} samples identical")
    c = s["cycles"]
    lines.append(f"cycles per inference: mean {c['mean']:.1f}, min {c['min']}, max {c['max']}")
    return lines


def sim_inputs(ctx) -> tuple[QuantizedNetwork, np.ndarray, np.ndarray]:
    """The run's IR and the samples the ``sim`` step simulates: the test set or its first
    ``hardware.sim_samples``; ``(net, x, y)``."""
    hw = ctx.cfg["hardware"]
    net = QuantizedNetwork.load(ctx.run.path("ir", "net"))
    x = np.load(ctx.run.path("ir", "test_inputs.npy"))
    with np.load(ctx.run.path("ir", "golden.npz")) as z:
        y = z["y"]
    n = len(y) if hw["sim_samples"] == 0 else min(hw["sim_samples"], len(y))
    x = x[:n] if net.spec.encoding == "direct" else x[:, :n]
    return net, x, y[:n]


def run_sim(ctx) -> dict:
    """Simulate the test set (or its first ``hardware.sim_samples``) in Verilator."""
    from spikefab_hdl.sim.rtlsim import simulate  # lazy: it imports amaranth

    hw = ctx.cfg["hardware"]
    net, x, y = sim_inputs(ctx)
    n = len(y)
    golden = run_network(net, x)
    with spinner(f"Verilator: build + simulate {n} samples (lanes={hw['lanes']}, "
                 f"in_pack={hw['in_pack']})"):
        rtl = simulate(net, x, lanes=hw["lanes"], build_dir=ctx.run.path("sim", "verilator"),
                       trace=hw["trace"], in_pack=hw["in_pack"])
    cmp = compare_rtl(golden, rtl)
    cycles = np.asarray(rtl["cycles"], np.int64)
    float_pred = np.load(ctx.run.path("student", "float_pred.npy"))[:n]
    buf = io.BytesIO()
    np.savez_compressed(buf, prediction=rtl["prediction"], acc=rtl["acc"], cycles=cycles,
                        match=cmp["match"], agree=cmp["agree"])
    atomic_write_bytes(ctx.run.path("sim", "results.npz"), buf.getvalue())
    rtl_pred = np.asarray(rtl["prediction"])
    summary = {
        "n": int(n), "lanes": hw["lanes"], "in_pack": hw["in_pack"],
        "float_acc": float((float_pred == y).mean()),
        "golden_acc": float((golden.prediction == y).mean()),
        "rtl_acc": float((rtl_pred == y).mean()),
        "right": {"float": int((float_pred == y).sum()),
                  "golden": int((golden.prediction == y).sum()),
                  "rtl": int((rtl_pred == y).sum())},
        "matching": cmp["matching"], "total": cmp["total"],
        "trace_compared": cmp["trace_compared"], "trace_mismatches": cmp["trace_mismatches"],
        "cycles": {"mean": float(cycles.mean()), "min": int(cycles.min()),
                   "max": int(cycles.max())},
        "build_seconds": round(float(rtl["build_seconds"]), 3),
        "sim_seconds": round(float(rtl["sim_seconds"]), 3),
    }
    write_json(ctx.run.path("sim", "sim.json"), summary)
    for line in sim_lines(summary):
        ctx.say(line)
    if cmp["matching"] != cmp["total"] or cmp["trace_mismatches"]:
        raise RTLMismatch(f"RTL and golden disagree on "
                         f"{cmp['total'] - cmp['matching']} of {cmp['total']} samples "
                         f"({cmp['trace_mismatches']} trace mismatches); see "
                         f"{ctx.run.path('sim', 'sim.json')}")
    return summary


def run_bitstream_board(ctx, board: str) -> dict:
    """Build the bitstream for ``board`` with ``python -m spikefab_hdl build``."""
    root = ctx.run.path("bitstreams")
    t0 = time.perf_counter()
    # a timing failure still leaves its report.json; the report shows it
    stdout = _hdl(ctx, ["build", "--board", board, "--ir", str(ctx.run.path("ir", "net")),
                        "--lanes", lanes_arg(ctx.cfg["hardware"]["lanes"]),
                        "--baud", str(ctx.cfg["hardware"]["baud"]),
                        "--in-pack", str(ctx.cfg["hardware"]["in_pack"]), "-o", str(root)],
                  f"bitstream for {board} (yosys + nextpnr)", f"bitstream-{board}.log")
    seconds = time.perf_counter() - t0
    report = ctx.run.read_json("bitstreams", board, "report.json")
    ctx.say(_last_line(stdout))
    clock = report["clock"] if report else {}
    return {"board": board, "seconds": round(seconds, 1), "fmax_mhz": clock.get("fmax_mhz"),
            "met": clock.get("met"), "bitstream": report["bitstream"] if report else None}
