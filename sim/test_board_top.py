"""The whole board top through its UART, on Verilator and on Icarus Verilog: exact, and equal.

For each case the same generated Verilog (``build/sim/board-<case>/board_top.v``) is
built for both simulators; ``board_tb.board_uart_golden_test`` sends INFO, INFER and
broken requests and checks every answer against the golden board model. Then the two
simulators' complete transmit streams (every byte, cycle counts included) must be
identical.

Cases: the trained digits model (64-128-10, direct 4-bit input packed two per byte, T=4)
on 24 test images, a random spike-input network whose input rows end in padding bits (20
inputs, T=5), and a random 3-bit direct network with 15 inputs (packed: out-of-range
nibbles and a padding nibble); the direct ones also with the core's packed input
(``in_pack`` 4 and 2: 4 and 2 values per core beat, 15 inputs leaving a half beat).
Every sample is sent twice: once a request at a time, once with two requests
outstanding.
"""

import functools
import io
import json

import numpy as np
import pytest
from spikefab import trained
from spikefab.atomic import atomic_write_bytes, atomic_write_text
from spikefab.ir import QuantizedNetwork
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec
from spikefab_hdl.sim.board_bridge import TOPLEVEL, write_board_verilog
from spikefab_hdl.sim.simulators import SIMULATORS, build, run_test
from spikefab_hdl.sim.testbench import SIM_BUILD

DIVISOR = 4  # clock cycles per UART bit: a fast line keeps the simulation short
TIMEOUT = 300  # T_idle in cycles
CLK_HZ = 12_000_000  # what INFO reports (the iCEBreaker's clock)
LANES = 4


def _spikes_case():
    spec = NetworkSpec(
        layers=(
            LayerSpec(20, 12, w_bits=6, b_bits=8, neuron=LIFSpec(v_bits=10, theta=40,
                                                                 leak_shift=1, reset="zero")),
            LayerSpec(12, 8, w_bits=6, b_bits=8, neuron=LIFSpec(v_bits=12, theta=25,
                                                                leak_shift=None)),
            LayerSpec(8, 5, w_bits=6, b_bits=8),
        ),
        timesteps=5, encoding="spikes", in_bits=1,
    )
    rng = np.random.default_rng(7)
    ws = [rng.integers(-31, 32, (lay.n_out, lay.n_in)) for lay in spec.layers]
    bs = [rng.integers(-60, 60, lay.n_out) for lay in spec.layers]
    net = QuantizedNetwork(spec, ws, bs)
    x = rng.integers(0, 2, (16, spec.timesteps, spec.n_in))
    x[3] = 0
    return net, x


def _digits_case():
    net, x_test, _ = trained.load("digits", 0)
    return net, x_test[:24]


def _packed3_case():
    """3-bit direct input, an odd fan-in: packed two per byte with a padding nibble."""
    spec = NetworkSpec(
        layers=(
            LayerSpec(15, 8, w_bits=6, b_bits=8, neuron=LIFSpec(v_bits=10, theta=30,
                                                                leak_shift=2)),
            LayerSpec(8, 4, w_bits=6, b_bits=8),
        ),
        timesteps=3, encoding="direct", in_bits=3,
    )
    rng = np.random.default_rng(11)
    ws = [rng.integers(-31, 32, (lay.n_out, lay.n_in)) for lay in spec.layers]
    bs = [rng.integers(-40, 40, lay.n_out) for lay in spec.layers]
    return QuantizedNetwork(spec, ws, bs), rng.integers(0, 8, (12, spec.n_in))


CASES = {"digits": _digits_case, "spikes": _spikes_case, "packed3": _packed3_case,
         "digits-pack4": _digits_case, "packed3-pack2": _packed3_case}
IN_PACK = {"digits-pack4": 4, "packed3-pack2": 2}


@functools.cache
def _design(case: str):
    """Write the case's Verilog, IR and inputs once; return (net, root, verilog path, x)."""
    net, x = CASES[case]()
    root = SIM_BUILD / f"board-{case}"
    _top, v_path = write_board_verilog(net, root, clk_hz=CLK_HZ, divisor=DIVISOR,
                                       timeout_cycles=TIMEOUT, lanes=LANES,
                                       in_pack=IN_PACK.get(case, 1))
    net.save(root / "net")
    buf = io.BytesIO()
    np.savez(buf, x=np.asarray(x, np.int64))
    atomic_write_bytes(root / "inputs.npz", buf.getvalue())
    return net, root, v_path, x


@functools.cache
def run_board(case: str, sim: str) -> tuple[dict, bytes]:
    """Build and run the board bench; return its summary and every byte sent on tx."""
    _net, root, v_path, _x = _design(case)
    build_dir = root / sim
    build(sim, v_path, toplevel=TOPLEVEL, build_dir=build_dir)
    run_dir = build_dir / "board_tb"
    cfg = {
        "ir": str(root / "net.json"),
        "inputs": str(root / "inputs.npz"),
        "clk_hz": CLK_HZ,
        "divisor": DIVISOR,
        "timeout_cycles": TIMEOUT,
        "seed": 3,
        "summary": str(run_dir / "summary.json"),
        "answers": str(run_dir / "answers.bin"),
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "summary.json").unlink(missing_ok=True)
    (run_dir / "answers.bin").unlink(missing_ok=True)
    cfg_path = run_dir / "config.json"
    atomic_write_text(cfg_path, json.dumps(cfg, indent=2) + "\n")
    run_test(sim, build_dir, toplevel=TOPLEVEL, test_module="board_tb", test_dir=run_dir,
             extra_env={"SPIKEFAB_BOARD_CONFIG": str(cfg_path)}, seed=3)
    summary = json.loads((run_dir / "summary.json").read_text())
    return summary, (run_dir / "answers.bin").read_bytes()


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_board_top_runner(case, sim):
    summary, answers = run_board(case, sim)
    n = len(_design(case)[3])
    # INFO, every sample twice (one at a time, then pipelined), and nine broken requests
    # each answered by its ERROR frame (eight for digits: 64 4-bit pixels packed two per
    # byte leave no byte out of range)
    errors = 8 if case.startswith("digits") else 9
    assert summary["checked"] == {"INFO": 1, "RESULT": 2 * n, "ERROR": errors}
    assert summary["answered"] == summary["echoed_ids"] == 2 * n + 1 + errors
    assert len(summary["cycles"]) == 2 * n and min(summary["cycles"]) > 0
    assert summary["cycles"][:n] == summary["cycles"][n:]  # the core's count, both ways
    assert answers[0] == 0xA5


@pytest.mark.parametrize("case", sorted(CASES))
def test_simulators_agree(case):
    """Icarus and Verilator send exactly the same bytes (answers and cycle counts)."""
    results = {sim: run_board(case, sim) for sim in SIMULATORS}
    (s_v, a_v), (s_i, a_i) = results["verilator"], results["icarus"]
    assert s_v == s_i
    assert a_v == a_i


def test_in_pack_cuts_the_core_cycles():
    """The board's packed beats reach the core's packed input: the digits images take
    fewer core cycles with 4 values a beat (zeros skipped) than one a beat, every one."""
    one = run_board("digits", "verilator")[0]["cycles"]
    four = run_board("digits-pack4", "verilator")[0]["cycles"]
    assert all(b < a for a, b in zip(one, four, strict=True)), (one, four)
