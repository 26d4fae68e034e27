"""``spikefab formal TARGET``: proves a run's core, one line per proof; a failed proof is a
one-line error (exit 1) naming the property and the counterexample under the run."""

import json

import pytest
from runlib import tiny_config
from spikefab.cli import main
from spikefab.run import RunDir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("formal")
    path = tiny_config(root, method="none")
    assert main(["run", str(path), "--until", "export"]) == 0
    return path, RunDir(root / "runs" / "tiny")


def _err_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


def test_formal_proves_the_run(tiny, capsys):
    _, run = tiny
    capsys.readouterr()
    assert main(["formal", str(run.root)]) == 0
    out = capsys.readouterr().out.splitlines()
    summary = json.loads(run.path("formal", "formal.json").read_text())
    names = [p["name"] for p in summary["proofs"]]
    assert "layer0.neuron" in names
    assert {"layer0.queue", "layer0.queue-cover", "board.parser", "board.builder"} <= set(names)
    assert all(p["passed"] for p in summary["proofs"])
    assert out[0].startswith(f"{len(names)} proofs of {run.root} (lanes=")
    assert sorted(ln.split()[1].rstrip(":") for ln in out if ln.startswith("PASS ")) == \
        sorted(names)
    assert out[-1].startswith(f"{len(names)}/{len(names)} proofs passed in ")


def test_a_failed_proof_is_one_line_with_its_property_and_counterexample(tiny, capsys,
                                                                        monkeypatch):
    import spikefab_hdl.formal.network as network

    real = network.neuron_proofs

    def planted(name, *, neuron, **kw):  # the gateware's leak shift one too far
        from dataclasses import replace
        return real(name, neuron=neuron, gateware=replace(neuron, leak_shift=neuron.leak_shift
                                                          + 1), **kw)

    monkeypatch.setattr(network, "neuron_proofs", planted)
    _, run = tiny
    capsys.readouterr()
    assert main(["formal", str(run.root)]) == 1
    captured = capsys.readouterr()
    fail = [ln for ln in captured.out.splitlines() if ln.startswith("FAIL layer0.neuron")]
    vcd = run.path("formal", "layer0.neuron.vcd")
    assert fail and "the next membrane equals docs/semantics.md's" in fail[0]
    assert fail[0].endswith(f"counterexample: {vcd}")
    assert vcd.is_file()
    err = captured.err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: formal: ") and "proofs failed, first layer0.neuron " in err[0]
    assert err[0].endswith(f"counterexample: {vcd}")


def test_formal_needs_the_runs_ir(tmp_path, capsys):
    path = tiny_config(tmp_path, name="empty")
    assert main(["formal", str(path)]) == 2
    ir = tmp_path / "runs" / "empty" / "ir" / "net.json"
    assert _err_line(capsys) == (f"error: {ir} not found: formal proves the run's IR; run "
                                 f"the export step first (spikefab export "
                                 f"{tmp_path / 'runs' / 'empty'})")
    assert not (tmp_path / "runs" / "empty").exists()


def test_formal_refuses_bad_jobs(tiny, capsys):
    _, run = tiny
    capsys.readouterr()
    assert main(["formal", str(run.root), "--jobs", "0"]) == 2
    assert _err_line(capsys) == "error: --jobs must be at least 1, not 0"
