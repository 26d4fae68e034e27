"""The core in Verilator with a C++ driver instead of cocotb: raw model throughput.

cocotb calls into Python at every clock edge, so a cocotb bench measures mostly Python.
:func:`run_native` builds the Verilog with a small C++ harness (inputs always valid,
outputs always ready, the same handshake rules as the cocotb bench) and reports the
clock cycles simulated per second of the C++ loop, next to the results it collected,
which the caller can compare with golden like any other run. Trace ports are not
supported here (build with ``trace=False``); payloads must fit in 64 bits.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from spikefab.atomic import atomic_write_text
from spikefab.ir import QuantizedNetwork

from ..build.verilog import write_verilog
from . import verilator
from .beats import Recorder, input_beats
from .pysim import sample_inputs
from .verilator import Harness, VerilatorError

__all__ = ["HARNESS", "build_harness", "cycle_limit", "run_native"]

TOPLEVEL = "spikefab_core"

HARNESS = r"""
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "verilated.h"
#include "Vnative.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

// argv: inputs file (one decimal beat per line), outputs file, output beats expected,
// cycle limit; prints "cycles seconds". Built with --trace (sim/waves.py) also: a VCD
// file and the input beat from whose first offer on every cycle is dumped into it.
int main(int argc, char** argv) {
    VerilatedContext ctx;
#if VM_TRACE
    ctx.traceEverOn(true);
#endif
    Vnative top{&ctx};
#if VM_TRACE
    VerilatedVcdC vcd;
    top.trace(&vcd, 99);
    const size_t trace_from = std::strtoull(argv[6], nullptr, 10);
    bool tracing = false;
#endif
    std::vector<uint64_t> beats;
    FILE* in = std::fopen(argv[1], "r");
    unsigned long long v;
    while (std::fscanf(in, "%llu", &v) == 1) beats.push_back(v);
    std::fclose(in);
    const size_t expected = std::strtoull(argv[3], nullptr, 10);
    std::vector<uint64_t> outs;
    outs.reserve(expected);
    top.clk = 0; top.rst = 1; top.i_stream__valid = 0; top.o_stream__ready = 0;
    for (int k = 0; k < 3; ++k) { top.clk = 0; top.eval(); top.clk = 1; top.eval(); }
    top.rst = 0;
    size_t pos = 0;
    uint64_t cycles = 0;
    const uint64_t limit = std::strtoull(argv[4], nullptr, 10);
    auto t0 = std::chrono::steady_clock::now();
    while (outs.size() < expected && cycles < limit) {
        top.clk = 0;
        top.i_stream__valid = pos < beats.size();
        if (pos < beats.size()) top.i_stream__payload = beats[pos];
        top.o_stream__ready = 1;
        top.eval();
#if VM_TRACE
        if (!tracing && pos >= trace_from) { vcd.open(argv[5]); tracing = true; }
        if (tracing) vcd.dump(10 * cycles);
#endif
        bool in_fire = top.i_stream__valid && top.i_stream__ready;
        if (top.o_stream__valid) outs.push_back(top.o_stream__payload);
        top.clk = 1;
        top.eval();
#if VM_TRACE
        if (tracing) vcd.dump(10 * cycles + 5);
#endif
        if (in_fire) ++pos;
        ++cycles;
    }
#if VM_TRACE
    if (tracing) { top.clk = 0; top.eval(); vcd.dump(10 * cycles); vcd.close(); }
#endif
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    FILE* out = std::fopen(argv[2], "w");
    for (uint64_t o : outs) std::fprintf(out, "%llu\n", (unsigned long long)o);
    std::fclose(out);
    std::printf("%llu %.9f\n", (unsigned long long)cycles, secs);
    return outs.size() == expected ? 0 : 1;
}
"""


def build_harness(verilog: Path, build_dir: Path, *, name: str = "native",
                  vflags: tuple[str, ...] = ()) -> float:
    """Compile ``verilog`` with the harness into ``build_dir/<name>`` (cached by hash;
    ``vflags=("--trace",)`` for the VCD-writing build of :mod:`.waves`)."""
    harness = build_dir / "harness.cpp"
    # Verilator's C++ names escape the "__" of Amaranth's port names as "___05F".
    text = HARNESS.replace("_stream__", "_stream___05F")
    if not harness.is_file() or harness.read_text() != text:
        atomic_write_text(harness, text)
    return verilator.build(verilog, toplevel=TOPLEVEL, build_dir=build_dir,
                           harness=Harness(name, (harness,), "Vnative", vflags=vflags))


def cycle_limit(desc: dict, n_samples: int, n_beats: int) -> int:
    """A guard against a hung core: twice the work of every input firing at every step,
    plus slack per beat."""
    plan = desc["plan"]
    worst = sum(lp["n_in"] * (lp["conv"]["kernel"] ** 2 * lp["conv"]["channel_groups"]
                              if "conv" in lp else lp["groups"]) + lp["groups"]
                for lp in plan["layers"])
    expected = n_samples * (plan["n_classes"] + 2)
    return 1000 * expected + 100 * n_beats + 10**6 + 2 * n_samples * plan["timesteps"] * worst


def run_native(net: QuantizedNetwork, x, *, lanes: int = 4, build_dir, in_pack: int = 1,
               spram=None, dsp: int | None = None, mac8x8: bool = False,
               bram_outreg: bool | str = False) -> dict:
    """Simulate ``x`` on ``net``'s core in Verilator with the C++ harness (``in_pack``:
    direct input values per beat; ``spram``: the placement of conv state memories in
    single-port RAM; ``dsp``: products in DSP blocks at most; ``mac8x8``: two a block
    (SB_MAC16 dual 8x8, its model simulated); ``bram_outreg``: DP16KD
    weight memories with their output register; all ``NetworkCore``'s).

    Returns
    -------
    dict
        ``prediction``, ``acc``, ``cycles`` (per sample, the core's count), ``sim_cycles``
        (clock cycles simulated), ``loop_seconds`` (wall time of the C++ loop),
        ``cycles_per_second``, ``build_seconds``.
    """
    samples = sample_inputs(net, x)
    build_dir = Path(build_dir).resolve()
    v_path, j_path = write_verilog(net, build_dir, lanes=lanes, trace=False, in_pack=in_pack,
                                   spram=spram, dsp=dsp, mac8x8=mac8x8,
                                   bram_outreg=bram_outreg)
    desc = json.loads(j_path.read_text())
    for port in ("i_stream__payload", "o_stream__payload"):
        if desc["ports"][port]["width"] > 64:
            raise ValueError(f"{port} is {desc['ports'][port]['width']} bits; the harness takes 64")
    build_seconds = build_harness(v_path, build_dir)
    beats = [b for s in samples for b in input_beats(desc, s)]
    inputs, outputs = build_dir / "native_inputs.txt", build_dir / "native_outputs.txt"
    atomic_write_text(inputs, "".join(f"{b}\n" for b in beats))
    rec = Recorder(desc, len(samples))
    expected = len(samples) * rec.beats_per_result
    limit = cycle_limit(desc, len(samples), len(beats))
    proc = subprocess.run(
        [str(build_dir / "native"), str(inputs), str(outputs), str(expected), str(limit)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise VerilatorError(f"native run failed (exit {proc.returncode}): {proc.stderr[-500:]}")
    cycles, seconds = proc.stdout.split()
    for line in outputs.read_text().split():
        rec.output(int(line))
    res = rec.results()
    return {
        **res,
        "sim_cycles": int(cycles),
        "loop_seconds": float(seconds),
        "cycles_per_second": int(cycles) / max(float(seconds), 1e-9),
        "build_seconds": build_seconds,
    }

