"""A conv student through the run pipeline up to the IR: config keys, distillation with a conv
student (CKDSNN, TSSD on a conv stage), PTQ and QAT to a conv IR, golden results, report."""

import json
import re

import numpy as np
import pytest
from spikefab.golden import run_network
from spikefab.golden.layers import pass_on
from spikefab.ir import QuantizedNetwork
from spikefab.run import Context, RunDir, load_config, run_one, run_pipeline
from spikefab.run.config import check_config
from spikefab.spec import ConvSpec

TINY_CONV = """\
[run]
name = "{name}"
dir = "{root}"

[teacher]
kind = "cnn"
channels = [4, 8]
epochs = 1

[student]
kind = "cnn"
channels = [4, 6]
epochs = 2
augment_shift = 1

[distill]
method = "{method}"
{options}

[quantize]
method = "{quant}"
w_bits = 6
v_bits = {v_bits}
epochs = 1

[report]
sweep_timesteps = [2, 4]
sweep_bits = [4, 8]
"""


def _ctx(root, name, method, quant, options=""):
    path = root / f"{name}.toml"
    path.write_text(TINY_CONV.format(name=name, root=root / "runs", method=method, quant=quant,
                                     options=options,
                                     v_bits=12 if quant == "qat" else '"auto"'))
    cfg = load_config(path)
    run = RunDir.for_config(cfg)
    run.save_config(cfg, path.read_text())
    return Context(cfg, run, out=lambda s: None)


@pytest.fixture(scope="module", params=[("ckdsnn", "qat", ""),
                                        ("tssd", "ptq", "options = { layer = 1 }")],
                ids=["ckdsnn-qat", "tssd-ptq"])
def conv_run(request, tmp_path_factory):
    method, quant, options = request.param
    ctx = _ctx(tmp_path_factory.mktemp("conv"), f"conv_{method}", method, quant, options)
    run_pipeline(ctx, until="export")
    return ctx


def test_the_ir_holds_the_conv_stages_and_golden_matches(conv_run):
    run = conv_run.run
    net = QuantizedNetwork.load(run.path("ir", "net"))
    assert net.spec.semantics == "v1+conv2d"
    assert [ly.conv for ly in net.spec.hidden] == [ConvSpec(1, 8, 8, 4, 3, 1, 1, pool=2),
                                                   ConvSpec(4, 4, 4, 6, 3, 1, 1, pool=2)]
    x = np.load(run.path("ir", "test_inputs.npy"))
    res = run_network(net, x)
    with np.load(run.path("ir", "golden.npz")) as z:
        np.testing.assert_array_equal(z["prediction"], res.prediction)
        for i, layer in enumerate(net.spec.hidden):
            np.testing.assert_array_equal(z[f"spike_count{i}"], res.spikes[i].sum(axis=0))
            passed = sum(pass_on(layer, s) for s in res.spikes[i].astype(np.int64))
            np.testing.assert_array_equal(z[f"passed_count{i}"], passed)
    student = json.loads(run.path("student", "student.json").read_text())
    assert student["sizes"] == ["1x8x8", "c4", "c6", 10]
    assert json.loads(run.path("ir", "golden.json").read_text())["golden_acc"] > 0.1


def test_the_report_describes_the_conv_run(conv_run):
    run_one(conv_run, "report")
    md = conv_run.run.path("report", "report.md").read_text()
    assert "student 1x8x8-c4-c6-10" in md
    assert "| L0 | 64→256 | MAC |" in md


def test_an_mlp_config_reads_as_before():
    """No kind or channels in an MLP student's effective config: old runs keep their
    fingerprints; a conv student's has kind and channels and no hidden."""
    mlp = check_config({}, default_name="x")["student"]
    assert "kind" not in mlp and "channels" not in mlp and mlp["hidden"] == [128]
    cnn = check_config({"student": {"kind": "cnn"}}, default_name="x")["student"]
    assert cnn["kind"] == "cnn" and cnn["channels"] == [16, 32] and "hidden" not in cnn
    assert check_config({"student": cnn}, default_name="x")["student"] == cnn


@pytest.mark.parametrize("doc, message", [
    ({"student": {"kind": "cnn", "hidden": [64]}},
     "config key 'student.hidden' describes a student.kind 'mlp' student, not a 'cnn' one "
     "(whose shape is student.channels)"),
    ({"student": {"channels": [8]}},
     "config key 'student.channels' describes a student.kind 'cnn' student, not a 'mlp' one "
     "(whose shape is student.hidden)"),
    ({"student": {"kind": "rnn"}},
     "config key 'student.kind' must be one of 'mlp', 'cnn', not 'rnn'"),
    ({"student": {"kind": "cnn", "channels": []}},
     "config key 'student.channels' must be a list of >= 1 items, not []"),
    ({"student": {"kind": "cnn", "readout": "spikes"}},
     "config key 'student.readout' must be 'current' for a conv student (student.kind 'cnn'), "
     "not 'spikes'"),
    ({"student": {"kind": "cnn", "reset": "subtract-delayed"}},
     "config key 'student.reset' must be 'subtract' or 'zero' for a conv student (kind "
     "'cnn'), not 'subtract-delayed'"),
    ({"teacher": {"kind": "cnn"}, "distill": {"method": "ckdsnn"}},
     "config key 'student.kind' must be 'cnn' when distill.method is 'ckdsnn' (SAMD matches "
     "a conv student's feature maps), not 'mlp'"),
    ({"student": {"kind": "cnn"}, "distill": {"method": "ckdsnn"}},
     "config key 'teacher.kind' must be 'cnn' when distill.method is 'ckdsnn' (SAMD needs the "
     "teacher's class activation maps), not 'mlp'"),
    ({"student": {"kind": "cnn", "channels": [4, 8]},
      "distill": {"method": "tssd", "options": {"layer": 2}}},
     "config key 'distill.options.layer' must be an integer in [0, 1] (a conv stage), not 2"),
    ({"student": {"kind": "cnn", "channels": [4, 8, 16, 32]}, "data": {"dataset": "digits"}},
     "config key 'student.channels' has 4 conv stages, too many for digits' 1x8x8 images "
     "(each stage halves H and W; at most 3)"),
])
def test_conv_student_config_errors(doc, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        check_config(doc, default_name="x")
