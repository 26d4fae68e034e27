"""Conformance: graphs snnTorch itself exports, imported the way ``spikefab nir check`` and
``nir import`` do, give snnTorch's spikes and predictions.

Each network is built the way snnTorch users build it (``snntorch_nets``), trained briefly
on digits with snnTorch, exported with snnTorch's ``export_to_nir`` into a file, and its
spikes recorded with ``nirgraph.reference.record_snntorch``. The imported float model must
equal snnTorch on every spike of every layer and step of all 360 test images (counted: no
float tie arises, since both do the same float operations), and the integer model
(``export_ptq`` at 8-bit weights, golden) must agree with snnTorch's predictions.
"""

import numpy as np
import pytest
from snntorch.export_nir import export_to_nir
from spikefab.nirgraph import write_nir
from spikefab.nirgraph.reference import record_snntorch, write_reference
from spikefab.run.nir_check import check_reference
from spikefab.snntorch_models import build, inputs, train

T = 8
#: name -> (neuron, beta, snnTorch reset, hidden, input, readout, --reset)
MODELS = {
    "leaky0.9-default-direct": ("Leaky", 0.9, "subtract", (32,), "direct", "spikes",
                                "subtract-delayed"),
    "leaky0.95-default-rate-2h": ("Leaky", 0.95, "subtract", (32, 24), "rate", "spikes",
                                  "subtract-delayed"),
    "leaky0.9-zero-direct": ("Leaky", 0.9, "zero", (32,), "direct", "spikes", "zero"),
    "synaptic-default-direct": ("Synaptic", 0.9, "subtract", (32,), "direct", "spikes",
                                "subtract-delayed"),
    "synaptic-default-rate-2h": ("Synaptic", 0.95, "subtract", (24, 16), "rate", "spikes",
                                 "subtract-delayed"),
    "leaky0.95-default-direct-3h-current": ("Leaky", 0.95, "subtract", (32, 24, 16), "direct",
                                            "current", "subtract-delayed"),
}
_CACHE: dict = {}


def _model(name, tmp_path_factory):
    """(graph file, reference file, flags): trained once per test session."""
    if name not in _CACHE:
        kind, beta, reset, hidden, enc, readout, flag = MODELS[name]
        net = build(kind, hidden, beta=beta, reset=reset, readout=readout)
        ds = train(net, enc, T, epochs=2)
        x = inputs(ds.x_test, enc, T, seed=7)
        ref = record_snntorch(net, x, T, y=ds.y_test)
        root = tmp_path_factory.mktemp(name)
        graph = write_nir(export_to_nir(net, x[:1] if x.ndim == 2 else x[0, :1],
                                        ignore_dims=[0]), root / "model.nir")
        _CACHE[name] = (graph, write_reference(root / "ref.npz", ref), flag, ref)
    return _CACHE[name]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_imported_model_equals_snntorch(name, tmp_path_factory):
    graph, ref_path, flag, ref = _model(name, tmp_path_factory)
    _, report = check_reference(graph, ref_path, timesteps=T, reset=flag, w_bits=[8])
    flt, w8 = report["models"]
    spiking = MODELS[name][3] + ((10,) if MODELS[name][5] == "spikes" else ())
    assert len(flt["layers"]) == len(spiking)
    for layer, n in zip(flt["layers"], spiking, strict=True):
        assert layer["total"] == T * 360 * n
        assert layer["differ"] == 0, layer  # spike for spike: no float tie occurred
    assert flt["agreement"] == 1.0
    rates = [float(ref[f"spikes{j}"].mean()) for j in range(len(spiking))]
    assert all(0.01 < r < 0.9 for r in rates), rates  # the comparison means something
    assert flt["accuracy"] > 0.7  # snnTorch learned digits in 2 epochs
    assert w8["agreement"] >= 0.95, w8["agreement"]
    semantics = report["semantics"]
    assert ("cuba" in semantics) == (MODELS[name][0] == "Synaptic")
    assert ("spike-readout" in semantics) == (MODELS[name][5] == "spikes")
    assert ("delayed-reset" in semantics) == (flag == "subtract-delayed")
    assert "gt" in semantics and "decay" in semantics


def test_wrong_reset_is_measured_not_silent(tmp_path_factory):
    """NIR does not record the reset: the import needs --reset, and the check shows what a
    wrong one costs (snnTorch's default Leaky read with an immediate subtract)."""
    graph, ref_path, _, _ = _model("leaky0.9-default-direct", tmp_path_factory)
    with pytest.raises(ValueError) as e:
        check_reference(graph, ref_path, timesteps=T)
    assert str(e.value) == (
        f"{graph}: a NIR graph does not record how its neurons reset; pass --reset "
        "subtract-delayed (snnTorch's default Leaky and Synaptic), --reset zero (snnTorch "
        "reset_mechanism='zero'; Norse) or --reset subtract (snnTorch reset_delay=False), or "
        "--profile snntorch|norse|norse-dev")
    _, report = check_reference(graph, ref_path, timesteps=T, reset="subtract", w_bits=[])
    hidden = report["models"][0]["layers"][0]
    assert hidden["differ"] / hidden["total"] > 0.01


def test_integer_model_at_four_bits_is_reported(tmp_path_factory):
    graph, ref_path, flag, _ = _model("leaky0.9-zero-direct", tmp_path_factory)
    lines, report = check_reference(graph, ref_path, timesteps=T, reset=flag, w_bits=[8, 4])
    assert [m.get("w_bits") for m in report["models"]] == [None, 8, 4]
    assert lines[-1] == ("semantics of the integer model: "
                         "v1+decay+gt+spike-readout")
    assert lines[-3].startswith("integer model (w8, v auto, in 8 bits): spikes0 ")
    assert lines[-2].startswith("integer model (w4, v auto, in 8 bits): spikes0 ")
    assert all(0.5 < m["agreement"] <= 1.0 for m in report["models"])


def test_reference_file_errors(tmp_path, tmp_path_factory):
    graph, _, flag, ref = _model("leaky0.9-default-direct", tmp_path_factory)

    def err(**arrays):
        path = tmp_path / "bad.npz"
        np.savez(path, **arrays)
        with pytest.raises(ValueError) as e:
            check_reference(graph, path, timesteps=T, reset=flag)
        assert "\n" not in str(e.value)
        return str(e.value).replace(str(path), "REF")

    assert err(y=ref["y"]) == "reference REF has no array 'x' (the inputs); it has ['y']"
    assert err(x=ref["x"], prediction=ref["prediction"][:5]) == (
        "reference REF: prediction must be 360 integers [N], not int64 [5]")
    assert err(x=ref["x"], spikes1=ref["spikes1"]) == (
        "reference REF has unknown arrays ['spikes1']; allowed: x, spikes0, spikes1, ... "
        "(in order), prediction, y")
    assert err(x=ref["x"][:, :10]) == "reference x has 10 inputs but the graph takes 64"
    assert err(x=ref["x"] * 2) == (
        "reference x lies in [0, 2]; the integer model's direct input is x in [0, 1] "
        "quantised to --in-bits bits")
    with pytest.raises(ValueError) as e:
        check_reference(graph, tmp_path / "none.npz", timesteps=T, reset=flag)
    assert str(e.value) == f"reference {tmp_path / 'none.npz'} not found"
