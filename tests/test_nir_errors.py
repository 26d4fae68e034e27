"""Every refusal of the NIR import is one line naming the node or field and what is allowed."""

import nir
import numpy as np
import pytest
import torch
from spikefab.nirgraph import (
    ImportModes,
    import_nir,
    read_nir,
    run_imported,
    to_quantized,
    to_student,
    write_nir,
)

MODES = ImportModes(1e-4, "value", "gt")


def _affine(n_out, n_in, seed=0):
    rng = np.random.default_rng(seed)
    return nir.Affine(weight=rng.normal(size=(n_out, n_in)), bias=np.zeros(n_out))


def _lif(n, tau=8e-4, r=8.0, v_reset=0.0, v_leak=0.0):
    return nir.LIF(tau=np.full(n, tau), r=np.full(n, r), v_leak=np.full(n, v_leak),
                   v_threshold=np.ones(n), v_reset=np.full(n, v_reset))


def _chain(*nodes, n_in=4):
    """Input -> nodes... -> Output, named n0, n1, ..."""
    names = {"input": nir.Input(input_type=np.array([n_in]))}
    for i, node in enumerate(nodes):
        names[f"n{i}"] = node
    last = nodes[-1]
    n_out = last.weight.shape[0] if hasattr(last, "weight") else last.output_type["output"][0]
    names["output"] = nir.Output(output_type=np.array([n_out]))
    order = list(names)
    return nir.NIRGraph(nodes=names, edges=list(zip(order[:-1], order[1:], strict=True)),
                        type_check=False)


def _error(fn, *args, exc=ValueError, **kwargs) -> str:
    with pytest.raises(exc) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(
    "kwargs,msg",
    [
        ({"dt": 0.0}, "ImportModes.dt must be a positive finite number, not 0.0"),
        ({"dt": "1e-4"}, "ImportModes.dt must be a positive finite number, not '1e-4'"),
        ({"reset": "zero"},
         "ImportModes.reset must be one of 'value', 'subtract', 'subtract_next', not 'zero'"),
        ({"reset": ()}, "ImportModes.reset must not be an empty tuple"),
        ({"threshold": ">="}, "ImportModes.threshold must be one of 'gt', 'ge', not '>='"),
    ],
)
def test_modes_validation(kwargs, msg):
    args = {"dt": 1e-4, "reset": "value", "threshold": "gt", **kwargs}
    assert _error(ImportModes, **args) == msg


def test_modes_are_required_for_foreign_graphs():
    g = _chain(_affine(3, 4))
    assert _error(import_nir, g) == (
        "modes is required for a graph spikefab did not write: pass "
        "ImportModes(dt=..., reset=..., threshold=...) or one of 'snntorch', 'norse', "
        "'norse-dev'"
    )
    assert _error(import_nir, g, "brian2") == (
        "modes must be an ImportModes or one of 'snntorch', 'norse', 'norse-dev', not 'brian2'"
    )
    assert _error(import_nir, g, {"dt": 1e-4}, exc=TypeError) == (
        "modes must be an ImportModes, a profile name or None, not {'dt': 0.0001}"
    )


def test_unsupported_nodes():
    conv = nir.Conv2d(input_shape=None, weight=np.ones((2, 1, 3, 3)), stride=1, padding=0,
                      dilation=1, groups=1, bias=np.zeros(2))
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([1, 8, 8])), "conv1": conv,
                            "output": nir.Output(output_type=np.array([2, 6, 6]))},
                     edges=[("input", "conv1"), ("conv1", "output")], type_check=False)
    assert _error(import_nir, g, MODES) == (
        "Conv2d node 'conv1' is followed by Output; a conv layer needs a spiking neuron (LIF, "
        "CubaLIF or IF)"
    )
    delay = nir.Delay(delay=np.ones(3))
    assert _error(import_nir, _chain(_affine(3, 4), delay), MODES).startswith(
        "NIR node 'n1' is a Delay; spikefab imports Input, Affine"
    )
    sub = _chain(_affine(4, 4))
    assert _error(import_nir, _chain(_affine(4, 4), sub), MODES) == (
        "NIR node 'n1' is a NIRGraph (a subgraph, e.g. a recurrent RLeaky); spikefab imports "
        "a feed-forward chain of Input, Affine, Linear, LIF, CubaLIF, IF, LI, I, Output, "
        "Conv2d, SumPool2d + Threshold, AvgPool2d (before a dense layer), Flatten (after "
        "Input or a conv stage)"
    )


def test_topology_errors():
    g = _chain(_affine(3, 4), _lif(3), _affine(2, 3))
    g.edges.append(("n0", "output"))
    assert _error(import_nir, g, MODES) == (
        "NIR node 'n0' feeds 2 nodes ['n1', 'output']; spikefab imports an unbranched chain "
        "(one successor per node)"
    )
    g = _chain(_affine(3, 4), _lif(3), _affine(2, 3))
    g.edges.append(("n1", "n0"))
    assert _error(import_nir, g, MODES).startswith("NIR node 'n1' feeds 2 nodes")
    g = _chain(_affine(3, 4), _lif(3), _affine(2, 3))
    g.edges.append(("output", "n1"))
    assert _error(import_nir, g, MODES) == (
        "NIR edges [('output', 'n1')] leave the Input -> Output chain; spikefab imports one "
        "unbranched feed-forward chain"
    )
    g = _chain(_affine(3, 4))
    g.nodes["stray"] = _lif(3)
    assert _error(import_nir, g, MODES) == (
        "NIR nodes ['stray'] are not on the Input -> Output chain; spikefab imports one "
        "unbranched chain"
    )
    assert _error(import_nir, _chain(_affine(3, 4), _affine(2, 3)), MODES) == (
        "Affine node 'n0' feeds another dense node 'n1'; spikefab needs a neuron between "
        "dense layers"
    )
    assert _error(import_nir, _chain(_lif(4), _affine(2, 4)), MODES) == (
        "LIF node 'n0' right after Input: every neuron must follow an Affine, Linear or "
        "Conv2d node"
    )
    li = nir.LI(tau=np.full(3, 1e-3), r=np.ones(3), v_leak=np.zeros(3))
    assert _error(import_nir, _chain(_affine(3, 4), li, _affine(2, 3)), MODES) == (
        "layer 0 has LI node 'n1'; hidden layers need a spiking LIF, CubaLIF or IF neuron "
        "(LI, I or none only on the last layer)"
    )
    assert _error(import_nir, _chain(_affine(3, 5), _lif(3), _affine(2, 3)), MODES) == (
        "node 'n0' takes 5 inputs but 'input' gives 4"
    )
    assert _error(import_nir, _chain(_affine(3, 4), _lif(3), _affine(2, 5)), MODES) == (
        "node 'n2' takes 5 inputs but 'n1' gives 3"
    )


def test_parameter_errors():
    bad = nir.LIF(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2),
                  v_threshold=np.ones(2), v_reset=np.zeros(2))
    assert _error(import_nir, _chain(_affine(3, 4), bad, _affine(2, 3)), MODES) == (
        "LIF node 'n1': r must have shape [3] (or one value), not [2]"
    )
    assert _error(import_nir, _chain(_affine(3, 4), _lif(3, tau=np.nan), _affine(2, 3)),
                  MODES) == "LIF node 'n1': tau must be finite, not nan"
    g = _chain(_affine(3, 4), _lif(3, v_reset=0.5), _affine(2, 3))
    assert _error(import_nir, g, ImportModes(1e-4, "subtract", "gt")) == (
        "LIF node 'n1': reset 'subtract' ignores v_reset, but v_reset is 0.5; use reset 'value'"
    )
    g = _chain(_affine(3, 4), _lif(3), _affine(2, 3))
    assert _error(import_nir, g, ImportModes(1e-4, ("value", "value"), "gt")) == (
        "ImportModes.reset has 2 modes but the graph has 1 spiking layers"
    )


def test_student_conversion_errors():
    g = _chain(_affine(3, 4), _lif(3), _affine(2, 3))
    net = import_nir(g, MODES)
    assert _error(to_student, net) == (
        "to_student timesteps is required: a NIR graph does not record T"
    )
    iff = nir.IF(r=np.ones(3), v_threshold=np.ones(3), v_reset=np.zeros(3))
    mixed = import_nir(_chain(_affine(3, 4), _lif(3), _affine(3, 3), iff, _affine(2, 3)), MODES)
    assert _error(to_student, mixed, 4) == (
        "SpikingMLP has one neuron type; the hidden layers mix ['IF', 'LIF']"
    )
    leaky = import_nir(_chain(_affine(3, 4), _lif(3, v_leak=0.2), _affine(2, 3)), MODES)
    assert _error(to_student, leaky, 4) == (
        "LIF node 'n1': v_leak must be 0 for a SpikingMLP, not 0.2"
    )
    offset = import_nir(_chain(_affine(3, 4), _lif(3, v_reset=-0.5), _affine(2, 3)), MODES)
    assert _error(to_student, offset, 4) == (
        "LIF node 'n1': reset 'value' needs v_reset = 0 (spikefab's 'zero'), not -0.5"
    )
    spiking_out = import_nir(_chain(_affine(3, 4), _lif(3), _affine(2, 3), _lif(2)), MODES)
    kept = to_student(spiking_out, 4)  # a spiking last layer is the spike readout
    assert kept.readout == "spikes" and kept.sizes == (4, 3, 2)
    dropped = to_student(spiking_out, 4, drop_output_neuron=True)
    assert dropped.sizes == (4, 3, 2) and dropped.readout == "current"
    two_betas = import_nir(_chain(_affine(3, 4), _lif(3), _affine(2, 3), _lif(2, tau=1e-3,
                                                                            r=10.0)), MODES)
    assert _error(to_student, two_betas, 4) == (
        "LIF node 'n3': beta differs from 0.875; SpikingMLP has one beta for every layer"
    )
    cuba = nir.CubaLIF(tau_syn=np.full(3, 5e-4), tau_mem=np.full(3, 8e-4), r=np.full(3, 8.0),
                       v_leak=np.zeros(3), v_threshold=np.ones(3), w_in=np.full(3, 5.0))
    mixed_kinds = import_nir(_chain(_affine(3, 4), cuba, _affine(2, 3), _lif(2)), MODES)
    assert _error(to_student, mixed_kinds, 4) == (
        "SpikingMLP has one neuron type; the spiking layers mix ['CubaLIF', 'LIF']"
    )


def test_run_input_errors():
    net = import_nir(_chain(_affine(3, 4), _lif(3), _affine(2, 3)), MODES)
    assert _error(run_imported, net, torch.zeros(5, 4)) == (
        "run timesteps is required for a [B, n_in] (direct) input"
    )
    assert _error(run_imported, net, torch.zeros(5, 3), timesteps=2) == (
        "run input must have shape [B, 4] or [T, B, 4] with T = 2, not [5, 3]"
    )
    assert _error(run_imported, net, [[0.0] * 4], exc=TypeError) == (
        "run input must be a torch.Tensor or numpy array, not list"
    )
    assert run_imported(net, np.zeros((3, 5, 4)), timesteps=3).outputs.shape == (3, 5, 2)


def test_file_errors(tmp_path):
    assert _error(read_nir, tmp_path / "none.nir") == f"NIR file {tmp_path / 'none.nir'} not found"
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"not hdf5")
    assert _error(read_nir, junk).startswith(f"NIR file {junk} is not a readable NIR graph (")
    assert _error(import_nir, junk, MODES).startswith(f"NIR file {junk} is not a readable")
    assert _error(write_nir, "graph", tmp_path / "x.nir", exc=TypeError) == (
        "write_nir graph must be a nir.NIRGraph, not str"
    )


def test_flatten_only_right_after_input():
    def graph(flat_first):
        flat = nir.Flatten(input_type={"input": np.array([2, 2])}, start_dim=0, end_dim=-1)
        body = [("n0", _affine(3, 4)), ("n1", _lif(3)), ("n2", _affine(2, 3))]
        body.insert(0 if flat_first else 2, ("flat", flat))
        nodes = {"input": nir.Input(input_type=np.array([2, 2])), **dict(body),
                 "output": nir.Output(output_type=np.array([2]))}
        order = list(nodes)
        return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:], strict=True)),
                            type_check=False)

    net = import_nir(graph(True), MODES)
    assert [(la.dense, la.neuron) for la in net.layers] == [("n0", "n1"), ("n2", None)]
    assert net.n_in == 4
    assert _error(import_nir, graph(False), MODES) == (
        "Flatten node 'flat' after 'n1' is allowed only right after Input or after a conv layer"
    )


def test_bad_spikefab_metadata():
    g = _chain(_affine(3, 4))
    g.metadata = {"spikefab": "{not json"}
    assert _error(import_nir, g) == "graph metadata 'spikefab' is not valid JSON"
    g.metadata = {"spikefab": '{"format": "other"}'}
    assert _error(import_nir, g) == "graph metadata 'spikefab' is not spikefab-nir metadata"
    g.metadata = {"spikefab": '{"format": "spikefab-nir", "kind": "quantized", "version": 2,'
                                ' "modes": {"dt": 0.0001, "reset": "value", "threshold": "ge"}}'}
    assert _error(to_quantized, import_nir(g)) == "spikefab-nir version must be 1, not 2"
