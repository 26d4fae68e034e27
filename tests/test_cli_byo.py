"""``spikefab nir import MODEL.nir --run DIR`` and ``spikefab nir check``: an snnTorch graph
becomes a run directory from which the pipeline's steps run unchanged; what the graph cannot
tell is asked for, never guessed; unrepresentable values are refused naming the node."""

import json

import nir
import numpy as np
from spikefab.cli import main
from spikefab.ir import QuantizedNetwork
from spikefab.train import load_checkpoint
from test_nir_byo import T, _model


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def test_import_into_a_run_then_the_pipeline(tmp_path, tmp_path_factory, capsys):
    graph, ref, _, _ = _model("leaky0.9-default-direct", tmp_path_factory)
    run = tmp_path / "runs" / "byo"
    code, _, err = _run(["nir", "import", graph, "--run", run, "--timesteps", T], capsys)
    assert code == 2 and err.startswith(f"error: {graph}: a NIR graph does not record how its "
                                        "neurons reset; pass --reset subtract-delayed")
    assert not run.exists()
    code, out, err = _run(["nir", "import", graph, "--run", run, "--timesteps", T,
                           "--reset", "subtract-delayed"], capsys)
    assert code == 0, err
    assert out[0] == "L0: 0 64->32, LIF reset subtract_next"
    assert "dt 0.0001: tau / r = 0.0001 in every leaky node (unit input gain: snnTorch's " \
           "convention)" in out
    assert "LIF node '1': beta 0.9 -> decay 410/4096 = 0.899902 (residual 9.8e-05)" in out
    assert out[-1] == f"wrote {run} (step distill done); next: spikefab run {run} --skip bitstream"
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["student"]["reset"], cfg["student"]["threshold"], cfg["student"]["readout"],
            cfg["teacher"]["kind"], cfg["distill"]["method"], cfg["student"]["in_bits"]) == (
        "subtract-delayed", "gt", "spikes", "none", "none", 8)
    model, _, extra = load_checkpoint(run / "student" / "student.pt")
    assert extra["nodes"] == ["1", "3"] and model.readout == "spikes"
    code, out, err = _run(["run", run, "--until", "export"], capsys)
    assert code == 0, err
    assert "[2/4] distill: done" in out[3]
    ir = QuantizedNetwork.load(run / "ir" / "net")
    assert ir.spec.semantics == "v1+decay+delayed-reset+gt+spike-readout"
    golden = json.loads((run / "ir" / "golden.json").read_text())
    student = json.loads((run / "student" / "student.json").read_text())
    assert student["method"] == "nir" and abs(golden["golden_acc"] - student["float_acc"]) < .05
    code, out, _ = _run(["quantize", run], capsys)
    assert code == 0 and out == [f"quantize: already done with this config in {run} "
                                 "(--force runs it again)"]
    code, _, err = _run(["nir", "import", graph, "--run", run, "--timesteps", T,
                         "--reset", "zero"], capsys)
    assert code == 2 and err == f"error: run directory {run} exists; pass --force to replace it\n"
    code, _, err = _run(["nir", "import", graph, "--run", run, "--timesteps", T,
                         "--reset", "zero", "--force"], capsys)
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["student"]["reset"] == "zero"
    assert not (run / "ir").exists()  # replaced whole
    assert sorted(p.name for p in run.parent.iterdir()) == ["byo"]  # no temporaries left


def test_check_from_the_command_line(tmp_path_factory, capsys):
    graph, ref, flag, _ = _model("synaptic-default-direct", tmp_path_factory)
    code, out, err = _run(["nir", "check", graph, "--reference", ref, "--timesteps", T,
                           "--reset", flag, "--w-bits", 8, "--w-bits", 4], capsys)
    assert code == 0, err
    assert out[0] == "L0: 0 64->32, CubaLIF reset subtract_next"
    float_line = next(line for line in out if line.startswith("float model: "))
    assert float_line.startswith("float model: spikes0 92160/92160 equal (0 differ); "
                                 "spikes1 28800/28800 equal (0 differ); prediction 360/360 "
                                 "(100.00%); accuracy ")
    assert out[-1] == "semantics of the integer model: v1+cuba+decay+delayed-reset+gt+" \
                      "spike-readout"


def _norse_like(tmp_path, tau=8e-4, r=1.0, scale=1.0):
    rng = np.random.default_rng(0)
    n = 16
    nodes = {"input": nir.Input(input_type=np.array([64])),
             "fc": nir.Affine(weight=rng.normal(0, scale, (n, 64)), bias=np.zeros(n)),
             "lif": nir.LIF(tau=np.full(n, tau), r=np.full(n, r), v_leak=np.zeros(n),
                            v_threshold=np.ones(n), v_reset=np.zeros(n)),
             "out": nir.Affine(weight=rng.normal(0, 1, (10, n)), bias=np.zeros(10)),
             "output": nir.Output(output_type=np.array([10]))}
    order = list(nodes)
    g = nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:], strict=True)))
    path = tmp_path / "g.nir"
    nir.write(path, g)
    return path


def test_what_the_graph_cannot_tell_is_asked_for(tmp_path, capsys):
    path = _norse_like(tmp_path)  # r = 1: Norse's convention, dt unknown
    run = tmp_path / "run"
    code, _, err = _run(["nir", "import", path, "--run", run, "--timesteps", 4, "--reset",
                         "zero"], capsys)
    assert code == 2 and err == (
        f"error: {path}: the graph does not tell its time step dt (LIF node 'lif' has r = 1); "
        "pass --dt (Norse 1.1.0 graphs: --profile norse, its development version: --profile "
        "norse-dev)\n")
    code, out, err = _run(["nir", "import", path, "--run", run, "--timesteps", 4, "--reset",
                           "zero", "--dt", "1e-4"], capsys)
    assert code == 0, err
    assert "LIF node 'lif': beta 0.875" not in "\n".join(out)  # 1 - 2**-3 is v1's shift
    code, _, err = _run(["nir", "import", path, "--run", tmp_path / "r2", "--timesteps", 4,
                         "--reset", "zero", "--dt", "1e-4", "--dataset", "mnist5k"], capsys)
    assert code == 2 and err == "error: --dataset mnist5k has 784 inputs but the graph takes 64\n"
    code, _, err = _run(["nir", "import", path, "--timesteps", 4], capsys)
    assert code == 2 and "does not record how its neurons reset" in err


def test_unrepresentable_values_name_the_node(tmp_path, capsys):
    path = _norse_like(tmp_path, tau=0.2, r=2000.0)  # beta = 1 - 1e-4/0.2 = 0.9995
    code, _, err = _run(["nir", "import", path, "--run", tmp_path / "r", "--timesteps", 4,
                         "--reset", "zero", "--decay-bits", 8], capsys)
    assert code == 2 and err == (
        "error: LIF node 'lif': beta 0.9995 cannot be represented with decay_bits 8 (it "
        "rounds to 1); the nearest values allowed are 1 and 0.996094; pass --decay-bits 12 or "
        "change the model\n")
    code, out, err = _run(["nir", "import", path, "--run", tmp_path / "r", "--timesteps", 4,
                           "--reset", "zero"], capsys)  # 12 bits: decay 2/4096
    assert code == 0, err
    assert "LIF node 'lif': beta 0.9995 -> decay 2/4096 = 0.999512 (residual 1.2e-05)" in out
    big = _norse_like(tmp_path, tau=8e-4, r=8.0, scale=2000.0)  # weights >> threshold
    code, _, err = _run(["nir", "import", big, "--run", tmp_path / "r3", "--timesteps", 4,
                         "--reset", "zero", "--w-bits", 4], capsys)
    assert code == 2 and err.startswith("error: LIF node 'lif': threshold 1 is ")
    assert "LSBs at w_bits 4 (layer scale " in err
    assert "outside [1, 2147483646]; the nearest threshold allowed is " in err
    assert err.endswith("; pass another --w-bits\n") and err.count("\n") == 1


def test_a_config_trains_and_quantizes_every_mode(tmp_path, capsys):
    """The student's neuron modes are config keys: trained, quantized and exported."""
    path = tmp_path / "modes.toml"
    path.write_text(f"""
[run]
name = "modes"
dir = "{tmp_path / 'runs'}"
[teacher]
kind = "none"
[student]
hidden = [16]
epochs = 2
timesteps = 6
leak_shift = "none"
beta = 0.9
threshold = "gt"
reset = "subtract-delayed"
alpha = 0.8
readout = "spikes"
[quantize]
decay_bits = 10
""")
    code, _, err = _run(["run", path, "--until", "export"], capsys)
    assert code == 0, err
    ir = QuantizedNetwork.load(tmp_path / "runs" / "modes" / "ir" / "net")
    assert ir.spec.semantics == "v1+cuba+decay+delayed-reset+gt+spike-readout"
    n = ir.spec.layers[0].neuron
    assert (n.decay, n.decay_bits, n.synapse.decay) == (102, 10, 205)  # round(0.1 * 1024)
    bad = tmp_path / "bad.toml"
    bad.write_text('[run]\nname = "b"\n[student]\nbeta = 0.9\n')
    code, _, err = _run(["check", bad], capsys)
    assert code == 2 and err == (
        f"error: config {bad}: config key 'student.leak_shift' must be None when beta is "
        "given (one leak per neuron), not 3\n")
