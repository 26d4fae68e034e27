"""Run a QuantizedNetwork's core in Verilator: ``simulate(net, x) -> dict`` (compares nothing).

::

    from spikefab_hdl.sim.rtlsim import simulate
    res = simulate(net, x, lanes=4, build_dir="build/sim/digits", trace=True)

Steps: write the Verilog and its JSON description into ``build_dir``; build it with
Verilator through ``cocotb_tools.runner`` (skipped when an identical build is already
there); run the cocotb bench :mod:`spikefab_hdl.sim.cocotb_record`, which streams the
samples (no idle cycles, no backpressure unless asked) and saves everything the core
outputs; read it back. One run at a time per ``build_dir``.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path

import numpy as np
from spikefab.atomic import atomic_write_bytes, atomic_write_text
from spikefab.ir import QuantizedNetwork

from ..build.verilog import write_verilog
from ..core.lanes import lanes_label, resolve_lanes
from . import verilator
from .beats import input_beats
from .pysim import sample_inputs

__all__ = ["simulate", "default_build_dir"]

TOPLEVEL = "spikefab_core"


def default_build_dir(net: QuantizedNetwork, *, lanes: int, trace: bool,
                      in_pack: int = 1) -> Path:
    """``build/sim/core-<hash of spec and arrays>-l<lanes>[-p<in_pack>][-trace]``."""
    h = hashlib.sha256(net.spec.to_json().encode())
    for w, b in zip(net.weights, net.biases, strict=True):
        h.update(w.tobytes())
        h.update(b.tobytes())
    label = lanes_label(resolve_lanes(net, lanes, in_pack=in_pack))
    tail = (f"-p{in_pack}" if in_pack != 1 else "") + ("-trace" if trace else "")
    return Path("build/sim") / f"core-{h.hexdigest()[:12]}-l{label}{tail}"


def _max_cycles(desc: dict, n: int, idle: float, stall: float) -> int:
    plan = desc["plan"]
    dense = sum(lp["n_in"] * lp["groups"] + lp["groups"] + lp["n_out"] for lp in plan["layers"])
    per_sample = plan["timesteps"] * dense + plan["n_in"] + plan["n_classes"] + 64
    slack = 1.0 / max(0.05, (1.0 - idle) * (1.0 - stall))
    return int(4 * slack * per_sample * n) + 10_000


def simulate(
    net: QuantizedNetwork,
    x,
    *,
    lanes: int = 4,
    build_dir=None,
    trace: bool = True,
    idle: float = 0.0,
    stall: float = 0.0,
    seed: int = 1,
    in_pack: int = 1,
    bram_outreg: bool | str = False,
) -> dict:
    """Simulate ``net`` on the batch ``x`` in Verilator and return what the core output.

    Parameters
    ----------
    net : QuantizedNetwork
    x : array
        As ``spikefab.golden.check_input`` accepts it: ``[B, n_in]`` (direct) or
        ``[T, B, n_in]`` (spikes).
    lanes : int
        Weights read per cycle.
    build_dir : path, optional
        Where the Verilog, the Verilator build and the run files go (default
        :func:`default_build_dir`). Reused when the Verilog is unchanged.
    trace : bool
        Build with the trace ports and return per-step spikes, membranes and logits.
    idle, stall : float
        Probability of an idle input cycle / a cycle without output ``ready`` (default
        0: ``cycles`` is then the core's own latency per inference).
    seed : int
        Seed of the idle/stall draws.
    in_pack : int
        Direct input values per input beat (:mod:`spikefab_hdl.core.input_pack`; a
        one-line ValueError for one the network cannot take).
    bram_outreg : bool or "always"
        DP16KD weight memories with their output register (``NetworkCore``'s; the model
        ``core.dp16kd.MODEL`` is simulated).

    Returns
    -------
    dict
        ``prediction`` int64 [B], ``acc`` int64 [B, C], ``cycles`` int64 [B] (the core's
        count, first input beat to first output beat), ``wall_cycles`` int64 [B] (the same
        measured by the bench), ``sim_cycles`` (clock cycles simulated),
        ``loop_seconds`` (wall time of the bench loop), ``sim_seconds`` (wall time of
        the whole simulator run), ``build_seconds`` (0.0 when the build was reused);
        with ``trace``: ``logits`` int64 [T, B, C], ``spikes`` list of uint8 [T, B, n]
        and ``membranes`` list of int64 [T, B, n], one per spiking layer (the hidden ones,
        and the output layer with ``readout="spikes"``), ``synapses`` (the same, None
        but for ``cuba`` layers).
    """
    samples = sample_inputs(net, x)  # validates x
    build_dir = Path(build_dir) if build_dir is not None else default_build_dir(
        net, lanes=lanes, trace=trace, in_pack=in_pack
    )
    build_dir = build_dir.resolve()
    v_path, j_path = write_verilog(net, build_dir, lanes=lanes, trace=trace, name=TOPLEVEL,
                                   in_pack=in_pack, bram_outreg=bram_outreg)
    desc = json.loads(j_path.read_text())
    build_seconds = verilator.build(v_path, toplevel=TOPLEVEL, build_dir=build_dir)

    beats = [input_beats(desc, s) for s in samples]
    buf = io.BytesIO()
    np.savez(
        buf,
        beats=np.asarray([b for sample in beats for b in sample], np.int64),
        lengths=np.asarray([len(b) for b in beats], np.int64),
    )
    inputs, outputs = build_dir / "run_inputs.npz", build_dir / "run_outputs.npz"
    atomic_write_bytes(inputs, buf.getvalue())
    outputs.unlink(missing_ok=True)
    cfg = {
        "description": str(j_path),
        "inputs": str(inputs),
        "outputs": str(outputs),
        "idle": float(idle),
        "stall": float(stall),
        "seed": int(seed),
        "max_cycles": _max_cycles(desc, len(samples), idle, stall),
    }
    cfg_path = build_dir / "run_config.json"
    atomic_write_text(cfg_path, json.dumps(cfg, indent=2) + "\n")
    t0 = time.perf_counter()
    verilator.run_test(
        build_dir,
        toplevel=TOPLEVEL,
        test_module="spikefab_hdl.sim.cocotb_record",
        extra_env={"SPIKEFAB_RTLSIM_CONFIG": str(cfg_path)},
        seed=seed,
    )
    sim_seconds = time.perf_counter() - t0
    if not outputs.is_file():
        raise verilator.VerilatorError(
            "cocotb", "run of spikefab_hdl.sim.cocotb_record",
            detail=f"the bench wrote no results to {outputs}",
            log=build_dir / "cocotb_record.log")
    with np.load(outputs) as z:
        res = {k: z[k] for k in z.files}
    out = {
        "prediction": res["prediction"].astype(np.int64),
        "acc": res["acc"].astype(np.int64),
        "cycles": res["cycles"].astype(np.int64),
        "wall_cycles": res["wall_cycles"].astype(np.int64),
        "sim_cycles": int(res["sim_cycles"]),
        "loop_seconds": float(res["loop_seconds"]),
        "sim_seconds": sim_seconds,
        "build_seconds": build_seconds,
    }
    if trace:
        n_spiking = len(net.spec.spiking)
        out["logits"] = res["logits"].astype(np.int64)
        out["spikes"] = [res[f"spikes{i}"].astype(np.uint8) for i in range(n_spiking)]
        out["membranes"] = [res[f"membranes{i}"].astype(np.int64) for i in range(n_spiking)]
        out["synapses"] = [res[f"synapses{i}"].astype(np.int64) if f"synapses{i}" in res
                           else None for i in range(n_spiking)]
    return out
