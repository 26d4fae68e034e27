"""The same core Verilog in Icarus Verilog and in Verilator: both exact against golden, and equal.

For every random network of ``core_cases.py`` and for the trained digits model, one
generated ``spikefab_core.v`` (trace ports on) is built for both simulators
(:mod:`spikefab_hdl.sim.simulators`) and run through the same cocotb bench,
``core_tb.core_golden_test``, with the same seeded idle and backpressure pattern. In each
simulator the bench checks every accumulator, prediction, spike, post-reset membrane,
per-step logit and cycle count against ``spikefab.golden`` exactly. Then the two
simulators' summaries (cycles per sample, total simulated cycles) must be identical.

The Verilog and the Verilator build are those of test_core_random.py and
test_core_digits.py (``build/sim/random-<case>/``, ``build/sim/digits-l4/``: same network,
lanes and trace ports, so one Verilator build serves both); Icarus builds into
``icarus/`` beside it. Runs go to ``xsim_tb/`` in each build directory.
"""

import functools

import pytest
from core_cases import BATCH, CASES, DSP, MAC8X8, OUTREG, PACK, SPRAM, random_case
from spikefab import trained
from spikefab_hdl.sim.simulators import SIMULATORS
from spikefab_hdl.sim.testbench import SIM_BUILD, run_core_bench

N_DIGITS = 24  # test images of the digits model
DIGITS_LANES = 4


def _case(name: str):
    """``(net, x, lanes, seed)`` of a random case or of ``"digits"``."""
    if name == "digits":
        net, x_test, _ = trained.load("digits", 0)
        return net, x_test[:N_DIGITS], DIGITS_LANES, 11
    return random_case(name)


def _inputs_count(net, x) -> int:
    return x.shape[0] if net.spec.encoding == "direct" else x.shape[1]


@functools.cache
def run_core(name: str, sim: str) -> dict:
    """Run core_tb on case ``name`` in ``sim``; return the bench's summary."""
    net, x, lanes, seed = _case(name)
    root = SIM_BUILD / ("digits-l4" if name == "digits" else f"random-{name}")
    return run_core_bench(net, x, build_dir=root, lanes=lanes, idle=0.2, stall=0.25, seed=seed,
                          sim=sim, run_name="xsim_tb",
                          spram=SPRAM.get(name), in_pack=PACK.get(name, 1),
                          dsp=DSP.get(name), mac8x8=name in MAC8X8,
                          bram_outreg=OUTREG.get(name, False))


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
