"""A model a user brings, trained with snnTorch, from its NIR file to the RTL by the command line.

An snnTorch ``Synaptic`` network (current-based synapse, beta 0.9, snnTorch's default
delayed subtract reset, a spiking output layer) is trained on digits, exported with
snnTorch's ``export_to_nir`` and run through ``spikefab nir import --run`` and ``spikefab
run --skip bitstream``: every neuron extension the gateware implements (cuba, decay,
delayed-reset, gt, spike-readout) on a trained network. The ``sim`` step compares every
spike, membrane, synaptic current and logit of every step of the test images in Verilator
with golden; the run must report them all equal. The same IR then runs in Icarus through
the cocotb core bench (idle input cycles, output backpressure), every output exact.
"""

import json

import numpy as np
from spikefab.cli import main
from spikefab.ir import QuantizedNetwork
from spikefab.snntorch_models import build, export, inputs, train
from spikefab_hdl.sim.testbench import run_core_bench

T = 8
SAMPLES = 120
ICARUS_SAMPLES = 12


def test_snntorch_synaptic_model_runs_on_the_rtl_exactly(tmp_path, capsys):
    net = build("Synaptic", (32,), beta=0.9, alpha=0.8, readout="spikes", seed=0)
    ds = train(net, "direct", T, epochs=2)
    graph = export(net, inputs(ds.x_test, "direct", T, seed=0), tmp_path / "model.nir")
    run = tmp_path / "runs" / "mine"
    assert main(["nir", "import", str(graph), "--run", str(run), "--timesteps", str(T),
                 "--reset", "subtract-delayed"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    cfg["hardware"]["sim_samples"] = SAMPLES
    (run / "config.json").write_text(json.dumps(cfg))
    assert main(["run", str(run), "--skip", "bitstream"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert QuantizedNetwork.load(run / "ir" / "net").spec.semantics == \
        "v1+cuba+decay+delayed-reset+gt+spike-readout"
    assert f"agreement: {SAMPLES}/{SAMPLES}" in out
    assert f"trace (logits, spikes, membranes, synapses): {SAMPLES}/{SAMPLES} samples " \
           "identical" in out
    sim = json.loads((run / "sim" / "sim.json").read_text())
    assert sim["matching"] == sim["total"] == SAMPLES and sim["trace_mismatches"] == 0

    # the trained IR in the second simulator, with idle cycles and backpressure
    net = QuantizedNetwork.load(run / "ir" / "net")
    x = np.load(run / "ir" / "test_inputs.npy")[:ICARUS_SAMPLES]
    summary = run_core_bench(net, x, build_dir=tmp_path / "icarus-core",
                             lanes=cfg["hardware"]["lanes"], idle=0.2, stall=0.25, seed=5,
                             sim="icarus")
    assert summary["samples"] == ICARUS_SAMPLES and min(summary["cycles"]) > 0
