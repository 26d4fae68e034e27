"""Helpers of the sim/ runners: build a core once per distinct network, run core_tb on it.

Every runner function (``test_<dut>_runner`` in the ``test_*.py`` files) calls
:func:`run_core_bench`, which writes the Verilog into ``build/sim/<name>/``, compiles it
with Verilator through ``cocotb_tools.runner`` (skipped when the same Verilog was
already built there), and runs the cocotb module :mod:`core_tb` with the network, the
inputs and the idle/backpressure settings. A missing or broken simulator raises.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
from spikeforge.atomic import atomic_write_bytes, atomic_write_text
from spikeforge.ir import QuantizedNetwork
from spikeforge_hdl import verilator
from spikeforge_hdl.export import write_verilog

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "sim"
SIM_DIR = Path(__file__).resolve().parent

__all__ = ["BUILD", "run_core_bench", "trained_digits"]


def run_core_bench(
    net: QuantizedNetwork,
    x: np.ndarray,
    *,
    name: str,
    lanes: int,
    idle: float,
    stall: float,
    seed: int,
    trace: bool = True,
) -> dict:
    """Build ``net`` into ``build/sim/<name>/`` and check it on ``x`` with core_tb.

    Returns the bench's summary (samples, simulated cycles, cycles per sample).
    """
    build_dir = BUILD / name
    v_path, j_path = write_verilog(net, build_dir, lanes=lanes, trace=trace)
    verilator.build(v_path, toplevel="spikeforge_core", build_dir=build_dir)
    run_dir = build_dir / "core_tb"
    ir = net.save(run_dir / "net")
    buf = io.BytesIO()
    np.savez(buf, x=np.asarray(x, np.int64))
    atomic_write_bytes(run_dir / "inputs.npz", buf.getvalue())
    summary = run_dir / "summary.json"
    summary.unlink(missing_ok=True)
    plan = json.loads(j_path.read_text())["plan"]
    dense = sum(lp["n_in"] * lp["groups"] + lp["groups"] + lp["n_out"] for lp in plan["layers"])
    n = x.shape[0] if net.spec.encoding == "direct" else x.shape[1]
    cfg = {
        "description": str(j_path),
        "ir": str(ir),
        "inputs": str(run_dir / "inputs.npz"),
        "idle": idle,
        "stall": stall,
        "seed": seed,
        "max_cycles": int(n * (plan["timesteps"] * dense + 200) * 10),
        "summary": str(summary),
    }
    cfg_path = run_dir / "config.json"
    atomic_write_text(cfg_path, json.dumps(cfg, indent=2) + "\n")
    verilator.run_test(
        build_dir,
        toplevel="spikeforge_core",
        test_module="core_tb",
        test_dir=run_dir,
        extra_env={"SPIKEFORGE_SIM_CONFIG": str(cfg_path)},
        seed=seed,
    )
    return json.loads(summary.read_text())


def _training_sources_hash(seed: int) -> str:
    h = hashlib.sha256(str(seed).encode())
    src = ROOT / "python" / "spikeforge"
    files = [src / "demo.py", src / "export.py", src / "ir.py", src / "fixed.py"]
    for sub in ("train", "snn", "data", "golden"):
        files += sorted((src / sub).glob("*.py"))
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def trained_digits(seed: int = 0) -> tuple[QuantizedNetwork, np.ndarray, np.ndarray]:
    """The demo's trained digits model (``spikeforge.demo.train_digits``) and its test set.

    Training takes about a minute; the IR and the integer test inputs are cached under
    ``build/sim/digits-trained/<hash of the training sources>/``, so the model is
    retrained exactly when the code that produces it changes.

    Returns
    -------
    net : QuantizedNetwork
    x_test : int64 [N, 64] direct 4-bit inputs
    y_test : int64 [N] labels
    """
    cache = BUILD / "digits-trained" / _training_sources_hash(seed)
    if not (cache / "digits.json").is_file() or not (cache / "test.npz").is_file():
        from spikeforge.data import encode_direct
        from spikeforge.demo import train_digits

        _model, net, ds = train_digits(seed)
        x_test = encode_direct(ds.x_test, net.spec.in_bits).astype(np.int64)
        buf = io.BytesIO()
        np.savez(buf, x=x_test, y=np.asarray(ds.y_test, np.int64))
        atomic_write_bytes(cache / "test.npz", buf.getvalue())
        net.save(cache / "digits")
    with np.load(cache / "test.npz") as z:
        x_test, y_test = z["x"], z["y"]
    return QuantizedNetwork.load(cache / "digits"), x_test, y_test
