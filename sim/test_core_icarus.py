"""The same core Verilog in Icarus Verilog and in Verilator: both exact against golden, and equal.

For every random network of ``core_cases.py`` and for the trained digits model, one
generated ``spikeforge_core.v`` (trace ports on) is built for both simulators
(:mod:`simulators`) and run through the same cocotb bench, ``core_tb.core_golden_test``,
with the same seeded idle and backpressure pattern. In each simulator the bench checks
every accumulator, prediction, spike, post-reset membrane, per-step logit and cycle count
against ``spikeforge.golden`` exactly. Then the two simulators' summaries (cycles per
sample, total simulated cycles) must be identical.

The Verilog and the Verilator build are those of test_core_random.py and
test_core_digits.py (``build/sim/random-<case>/``, ``build/sim/digits-l4/``: same network,
lanes and trace ports, so one Verilator build serves both); Icarus builds into
``icarus/`` beside it. Runs go to ``xsim_tb/`` in each build directory.
"""

import functools
import io
import json

import numpy as np
import pytest
import simlib
from core_cases import BATCH, CASES, random_case
from simulators import SIMULATORS, build, run_test
from spikeforge.atomic import atomic_write_bytes, atomic_write_text
from spikeforge_hdl.export import write_verilog

TOPLEVEL = "spikeforge_core"
N_DIGITS = 24  # test images of the digits model
DIGITS_LANES = 4


def _case(name: str):
    """``(net, x, lanes, seed)`` of a random case or of ``"digits"``."""
    if name == "digits":
        net, x_test, _ = simlib.trained_digits(0)
        return net, x_test[:N_DIGITS], DIGITS_LANES, 11
    return random_case(name)


def _inputs_count(net, x) -> int:
    return x.shape[0] if net.spec.encoding == "direct" else x.shape[1]


@functools.cache
def run_core(name: str, sim: str) -> dict:
    """Run core_tb on case ``name`` in ``sim``; return the bench's summary."""
    net, x, lanes, seed = _case(name)
    root = simlib.BUILD / ("digits-l4" if name == "digits" else f"random-{name}")
    v_path, j_path = write_verilog(net, root, lanes=lanes, trace=True)
    build_dir = root if sim == "verilator" else root / sim
    build(sim, v_path, toplevel=TOPLEVEL, build_dir=build_dir)
    run_dir = build_dir / "xsim_tb"
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
        "idle": 0.2,
        "stall": 0.25,
        "seed": seed,
        "max_cycles": int(_inputs_count(net, x) * (plan["timesteps"] * dense + 200) * 10),
        "summary": str(summary),
    }
    cfg_path = run_dir / "config.json"
    atomic_write_text(cfg_path, json.dumps(cfg, indent=2) + "\n")
    run_test(sim, build_dir, toplevel=TOPLEVEL, test_module="core_tb", test_dir=run_dir,
             extra_env={"SPIKEFORGE_SIM_CONFIG": str(cfg_path)}, seed=seed)
    return json.loads(summary.read_text())


NAMES = sorted(CASES) + ["digits"]


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("name", NAMES)
def test_core_exact_runner(name, sim):
    """core_tb passes (every output exact against golden) in this simulator."""
    summary = run_core(name, sim)
    net, x, _lanes, _seed = _case(name)
    n = _inputs_count(net, x)
    assert n == (N_DIGITS if name == "digits" else BATCH)
    assert summary["samples"] == n
    assert len(summary["cycles"]) == n and min(summary["cycles"]) > 0


@pytest.mark.parametrize("name", NAMES)
def test_simulators_agree(name):
    """Icarus and Verilator count the same cycles for every sample and in total."""
    got = {sim: run_core(name, sim) for sim in SIMULATORS}
    assert got["icarus"] == got["verilator"]
