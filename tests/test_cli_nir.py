"""``spikeforge nir export|import``: a run's IR survives the round trip bit for bit."""

import numpy as np
from runlib import tiny_config
from spikeforge.cli import main
from spikeforge.ir import QuantizedNetwork
from spikeforge.train import load_checkpoint


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
