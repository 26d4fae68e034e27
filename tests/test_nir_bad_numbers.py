"""NIR import refuses NaN, +-inf and non-numbers in every parameter it reads, naming the
node and field, and never writes them into a student or an IR."""

import json

import nir
import numpy as np
import pytest
from spikefab.nirgraph import ImportModes, import_nir, to_student
from spikefab.run.nir_io import import_file

MODES = ImportModes(1e-4, "value", "gt")


def _graph(w0=None, b0=None, w1=None, lin=False, lif=None, metadata=None):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(3, 4)) if w0 is None else w0
    b0 = np.zeros(3) if b0 is None else b0
    w1 = rng.normal(size=(2, 3)) if w1 is None else w1
    lif = lif or {}
    nodes = {
        "input": nir.Input(input_type=np.array([4])),
        "fc0": nir.Affine(weight=w0, bias=b0),
        "lif0": nir.LIF(**{"tau": np.full(3, 8e-4), "r": np.full(3, 8.0),
                           "v_leak": np.zeros(3), "v_threshold": np.ones(3),
                           "v_reset": np.zeros(3), **lif}),
        "fc1": nir.Linear(weight=w1) if lin else nir.Affine(weight=w1, bias=np.zeros(2)),
        "output": nir.Output(output_type=np.array([2])),
    }
    order = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:], strict=True)),
                        type_check=False, metadata=metadata or {})


def _error(graph, modes=MODES) -> str:
    with pytest.raises(ValueError) as e:
        import_nir(graph, modes)
    assert "\n" not in str(e.value)
    return str(e.value)


def _with(arr, index, value):
    arr = np.array(arr, dtype=np.float64)
    arr[index] = value
    return arr


W0 = np.random.default_rng(0).normal(size=(3, 4))


@pytest.mark.parametrize("graph, message", [
    (_graph(w0=_with(W0, (1, 2), np.nan)),
     "Affine node 'fc0': weight[1, 2] must be finite, not nan"),
    (_graph(w0=_with(W0, (0, 0), np.inf)),
     "Affine node 'fc0': weight[0, 0] must be finite, not inf"),
    (_graph(b0=_with(np.zeros(3), 2, -np.inf)),
     "Affine node 'fc0': bias[2] must be finite, not -inf"),
    (_graph(w1=_with(np.ones((2, 3)), (1, 0), np.nan), lin=True),
     "Linear node 'fc1': weight[1, 0] must be finite, not nan"),
    (_graph(lif={"v_threshold": np.array([1.0, np.inf, 1.0])}),
     "LIF node 'lif0': v_threshold must be finite, not inf"),
    (_graph(lif={"r": np.array([8.0, 8.0, np.nan])}), "LIF node 'lif0': r must be finite, not nan"),
    (_graph(lif={"v_leak": np.full(3, -np.inf)}),
     "LIF node 'lif0': v_leak must be finite, not -inf"),
    (_graph(lif={"v_reset": np.full(3, np.nan)}),
     "LIF node 'lif0': v_reset must be finite, not nan"),
    (_graph(w0=np.array([["a"] * 4] * 3)),
     "Affine node 'fc0': weight must hold numbers, not dtype <U1"),
])
def test_non_finite_parameters_are_refused(graph, message):
    assert _error(graph) == message


def test_non_numbers_in_neuron_parameters_are_refused():
    g = _graph()
    g.nodes["lif0"].tau = "fast"
    assert _error(g) == "LIF node 'lif0': tau must hold numbers, not str"


def test_non_finite_spikefab_metadata_is_refused():
    info = {"format": "spikefab-nir", "version": 1, "kind": "float", "timesteps": 4,
            "slope": float("inf"), "modes": MODES.to_dict()}
    g = _graph(metadata={"spikefab": json.dumps(info)})
    assert _error(g, None) == (
        "graph metadata 'spikefab' holds Infinity; numbers must be finite")


def test_weights_beyond_float32_are_refused_not_written_as_inf():
    g = _graph(w0=_with(W0, (2, 1), 1e39))
    net = import_nir(g, MODES)
    with pytest.raises(ValueError) as e:
        to_student(net, 4)
    assert str(e.value) == (
        "node 'fc0': weight[2, 1] = 1e+39 is beyond float32's range (|x| <= 3.40282e+38), "
        "which a SpikingMLP holds")


def test_nir_import_writes_no_checkpoint_of_bad_numbers(tmp_path):
    from spikefab.nirgraph import write_nir

    write_nir(_graph(w0=_with(W0, (1, 2), np.nan)), tmp_path / "g.nir")
    with pytest.raises(ValueError, match=r"^Affine node 'fc0': weight\[1, 2\] must be finite"):
        import_file(tmp_path / "g.nir", "snntorch", out=tmp_path / "s", timesteps=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.nir"]
