"""Run reports: ``write_report(run, cfg)`` -> ``<run>/report/report.md`` + PNG figures +
``report.json``.

Sections (each present when the steps behind it have run): accuracy along the pipeline
(teacher, float student, QAT, golden, RTL), accuracy against T and bits, firing rates and
a spike raster of one sample, synaptic operations and an energy estimate per inference
(constants and their source in ``energy.py``), resources and Fmax per board from the
bitstream reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_files
from .collect import accuracy_rows, collect
from .energy import ENERGY_SOURCE, PJ, energy_estimate, synaptic_ops
from .markdown import render

__all__ = ["ENERGY_SOURCE", "PJ", "collect", "energy_estimate", "synaptic_ops", "write_report"]

_STEPS = ("train-teacher", "distill", "quantize", "export", "verilog", "sim")


def write_report(run, cfg: dict) -> Path:
    """Write the report of ``run`` (a ``spikefab.run.RunDir``); returns report.md's path."""
    from . import plots

    data = collect(run, cfg)
    out = run.path("report")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.png"):
        stale.unlink()
    rows = accuracy_rows(data)
    if rows:
        plots.plot_accuracy(rows, out / "accuracy.png")
    if data["sweep_T"]:
        q = data["quant"] or {}
        run_bits = None
        if data["golden"] and q:
            w = q["widths"][0]["w_bits"]
            run_bits = (w, data["golden"]["golden_acc"], q["method"].upper())
        plots.plot_sweeps(data["sweep_T"], data["sweep_bits"] or [],
                          cfg["student"]["timesteps"], run_bits, out / "sweeps.png")
    if data["firing"] is not None:
        plots.plot_firing([np.asarray(r) for r in data["firing"]], out / "firing.png")
        ra = data["raster"]
        plots.plot_raster(np.asarray(ra["x"]), [np.asarray(s) for s in ra["spikes"]],
                          np.asarray(ra["acc"]), ra["label"], ra["prediction"],
                          cfg["student"]["encoding"], out / "raster.png",
                          image_shape=data["image_shape"])
        plots.plot_ops(data["ops"], data["energy"], out / "ops.png")
    if data["boards"]:
        plots.plot_resources(data["boards"], out / "resources.png")
    done = set(data["state"])
    missing = [s for s in _STEPS if s not in done]
    missing += [f"bitstream:{b}" for b in cfg["hardware"]["boards"]
                if f"bitstream:{b}" not in done]
    doc = json.dumps({k: v for k, v in data.items() if k != "config"}, indent=2) + "\n"
    atomic_write_files({out / "report.md": render(data, missing).encode(),
                        out / "report.json": doc.encode()})
    return out / "report.md"
