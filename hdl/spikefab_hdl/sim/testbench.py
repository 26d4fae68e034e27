"""The core testbench runner: build a core once per distinct network, run a cocotb bench on it.

:func:`run_core_bench` writes the core's Verilog (trace ports on by default) into a build
folder, compiles it for the chosen simulator (:mod:`.simulators`: Verilator, or Icarus in
``<build_dir>/icarus/``; both cached), and runs a cocotb module (by default ``core_tb``,
the exact driver -> monitor -> golden -> checker bench of ``sim/``) with the network, the
inputs and the idle/backpressure settings in a JSON file named by ``SPIKEFAB_SIM_CONFIG``.
A missing or broken simulator raises; nothing is skipped.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
from spikefab.atomic import atomic_write_bytes, atomic_write_text
from spikefab.ir import QuantizedNetwork

from ..build.verilog import MODULE_NAME, write_verilog
from .simulators import build, run_test

__all__ = ["CONFIG_ENV", "SIM_BUILD", "SIM_BUILD_ENV", "run_core_bench"]

#: The environment variable that moves :data:`SIM_BUILD` (the tests' conftest gives each
#: pytest-xdist worker its own, so two workers never build in one folder).
SIM_BUILD_ENV = "SPIKEFAB_SIM_BUILD"
#: ``build/sim/`` of the repository (or ``$SPIKEFAB_SIM_BUILD``): where sim/'s runners build
#: (one folder per network).
SIM_BUILD = Path(os.environ.get(SIM_BUILD_ENV)
                 or Path(__file__).resolve().parents[3] / "build" / "sim")
#: The environment variable naming the bench's JSON configuration.
CONFIG_ENV = "SPIKEFAB_SIM_CONFIG"


def _samples(net: QuantizedNetwork, x) -> int:
    return x.shape[0] if net.spec.encoding == "direct" else x.shape[1]


def run_core_bench(
    net: QuantizedNetwork,
    x: np.ndarray,
    *,
    build_dir,
    lanes: int,
    idle: float,
    stall: float,
    seed: int,
    sim: str = "verilator",
    trace: bool = True,
    test_module: str = "core_tb",
    run_name: str = "core_tb",
    spram=None,
    in_pack: int = 1,
    dsp: int | None = None,
    mac8x8: bool = False,
    bram_outreg: bool | str = False,
) -> dict:
    """Build ``net`` into ``build_dir`` and check it on ``x`` with ``test_module`` in ``sim``.

    Parameters
    ----------
    net, x : the network and its integer inputs (``[N, n_in]`` direct, ``[T, N, n_in]``
        spikes).
    build_dir : path
        The Verilog and the Verilator build go here, an Icarus build into ``icarus/``
        below it; the run into ``<build>/<run_name>/``.
    lanes, trace, spram, in_pack, dsp, mac8x8, bram_outreg : the core's parameters.
    idle, stall : float
        Probability of an idle input cycle / of ``ready`` low on the output.
    seed : int
        The bench's random seed (also cocotb's).

    Returns
    -------
    dict
        The bench's summary (samples, cycles per sample, simulated cycles).
    """
    root = Path(build_dir)
    v_path, j_path = write_verilog(net, root, lanes=lanes, trace=trace, spram=spram,
                                   in_pack=in_pack, dsp=dsp, mac8x8=mac8x8,
                                   bram_outreg=bram_outreg)
    sim_dir = root if sim == "verilator" else root / sim
    build(sim, v_path, toplevel=MODULE_NAME, build_dir=sim_dir)
    run_dir = sim_dir / run_name
    ir = net.save(run_dir / "net")
    buf = io.BytesIO()
    np.savez(buf, x=np.asarray(x, np.int64))
    atomic_write_bytes(run_dir / "inputs.npz", buf.getvalue())
    summary = run_dir / "summary.json"
    summary.unlink(missing_ok=True)
    plan = json.loads(j_path.read_text())["plan"]
    dense = sum(lp["n_in"] * lp["groups"] + lp["groups"] + lp["n_out"] for lp in plan["layers"])
    cfg = {
        "description": str(j_path),
        "ir": str(ir),
        "inputs": str(run_dir / "inputs.npz"),
        "idle": idle,
        "stall": stall,
        "seed": seed,
        "max_cycles": int(_samples(net, x) * (plan["timesteps"] * dense + 200) * 10),
        "summary": str(summary),
    }
    cfg_path = run_dir / "config.json"
    atomic_write_text(cfg_path, json.dumps(cfg, indent=2) + "\n")
    run_test(sim, sim_dir, toplevel=MODULE_NAME, test_module=test_module, test_dir=run_dir,
             extra_env={CONFIG_ENV: str(cfg_path)}, seed=seed)
    return json.loads(summary.read_text())
