"""A trained conv student in both simulators: every spike of every layer at every step.

A small SpikingCNN (digits, conv 4 -> conv 6, 3x3, OR pooling, T=4, direct 4-bit input) is
trained by the pipeline (CE, then QAT to 6-bit weights) and exported; its IR then runs
through the cocotb core bench in Verilator and in Icarus with idle input cycles and output
backpressure. The bench checks every accumulator, prediction, spike, membrane, logit and
cycle count against golden; the two simulators must count the same cycles.
"""

import numpy as np
from spikefab.cli import main
from spikefab.ir import QuantizedNetwork
from spikefab_hdl.sim.testbench import run_core_bench

SAMPLES = 16
CONFIG = """\
[run]
name = "conv"
dir = "{root}"

[teacher]
kind = "none"

[student]
kind = "cnn"
channels = [4, 6]
timesteps = 4
encoding = "direct"
in_bits = 4
epochs = 4
augment_shift = 1

[distill]
method = "none"

[quantize]
method = "qat"
w_bits = 6
v_bits = 12
epochs = 1
"""


def test_trained_conv_student_is_exact_in_verilator_and_icarus(tmp_path, capsys):
    cfg = tmp_path / "conv.toml"
    cfg.write_text(CONFIG.format(root=tmp_path / "runs"))
    assert main(["run", str(cfg), "--until", "export"]) == 0, capsys.readouterr().err
    run = tmp_path / "runs" / "conv"
    net = QuantizedNetwork.load(run / "ir" / "net")
    assert "conv2d" in net.spec.semantics
    x = np.load(run / "ir" / "test_inputs.npy")[:SAMPLES]
    got = {}
    for sim in ("verilator", "icarus"):
        got[sim] = run_core_bench(net, x, build_dir=tmp_path / "core", lanes=4, idle=0.2,
                                  stall=0.25, seed=7, sim=sim, run_name=f"tb-{sim}")
        assert got[sim]["samples"] == SAMPLES and min(got[sim]["cycles"]) > 0
    assert got["verilator"] == got["icarus"]
