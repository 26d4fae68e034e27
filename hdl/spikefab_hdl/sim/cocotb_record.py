"""cocotb test module behind :func:`spikefab_hdl.sim.rtlsim.simulate`: stream samples, record all.

Configuration comes from the JSON file named by ``SPIKEFAB_RTLSIM_CONFIG``
(``description``, ``inputs``, ``outputs``, ``idle``, ``stall``, ``seed``,
``max_cycles``). The bench drives every sample's input beats, records every output and
trace beat, and saves the decoded arrays to ``outputs`` (``.npz``). It compares
nothing with golden: the caller does.
"""

from __future__ import annotations

import io
import json
import os
import random
import time
from pathlib import Path

import cocotb
import numpy as np
from spikefab.atomic import atomic_write_bytes

from .beats import Recorder
from .cocotb_bench import CoreBench, StreamDriver, StreamSink, TraceMonitor

CONFIG_ENV = "SPIKEFAB_RTLSIM_CONFIG"


@cocotb.test()
async def record_run(dut):
    """Drive all samples, record outputs, trace and cycle counts."""
    cfg = json.loads(Path(os.environ[CONFIG_ENV]).read_text())
    desc = json.loads(Path(cfg["description"]).read_text())
    with np.load(cfg["inputs"]) as z:
        flat, lengths = z["beats"].tolist(), z["lengths"].tolist()
    n = len(lengths)
    rng = random.Random(cfg["seed"])
    rec = Recorder(desc, n)
    per_result = rec.beats_per_result
    boundaries = set(np.cumsum([0] + lengths[:-1]).tolist())
    starts: list[int] = []
    firsts: list[int] = []
    sent = [0]

    def on_input(cycle, raw):
        if sent[0] in boundaries:
            starts.append(cycle)
        sent[0] += 1

    def on_valid(cycle):
        if len(firsts) * per_result <= len(rec.outputs):
            firsts.append(cycle)

    bench = CoreBench(dut, desc)
    driver = bench.add(
        StreamDriver(dut, "i_stream", rng=rng, idle=cfg["idle"], on_beat=on_input)
    )
    sink = bench.add(
        StreamSink(dut, "o_stream", rng=rng, stall=cfg["stall"], on_beat=lambda c, r: rec.output(r))
    )
    sink.on_valid = on_valid
    if desc["trace"]:
        for lp in desc["plan"]["layers"]:
            i = lp["index"]
            bench.add(TraceMonitor(dut, f"trace__l{i}", i, rec.trace))
    await bench.reset()
    driver.send(flat)
    t0 = time.perf_counter()
    done = n * per_result
    cycles = await bench.run(lambda: len(rec.outputs) >= done, max_cycles=cfg["max_cycles"])
    loop_seconds = time.perf_counter() - t0
    drain_end = bench.cycle + 16
    sink.stall = 0.0
    await bench.run(lambda: bench.cycle >= drain_end, max_cycles=32)
    assert driver.empty, "input beats left unsent"
    arrays = rec.results()  # raises if the drain produced extra beats
    arrays["wall_cycles"] = np.asarray([f - s for s, f in zip(starts, firsts, strict=True)])
    arrays["sim_cycles"] = np.asarray(cycles)
    arrays["loop_seconds"] = np.asarray(loop_seconds)
    if desc["trace"]:
        tr = rec.trace_arrays()
        arrays["logits"] = tr["logits"]
        for i, (s, v, syn) in enumerate(
                zip(tr["spikes"], tr["membranes"], tr["synapses"], strict=True)):
            arrays[f"spikes{i}"] = s
            arrays[f"membranes{i}"] = v
            if syn is not None:
                arrays[f"synapses{i}"] = syn
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(cfg["outputs"], buf.getvalue())
