"""Run directories: steps write their files, resume from the last completed step, re-run
exactly what a changed key touches, refuse to run before the steps they read."""

import json

import numpy as np
import pytest
from runlib import tiny_config
from spikefab.ir import QuantizedNetwork
from spikefab.run import Context, RunDir, load_config, run_one, run_pipeline
from spikefab.run import pipeline as pipeline_mod
from spikefab.run.pipeline import step_fingerprint

UNTIL_EXPORT = ("train-teacher", "distill", "quantize", "export")


def _ctx(path, lines=None):
    cfg = load_config(path)
    run = RunDir.for_config(cfg)
    run.save_config(cfg, path.read_text())
    return Context(cfg, run, out=(lines.append if lines is not None else lambda s: None))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    path = tiny_config(root)
    lines = []
    ctx = _ctx(path, lines)
    results = run_pipeline(ctx, until="export")
    return path, ctx, results, lines


def test_steps_write_the_run_directory(tiny_run):
    path, ctx, results, _ = tiny_run
    assert list(results) == list(UNTIL_EXPORT)
    run = ctx.run
    assert json.loads(run.path("config.json").read_text()) == ctx.cfg
    assert run.path("config.toml").read_text() == path.read_text()
    for f in ("teacher/teacher.pt", "teacher/teacher.json", "student/student.pt",
              "student/student.json", "student/float_pred.npy", "quant/net.json",
              "quant/net.npz", "ir/net.json", "ir/net.npz", "ir/test_inputs.npy",
              "ir/golden.npz", "ir/golden.json"):
        assert run.path(f).is_file(), f
    assert not list(run.root.rglob("*.tmp")), "atomic writes leave no temporaries"
    state = run.state()["steps"]
    assert list(state) == list(UNTIL_EXPORT)
    for name in UNTIL_EXPORT:
        assert state[name]["fingerprint"] == step_fingerprint(ctx.cfg, name)


def test_golden_results_match_the_saved_ir(tiny_run):
    _, ctx, _, _ = tiny_run
    from spikefab.golden import run_network

    net = QuantizedNetwork.load(ctx.run.path("ir", "net"))
    x = np.load(ctx.run.path("ir", "test_inputs.npy"))
    res = run_network(net, x)
    with np.load(ctx.run.path("ir", "golden.npz")) as z:
        np.testing.assert_array_equal(z["prediction"], res.prediction)
        np.testing.assert_array_equal(z["acc"], res.acc)
        np.testing.assert_array_equal(z["spike_count0"], res.spikes[0].sum(axis=0))
        acc = float((z["prediction"] == z["y"]).mean())
    assert json.loads(ctx.run.path("ir", "golden.json").read_text())["golden_acc"] == acc
    assert net.meta["golden_acc"] == acc


def test_second_run_skips_every_done_step(tiny_run):
    path, _, _, _ = tiny_run
    lines = []
    results = run_pipeline(_ctx(path, lines), until="export")
    assert results == {name: "skipped" for name in UNTIL_EXPORT}
    assert all("(resumed; skipped)" in ln for ln in lines)


def test_a_changed_key_reruns_only_the_steps_downstream(tiny_run, tmp_path):
    path, ctx, _, _ = tiny_run
    changed = tiny_config(path.parent, "tiny", w_bits=4)  # same run directory
    assert changed == path
    try:
        results = run_pipeline(_ctx(path), until="export")
        assert results["train-teacher"] == "skipped" and results["distill"] == "skipped"
        assert results["quantize"] != "skipped" and results["export"] != "skipped"
        net = QuantizedNetwork.load(ctx.run.path("ir", "net"))
        assert {la.w_bits for la in net.spec.layers} == {4}
    finally:  # leave the module's run as it was
        tiny_config(path.parent, "tiny")
        run_pipeline(_ctx(path), until="export")


def test_an_interrupted_run_resumes_from_the_last_completed_step(tmp_path, monkeypatch):
    path = tiny_config(tmp_path, "broken")
    calls = []

    def boom(ctx):
        calls.append("quantize")
        raise RuntimeError("interrupted")

    steps = tuple(pipeline_mod.Step(s.name, s.title, boom, s.keys, s.after)
                  if s.name == "quantize" else s for s in pipeline_mod._STEPS)
    monkeypatch.setattr(pipeline_mod, "_STEPS", steps)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_pipeline(_ctx(path), until="export")
    run = RunDir(tmp_path / "runs" / "broken")
    assert list(run.state()["steps"]) == ["train-teacher", "distill"]
    monkeypatch.undo()
    lines = []
    results = run_pipeline(_ctx(path, lines), until="export")
    assert results["train-teacher"] == "skipped" and results["distill"] == "skipped"
    assert results["quantize"]["method"] == "ptq" and "golden_acc" in results["export"]
    assert lines[2].startswith("[3/4] quantize: ")


def test_a_step_refuses_to_run_before_the_steps_it_reads(tmp_path):
    ctx = _ctx(tiny_config(tmp_path, "fresh"))
    with pytest.raises(ValueError) as e:
        run_one(ctx, "quantize")
    assert str(e.value) == (f"step 'quantize' needs step 'distill', which is not done in "
                            f"{ctx.run.root}: run `spikefab distill ...` or "
                            f"`spikefab run ...`")


def test_an_out_of_date_upstream_step_is_named(tiny_run):
    path, ctx, _, _ = tiny_run
    cfg = json.loads(json.dumps(ctx.cfg))
    cfg["student"]["epochs"] = 3
    other = Context(cfg, ctx.run, out=lambda s: None)
    with pytest.raises(ValueError, match="needs step 'distill', which is out of date "
                                         r"\(the config or an earlier step changed\)"):
        run_one(other, "quantize")


def test_run_one_skips_a_done_step_unless_forced(tiny_run):
    path, _, _, _ = tiny_run
    lines = []
    ctx = _ctx(path, lines)
    assert run_one(ctx, "export") is None
    assert "already done with this config" in lines[-1]
    before = ctx.run.step("export")["finished"]
    summary = run_one(ctx, "export", force=True)
    assert summary["golden_acc"] == ctx.run.step("export")["summary"]["golden_acc"]
    assert ctx.run.step("export")["finished"] >= before


@pytest.mark.parametrize("kw, message", [
    ({"until": "deploy"}, "step must be one of train-teacher, distill, quantize, export, "
                          "verilog, sim, bitstream, report, not 'deploy'"),
    ({"skip": ("sims",)}, "step must be one of train-teacher, distill, quantize, export, "
                          "verilog, sim, bitstream, report, not 'sims'"),
    ({"until": "bitstream"}, "--until 'bitstream': no such step in this run "
                             "(hardware.boards is empty)"),
])
def test_bad_step_names(tiny_run, kw, message):
    path, _, _, _ = tiny_run
    with pytest.raises(ValueError) as e:
        run_pipeline(_ctx(path), **kw)
    assert str(e.value) == message


def test_fingerprints_follow_the_keys_each_step_reads():
    from spikefab.run import check_config

    a = check_config({}, default_name="x")
    b = check_config({"hardware": {"lanes": 8}}, default_name="x")
    c = check_config({"student": {"epochs": 3}}, default_name="x")
    same = ("train-teacher", "distill", "quantize", "export")
    assert all(step_fingerprint(a, s) == step_fingerprint(b, s) for s in same)
    assert step_fingerprint(a, "verilog") != step_fingerprint(b, "verilog")
    assert step_fingerprint(a, "train-teacher") == step_fingerprint(c, "train-teacher")
    assert all(step_fingerprint(a, s) != step_fingerprint(c, s)
               for s in ("distill", "quantize", "export", "verilog", "sim"))


def test_forcing_a_step_reruns_the_steps_that_read_its_outputs(tmp_path):
    path = tiny_config(tmp_path, "forced")
    run_pipeline(_ctx(path), until="export")
    ctx = _ctx(path)
    before = ctx.run.step("export")["token"]
    run_one(ctx, "quantize", force=True)
    with pytest.raises(ValueError, match="needs step 'export', which is out of date"):
        run_one(_ctx(path), "verilog")
    results = run_pipeline(_ctx(path), until="export")
    assert [k for k, v in results.items() if v != "skipped"] == ["export"]
    rec = ctx.run.step("export")
    assert rec["token"] != before
    assert rec["inputs"] == {"quantize": ctx.run.step("quantize")["token"]}
