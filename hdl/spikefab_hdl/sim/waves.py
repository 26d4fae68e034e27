"""One sample's Verilator run as a waveform: ``write_waves(net, x, sample, out=...)`` (VCD).

The core is generated with its trace ports (``trace=True``) and compiled with the C++
harness of :mod:`.native` and Verilator's ``--trace``. Samples ``0 … sample`` are streamed
as ``native``/``rtlsim`` stream them (input always valid, output always ready), so the core
enters sample ``sample`` in the state the batch run leaves it in; the VCD holds every cycle
from the one in which that sample's first input beat is offered to the one after its last
output beat, with every signal of the design: the ports as docs/core.md names them (``clk``,
``rst``, ``i_stream__valid/ready/payload``, ``o_stream__…``, ``trace__l<i>__valid/payload``)
at the top and the internal signals below. Time: 10 units a clock cycle, the rising edge at
5 (``$timescale`` is Verilator's, 1 ps), counted from reset.

The file is written under a temporary name beside ``out`` and renamed once complete: a
failed or interrupted run leaves no wave file.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
from spikefab.atomic import atomic_write_text
from spikefab.ir import QuantizedNetwork

from ..build.verilog import write_verilog
from .beats import Recorder, input_beats
from .native import TOPLEVEL, build_harness, cycle_limit
from .pysim import sample_inputs
from .verilator import VerilatorError

__all__ = ["write_waves"]


def write_waves(net: QuantizedNetwork, x, sample: int, *, lanes: int, build_dir,
                out) -> dict:
    """Simulate samples ``0 … sample`` of ``x`` and write sample ``sample``'s cycles to ``out``.

    Parameters
    ----------
    net : QuantizedNetwork
    x : array
        The batch, as ``spikefab.golden.check_input`` takes it.
    sample : int
        The sample whose run is dumped, ``0 <= sample < B``.
    lanes : int
        Weights read per cycle (``hardware.lanes``).
    build_dir : path
        The Verilog, the traced Verilator build (reused when unchanged) and the run files.
    out : path
        The VCD file (its folder is created).

    Returns
    -------
    dict
        ``path`` (``out``), that sample's ``prediction`` (int), ``acc`` (int64 [C]) and
        ``cycles`` (the core's count), ``build_seconds``.

    Raises
    ------
    ValueError
        When ``sample`` is not an index of ``x`` or a stream payload is over 64 bits.
    VerilatorError
        When the build or the run fails (nothing is written to ``out``).
    """
    samples = sample_inputs(net, x)
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or \
            not 0 <= sample < len(samples):
        raise ValueError(f"sample must be an integer from 0 to {len(samples) - 1}, "
                         f"not {sample!r}")
    sample = int(sample)
    build_dir, out = Path(build_dir).resolve(), Path(out).resolve()
    v_path, j_path = write_verilog(net, build_dir, lanes=lanes, trace=True, name=TOPLEVEL)
    desc = json.loads(j_path.read_text())
    for port in ("i_stream__payload", "o_stream__payload"):
        if desc["ports"][port]["width"] > 64:
            raise ValueError(f"{port} is {desc['ports'][port]['width']} bits; the harness takes 64")
    build_seconds = build_harness(v_path, build_dir, name="waves", vflags=("--trace",))
    per_sample = [input_beats(desc, s) for s in samples[:sample + 1]]
    beats = [b for s in per_sample for b in s]
    start = len(beats) - len(per_sample[-1])
    inputs, outputs = build_dir / "waves_inputs.txt", build_dir / "waves_outputs.txt"
    atomic_write_text(inputs, "".join(f"{b}\n" for b in beats))
    outputs.unlink(missing_ok=True)
    rec = Recorder(desc, sample + 1)
    expected = (sample + 1) * rec.beats_per_result
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        proc = subprocess.run(
            [str(build_dir / "waves"), str(inputs), str(outputs), str(expected),
             str(cycle_limit(desc, sample + 1, len(beats))), str(tmp), str(start)],
            capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not tmp.is_file():
            got = len(outputs.read_text().split()) if outputs.is_file() else 0
            said = proc.stderr.strip()[-300:]
            raise VerilatorError(f"verilator waves run of sample {sample} failed (exit "
                                 f"{proc.returncode}, {got} of {expected} output beats)"
                                 f"{': ' + said if said else ''}")
        for line in outputs.read_text().split():
            rec.output(int(line))
        res = rec.results()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return {"path": out, "prediction": int(res["prediction"][-1]),
            "acc": np.asarray(res["acc"][-1], np.int64), "cycles": int(res["cycles"][-1]),
            "build_seconds": build_seconds}
