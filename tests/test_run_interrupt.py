"""Ctrl-C: a real SIGINT to the ``spikefab`` process group (what a terminal sends) ends the
command with one line naming the step, exit 130, and the step left not done; a step stopped
halfway is never taken for done."""

import json
import time

import pytest
from runlib import interrupt, slow_teacher, start_cli, tiny_config, wait_for_line
from spikefab.cli import main
from spikefab.run import Context, RunDir, load_config, run_pipeline
from spikefab.run import pipeline as pipeline_mod
from spikefab.run.pipeline import StepInterrupted

UNTIL_EXPORT = ["train-teacher", "distill", "quantize", "export"]


def _stopped(step: str) -> str:
    return (f"interrupted: step {step!r} stopped and is left not done; run the command again "
            f"to resume\n")


def test_ctrl_c_in_a_training_step(tmp_path):
    path = slow_teacher(tiny_config(tmp_path, method="none"))
    proc = start_cli("run", str(path))
    wait_for_line(proc, "[1/7] train-teacher: ")
    code, err = interrupt(proc)
    assert (code, err) == (130, _stopped("train-teacher"))
    run = RunDir(tmp_path / "runs" / "tiny")
    assert run.state()["steps"] == {}
    assert not run.path("teacher", "teacher.pt").exists()


def test_ctrl_c_while_verilator_builds(tmp_path, capsys):
    """The tools' processes (verilator, make, g++) get the SIGINT too; none of their output
    reaches the terminal and ``sim`` stays not done while the steps before it keep theirs."""
    path = tiny_config(tmp_path, method="none")
    assert main(["run", str(path), "--until", "export"]) == 0
    run = RunDir(tmp_path / "runs" / "tiny")
    before = run.path("state.json").read_text()
    capsys.readouterr()
    proc = start_cli("sim", str(path))
    wait_for_line(proc, "[1/1] sim: ")
    log = run.path("sim", "verilator", "build.log")
    deadline = time.monotonic() + 120
    while not log.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # Verilator has started: its log is open
    time.sleep(0.5)
    code, err = interrupt(proc)
    assert (code, err) == (130, _stopped("sim"))
    assert run.path("state.json").read_text() == before
    assert main(["status", str(run.root)]) == 0
    status = capsys.readouterr().out.splitlines()
    assert [ln.split()[1] for ln in status[:4]] == ["done"] * 4
    assert status[5] == f"{'sim':24s} not run"


def test_a_step_interrupted_while_rerunning_is_not_done(tmp_path, monkeypatch):
    """--force re-runs a done step: stopped after writing part of its outputs, it must run
    again next time, not be skipped on the strength of its old record."""
    path = tiny_config(tmp_path)
    cfg = load_config(path)
    run = RunDir.for_config(cfg)
    run.save_config(cfg, path.read_text())
    run_pipeline(Context(cfg, run, out=lambda s: None), until="export")

    def half_done(ctx):
        ctx.run.path("quant", "quant.json").write_text("{}\n")  # one output rewritten
        raise KeyboardInterrupt

    steps = tuple(pipeline_mod.Step(s.name, s.title, half_done, s.keys, s.after, s.outputs)
                  if s.name == "quantize" else s for s in pipeline_mod._STEPS)
    monkeypatch.setattr(pipeline_mod, "_STEPS", steps)
    with pytest.raises(StepInterrupted) as e:
        run_pipeline(Context(cfg, run, out=lambda s: None), until="export", force=True)
    assert e.value.step == "quantize"
    assert "quantize" not in run.state()["steps"]  # its old record went before it started
    monkeypatch.undo()
    lines = []
    results = run_pipeline(Context(cfg, run, out=lines.append), until="export")
    assert [k for k, v in results.items() if v != "skipped"] == ["quantize", "export"]
    assert json.loads(run.path("quant", "quant.json").read_text())["method"] == "ptq"
