"""``spikefab nir export|import``: a run's IR survives the round trip bit for bit."""

import numpy as np
from runlib import tiny_config
from spikefab.cli import main
from spikefab.ir import QuantizedNetwork
from spikefab.train import load_checkpoint


def test_nir_export_and_import_round_trip(tmp_path, capsys):
    path = tiny_config(tmp_path, method="none")
    run = tmp_path / "runs" / "tiny"
    assert main(["nir", "export", str(path)]) == 2
    assert capsys.readouterr().err.startswith("error: nir export needs step 'export' done in ")
    assert main(["run", str(path), "--until", "export"]) == 0
    capsys.readouterr()
    assert main(["nir", "export", str(run)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"wrote {run / 'nir' / 'net.nir'}",
                                                    f"wrote {run / 'nir' / 'student.nir'}"]
    assert main(["nir", "import", str(run / "nir" / "net.nir"), "-o", str(tmp_path / "back")]) \
        == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "L0: fc0 64->8, LIF reset subtract"
    assert out[-1] == f"wrote {tmp_path / 'back.json'}"
    a, b = QuantizedNetwork.load(run / "ir" / "net"), QuantizedNetwork.load(tmp_path / "back")
    assert a.spec == b.spec
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert main(["nir", "import", str(run / "nir" / "student.nir"), "-o",
                 str(tmp_path / "student")]) == 0
    model, _, _ = load_checkpoint(tmp_path / "student.pt")
    assert model.sizes == (64, 8, 10)
    assert main(["nir", "import", str(run / "nir" / "net.nir"), "--profile", "snntorch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: modes.reset = 'subtract_next' contradicts the graph")
    assert err.count("\n") == 1


def test_nir_import_of_a_foreign_graph_needs_timesteps(tmp_path, capsys):
    """A graph spikefab did not write has no T: -o refuses it without --timesteps, then
    saves a student with the T given, under the norse-dev profile."""
    import nir
    from test_nir_norse import DT, _graph, _layers

    rng = np.random.default_rng(0)
    layers = _layers(rng, ("LIF",), sizes=(64, 20), tau=8 * DT)
    for _, _, _, p in layers:
        p["v_leak"][:] = 0
        p["v_reset"][:] = 0
    g = _graph(layers, "norse-dev")
    g = nir.NIRGraph(
        nodes={**{k: v for k, v in g.nodes.items() if k != "output"},
               "9": nir.Affine(weight=rng.normal(0, .3, (10, 20)).astype(np.float32),
                               bias=np.zeros(10, np.float32)),
               "output": nir.Output(output_type=np.array([10]))},
        edges=[e for e in g.edges if e[1] != "output"] + [(g.edges[-1][0], "9"),
                                                          ("9", "output")])
    path = tmp_path / "norse.nir"
    nir.write(path, g)
    out = tmp_path / "student"
    assert main(["nir", "import", str(path), "--profile", "norse-dev", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: timesteps is required") and err.count("\n") == 1
    assert not out.with_suffix(".pt").exists()
    assert main(["nir", "import", str(path), "--profile", "norse-dev", "-o", str(out),
                 "--timesteps", "0"]) == 2
    assert capsys.readouterr().err == "error: timesteps = 0: must be an integer >= 1\n"
    assert main(["nir", "import", str(path), "--profile", "norse-dev", "-o", str(out),
                 "--timesteps", "6"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {out.with_suffix('.pt')}"
    model, _, _ = load_checkpoint(out.with_suffix(".pt"))
    assert model.sizes == (64, 20, 10) and model.timesteps == 6
