"""QuantizedNetwork -> NIR file -> QuantizedNetwork is the identity, golden result included."""

import json

import nir
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab.nirgraph import (
    ImportModes,
    export_quantized,
    import_nir,
    read_nir,
    run_imported,
    spikefab_info,
    to_nir,
    to_quantized,
    write_nir,
)
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec
from spikefab_hdl.sim.randnet import make_spec, random_input, random_network

SPECS = {
    "direct_mixed_resets": make_spec(
        (12, 9, 7, 4), timesteps=5, encoding="direct", in_bits=4,
        neurons=[LIFSpec(10, 24, 2, "subtract"), LIFSpec(12, 30, None, "zero")],
    ),
    "spikes_full_leak": make_spec(
        (10, 8, 3), timesteps=6, neurons=[LIFSpec(8, 5, 0, "zero")], w_bits=4, b_bits=6,
    ),
    "spikes_if_wide": make_spec(
        (16, 12, 12, 5), timesteps=7, w_bits=8, b_bits=12,
        neurons=[LIFSpec(16, 200, None, "subtract"), LIFSpec(14, 90, 5, "subtract")],
    ),
    "readout_only": make_spec((6, 3), timesteps=3, encoding="direct", in_bits=3),
}


def _same(a: QuantizedNetwork, b: QuantizedNetwork) -> None:
    assert a.spec == b.spec
    assert a.meta == b.meta
    for wa, wb, ba, bb in zip(a.weights, b.weights, a.biases, b.biases, strict=True):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_file_round_trip_is_identity(name, tmp_path):
    net = random_network(SPECS[name], seed=len(name))
    path = write_nir(export_quantized(net), tmp_path / "net.nir")
    back = to_quantized(import_nir(path))
    _same(net, back)
    x = random_input(net.spec, 40, seed=3)
    ra, rb = run_network(net, x), run_network(back, x)
    for sa, sb in zip(ra.spikes, rb.spikes, strict=True):
        np.testing.assert_array_equal(sa, sb)
    np.testing.assert_array_equal(ra.logits, rb.logits)
    np.testing.assert_array_equal(ra.prediction, rb.prediction)
    assert sum(int(s.sum()) for s in ra.spikes) > 0 or not ra.spikes


def test_nodes_carry_semantics_v1_parameters():
    net = random_network(SPECS["direct_mixed_resets"], seed=1)
    g = export_quantized(net, dt=1e-3)
    assert [type(g.nodes[n]).__name__ for n in ("fc0", "lif0", "fc1", "if1", "fc2")] == [
        "Affine", "LIF", "Affine", "IF", "Affine",
    ]
    lif, iff = g.nodes["lif0"], g.nodes["if1"]
    np.testing.assert_array_equal(lif.tau, np.full(9, 4e-3))  # dt * 2**k, k = 2
    np.testing.assert_array_equal(lif.r, np.full(9, 4.0))
    np.testing.assert_array_equal(lif.v_threshold, np.full(9, 24.0))
    np.testing.assert_array_equal(iff.r, np.ones(7))
    np.testing.assert_array_equal(g.nodes["fc0"].weight, net.weights[0].astype(np.float64))
    info = spikefab_info(g)
    assert info["modes"] == {"dt": 1e-3, "reset": ["subtract", "value"], "threshold": "ge"}
    assert info["spec"] == net.spec.to_dict()
    layers = import_nir(g).layers
    np.testing.assert_array_equal(layers[0].beta, np.full(9, 0.75))
    np.testing.assert_array_equal(layers[0].gain, np.ones(9))
    assert to_nir(net).nodes.keys() == g.nodes.keys()


def test_graph_semantics_equal_golden_for_if_layers_without_saturation():
    """Run the graph by NIR's own equations (floats, Euler): an IF network whose membranes
    never saturate computes exactly what the integer golden model computes."""
    spec = NetworkSpec(
        (LayerSpec(12, 10, 6, 8, LIFSpec(20, 40, None, "subtract")),
         LayerSpec(10, 8, 6, 8, LIFSpec(20, 25, None, "zero")),
         LayerSpec(8, 4, 6, 8)),
        timesteps=8, encoding="direct", in_bits=4,
    )
    net = random_network(spec, seed=5)
    x = random_input(spec, 64, seed=6)
    gold = run_network(net, x)
    assert max(int(np.abs(m).max()) for m in gold.membranes) < 2**19  # no saturation
    out = run_imported(import_nir(export_quantized(net)), torch.from_numpy(x), timesteps=8,
                                                dtype=torch.float64)
    for s_float, s_int in zip(out.spikes, gold.spikes, strict=True):
        np.testing.assert_array_equal(s_float.numpy().astype(np.uint8), s_int)
    np.testing.assert_array_equal(out.outputs.numpy().astype(np.int64), gold.logits)
    assert 0.05 < gold.spikes[0].mean() < 0.95


def test_leaky_graph_differs_from_golden_only_by_the_floor():
    """With a leak the float Euler step lacks the floor of ``v >> k``; the agreement is
    high but not total, which is why to_quantized reads the spec, not the float nodes."""
    net = random_network(SPECS["direct_mixed_resets"], seed=2)
    x = random_input(net.spec, 200, seed=7)
    gold = run_network(net, x)
    out = run_imported(import_nir(export_quantized(net)), torch.from_numpy(x), timesteps=5,
                                                dtype=torch.float64)
    agree = (out.spikes[0].numpy() == gold.spikes[0]).mean()
    assert 0.95 < agree < 1.0


def test_edited_node_is_refused():
    net = random_network(SPECS["spikes_full_leak"], seed=4)
    g = export_quantized(net)
    g.nodes["lif0"].v_threshold = np.full(8, 6.0)
    with pytest.raises(ValueError) as e:
        to_quantized(import_nir(g))
    assert str(e.value) == (
        "LIF node 'lif0': v_threshold is 6.0 but the spikefab spec says 5.0"
    )
    g = export_quantized(net)
    g.nodes["fc0"].weight = g.nodes["fc0"].weight + 0.5
    with pytest.raises(ValueError, match=r"node 'fc0' weight must hold integers"):
        to_quantized(import_nir(g))


def test_modes_come_from_the_graph_and_must_not_contradict_it():
    net = random_network(SPECS["spikes_full_leak"], seed=4)
    g = export_quantized(net)
    assert import_nir(g).modes == ImportModes(1e-4, "value", "ge")
    assert to_quantized(import_nir(g, ImportModes(1e-4, "value", "ge"))).spec == net.spec
    with pytest.raises(ValueError) as e:
        import_nir(g, ImportModes(1e-3, "value", "ge"))
    assert str(e.value) == (
        "modes.dt = 0.001 contradicts the graph, which spikefab wrote with dt = 0.0001"
    )
    with pytest.raises(ValueError, match=r"^modes.threshold = 'gt' contradicts the graph"):
        import_nir(g, ImportModes(1e-4, "value", "gt"))


def test_to_quantized_needs_spikefab_metadata():
    net = random_network(SPECS["readout_only"], seed=1)
    g = export_quantized(net)
    plain = nir.NIRGraph(nodes=g.nodes, edges=g.edges)
    with pytest.raises(ValueError) as e:
        to_quantized(import_nir(plain, ImportModes(1e-4, "value", "ge")))
    assert str(e.value) == (
        "to_quantized needs a graph written by export_quantized, not no spikefab metadata; "
        "import it as a float student (to_student) and quantize it with export_ptq"
    )


def test_written_file_is_plain_nir(tmp_path):
    net = random_network(SPECS["spikes_if_wide"], seed=9)
    path = write_nir(export_quantized(net), tmp_path / "sub" / "n.nir")
    g = nir.read(path)
    assert set(g.nodes) == {"input", "fc0", "if0", "fc1", "lif1", "fc2", "output"}
    assert json.loads(g.metadata["spikefab"])["kind"] == "quantized"
    assert sorted(p.name for p in path.parent.iterdir()) == ["n.nir"]  # no temporaries
    assert read_nir(path).nodes.keys() == g.nodes.keys()


@st.composite
def _networks(draw):
    n_hidden = draw(st.integers(0, 3))
    sizes = draw(st.lists(st.integers(1, 9), min_size=n_hidden + 2, max_size=n_hidden + 2))
    neurons = []
    for _ in range(n_hidden):
        v_bits = draw(st.integers(4, 24))
        neurons.append(LIFSpec(
            v_bits,
            draw(st.integers(1, 2 ** (v_bits - 1) - 1)),
            draw(st.one_of(st.none(), st.integers(0, v_bits - 1))),
            draw(st.sampled_from(["subtract", "zero"])),
        ))
    encoding = draw(st.sampled_from(["direct", "spikes"]))
    spec = make_spec(sizes, timesteps=draw(st.integers(1, 12)), encoding=encoding,
                     in_bits=draw(st.integers(1, 8)), w_bits=draw(st.integers(2, 16)),
                     b_bits=draw(st.integers(2, 32)), neurons=neurons)
    return random_network(spec, seed=draw(st.integers(0, 2**16)))


@settings(max_examples=60, deadline=None)
@given(_networks())
def test_round_trip_property(net):
    back = to_quantized(import_nir(export_quantized(net)))
    _same(net, back)
    x = random_input(net.spec, 8, seed=0)
    np.testing.assert_array_equal(run_network(net, x).acc, run_network(back, x).acc)


def test_integer_path_runs_without_torch(tmp_path):
    """Export, write, read and to_quantized need neither torch nor amaranth."""
    import subprocess
    import sys

    net = random_network(SPECS["direct_mixed_resets"], seed=1)
    net.save(tmp_path / "ir")
    program = (
        'import sys; sys.modules["torch"] = None; sys.modules["amaranth"] = None\n'
        "from spikefab.ir import QuantizedNetwork\n"
        "from spikefab.nirgraph import export_quantized, import_nir, to_quantized, write_nir\n"
        f"net = QuantizedNetwork.load({str(tmp_path / 'ir')!r})\n"
        f"p = write_nir(export_quantized(net), {str(tmp_path / 'n.nir')!r})\n"
        "back = to_quantized(import_nir(p))\n"
        "assert back.spec == net.spec\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"
