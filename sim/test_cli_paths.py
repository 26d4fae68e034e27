"""A run directory whose path holds a space and non-ASCII letters works end to end.

GNU make cannot build in a folder whose path holds a space, so Verilator's model of such a
run is built in the cache (``$SPIKEFAB_CACHE/verilator/<hash of the path>``) and linked
back into ``<run>/sim/verilator/``; everything else stays in the run directory."""

import json
import os

import numpy as np
from spikefab.cli import main
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork

CONFIG = """\
[run]
name = "path"
[teacher]
hidden = [16]
epochs = 1
[student]
hidden = [8]
epochs = 2
[hardware]
sim_samples = 6
"""


def test_a_run_in_a_path_with_a_space_and_accents(tmp_path, capsys, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SPIKEFAB_CACHE", str(cache))
    runs = tmp_path / "my rüns"
    cfg = runs / "päth.toml"
    runs.mkdir()
    cfg.write_text(CONFIG)
    assert main(["--runs", str(runs), "run", str(cfg), "--until", "sim"]) == 0
    out = capsys.readouterr().out
    assert "agreement: 6/6" in out and "6/6 samples identical" in out
    run = runs / "path"
    sim = json.loads((run / "sim" / "sim.json").read_text())
    assert sim["matching"] == sim["total"] == 6
    binary = run / "sim" / "verilator" / "spikefab_core"
    assert binary.is_symlink()
    assert os.readlink(binary).startswith(str(cache / "verilator"))
    net = QuantizedNetwork.load(run / "ir" / "net")
    x = np.load(run / "ir" / "test_inputs.npy")[:6]
    with np.load(run / "sim" / "results.npz") as z:
        np.testing.assert_array_equal(z["acc"], run_network(net, x).acc)
    # the next run reuses that build
    assert main(["--runs", str(runs), "sim", str(cfg), "--force"]) == 0
    assert json.loads((run / "sim" / "sim.json").read_text())["build_seconds"] == 0.0
