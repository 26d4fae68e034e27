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


def _training_sources_hash(seed: int, encoding: str) -> str:
    h = hashlib.sha256(f"{seed}-{encoding}".encode())
    src = ROOT / "python" / "spikeforge"
    files = [src / "demo.py", src / "export.py", src / "ir.py", src / "fixed.py"]
    for sub in ("train", "snn", "data", "golden"):
        files += sorted((src / sub).glob("*.py"))
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _train(seed: int, encoding: str):
    """Train and export; return ``(net, x_test, y_test)`` with integer test inputs."""
    from spikeforge.data import encode_direct, encode_rate
    from spikeforge.demo import DIGITS_CONFIG, DIGITS_WIDTHS, train_digits
    from spikeforge.export import export_ptq
    from spikeforge.train import TrainConfig, fit

    if encoding == "direct":
        _model, net, ds = train_digits(seed)
        return net, encode_direct(ds.x_test, net.spec.in_bits), ds.y_test
    cfg = TrainConfig(**{**DIGITS_CONFIG.to_dict(), **SPIKES_CONFIG, "seed": seed})
    res = fit(cfg)
    ds = res.dataset
    x_test = encode_rate(ds.x_test, cfg.timesteps, seed=seed + 1)
    net = export_ptq(res.model.eval(), **DIGITS_WIDTHS, encoding="spikes", calib_x=x_test,
                     calib_y=ds.y_test, meta={"train_config": cfg.to_dict()})
    return net, x_test, ds.y_test


#: How the spike-input digits model differs from the demo's (rate-coded input, T=8).
SPIKES_CONFIG = {"encoding": "spikes", "in_bits": 1, "timesteps": 8, "epochs": 20}


def trained_digits(
    seed: int = 0, *, encoding: str = "direct"
) -> tuple[QuantizedNetwork, np.ndarray, np.ndarray]:
    """A trained digits model (64-128-10) and its integer test set.

    ``encoding="direct"`` is the demo's model (``spikeforge.demo.train_digits``: T=4,
    4-bit direct input); ``"spikes"`` the same network trained on Bernoulli rate-coded
    input (``SPIKES_CONFIG``: T=8) and exported with ``export_ptq``. Training takes about
    a minute; the IR and the test inputs are cached under
    ``build/sim/digits-trained/<hash of the training sources>/``, so the model is
    retrained exactly when the code that produces it changes.

    Returns
    -------
    net : QuantizedNetwork
    x_test : int64 test inputs: ``[N, 64]`` direct values or ``[T, N, 64]`` spikes
    y_test : int64 [N] labels
    """
    if encoding not in ("direct", "spikes"):
        raise ValueError(f"encoding must be 'direct' or 'spikes', not {encoding!r}")
    cache = BUILD / "digits-trained" / _training_sources_hash(seed, encoding)
    if not (cache / "digits.json").is_file() or not (cache / "test.npz").is_file():
        net, x_test, y_test = _train(seed, encoding)
        buf = io.BytesIO()
        np.savez(buf, x=np.asarray(x_test, np.int64), y=np.asarray(y_test, np.int64))
        atomic_write_bytes(cache / "test.npz", buf.getvalue())
        net.save(cache / "digits")
    with np.load(cache / "test.npz") as z:
        x_test, y_test = z["x"], z["y"]
    return QuantizedNetwork.load(cache / "digits"), x_test, y_test
