"""End to end through the ``spikefab`` command: a tiny digits config from the teacher to
the Verilator simulation and the report, then a resumed run that only re-prints."""

import json

import numpy as np
from spikefab.cli import main
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork

CONFIG = """\
[run]
name = "e2e"
[teacher]
hidden = [16]
epochs = 1
[student]
hidden = [8]
epochs = 3
[distill]
method = "tser"
[hardware]
sim_samples = 12
[report]
sweep_timesteps = [2, 4]
sweep_bits = [4, 8]
"""


def test_spikefab_run_to_rtl_and_report(tmp_path, capsys):
    cfg = tmp_path / "e2e.toml"
    cfg.write_text(CONFIG)
    assert main(["--runs", str(tmp_path / "runs"), "run", str(cfg)]) == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "e2e"
    sim = json.loads((run / "sim" / "sim.json").read_text())
    assert sim["n"] == 12 and sim["matching"] == sim["total"] == 12
    assert sim["trace_compared"] == ["logits", "spikes", "membranes"]
    assert sim["trace_mismatches"] == 0
    for line in ("float accuracy:", "golden accuracy:", "RTL accuracy:", "agreement: 12/12",
                 "trace (logits, spikes, membranes): 12/12 samples identical",
                 "cycles per inference: mean "):
        assert line in out, line
    # the stored RTL predictions are golden's on the same inputs
    net = QuantizedNetwork.load(run / "ir" / "net")
    x = np.load(run / "ir" / "test_inputs.npy")[:12]
    with np.load(run / "sim" / "results.npz") as z:
        np.testing.assert_array_equal(z["prediction"], run_network(net, x).prediction)
        np.testing.assert_array_equal(z["acc"], run_network(net, x).acc)
        assert (z["cycles"] > 0).all()
    text = (run / "report" / "report.md").read_text()
    assert "| RTL (Verilator) |" in text and "agreement 12/12" in text
    assert f"mean {sim['cycles']['mean']:.1f}" in text
    # resumed: nothing runs again, and the demo lines come from the stored result
    assert main(["--runs", str(tmp_path / "runs"), "run", str(cfg)]) == 0
    again = capsys.readouterr().out
    assert again.count("(resumed; skipped)") == 6
    assert "agreement: 12/12" in again
