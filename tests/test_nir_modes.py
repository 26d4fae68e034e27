"""NIR export and import of every neuron mode: IR -> graph -> IR is the identity for networks
with decay, gt, subtract-delayed, cuba and the spike readout; a float student with those
modes round-trips to an identical model; CubaLIF nodes follow snnTorch's and Norse's
synapse conventions."""

import nir
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from spikefab.golden import run_network
from spikefab.nirgraph import (
    PROFILES,
    ImportModes,
    export_quantized,
    export_student,
    import_nir,
    run_imported,
    spikefab_info,
    to_quantized,
    to_student,
    write_nir,
)
from spikefab.snn import SpikingMLP
from test_nir_quantized import _same
from test_qat_extensions import cases


@settings(max_examples=60, deadline=None)
@given(cases())
def test_every_mode_round_trips_bit_for_bit(case):
    net, x = case
    back = to_quantized(import_nir(export_quantized(net)))
    _same(net, back)
    np.testing.assert_array_equal(run_network(net, x).acc, run_network(back, x).acc)


def _all_modes_net():
    from spikefab.ir import QuantizedNetwork
    from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec, SynapseSpec

    syn = SynapseSpec(i_bits=12, decay=205, decay_bits=12)
    hidden = LIFSpec(v_bits=12, theta=40, leak_shift=None, reset="subtract-delayed",
                     decay=410, threshold="gt", synapse=syn)
    out = LIFSpec(v_bits=10, theta=30, leak_shift=2, reset="zero")
    spec = NetworkSpec((LayerSpec(5, 4, neuron=hidden), LayerSpec(4, 3, neuron=out)),
                       timesteps=4, encoding="direct", in_bits=3, readout="spikes")
    rng = np.random.default_rng(0)
    return QuantizedNetwork(spec, [rng.integers(-100, 100, (4, 5)),
                                   rng.integers(-100, 100, (3, 4))],
                            [rng.integers(-9, 9, 4), rng.integers(-9, 9, 3)])


def test_nodes_and_modes_of_every_extension(tmp_path):
    net = _all_modes_net()
    g = nir.read(write_nir(export_quantized(net), tmp_path / "m.nir"))
    assert set(g.nodes) == {"input", "fc0", "cubalif0", "fc1", "lif1", "output"}
    cuba = g.nodes["cubalif0"]
    dt = 1e-4
    np.testing.assert_allclose(1 - dt / cuba.tau_mem, 1 - 410 / 4096, rtol=0, atol=1e-12)
    np.testing.assert_allclose(1 - dt / cuba.tau_syn, 1 - 205 / 4096, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cuba.w_in * dt / cuba.tau_syn, 1.0, rtol=1e-12)
    assert spikefab_info(g)["modes"] == {"dt": dt, "reset": ["subtract_next", "value"],
                                          "threshold": ["gt", "ge"]}
    imported = import_nir(g)
    assert [la.kind for la in imported.layers] == ["CubaLIF", "LIF"]
    assert [la.threshold for la in imported.layers] == ["gt", "ge"]
    _same(net, to_quantized(imported))


def test_edited_mode_is_refused():
    net = _all_modes_net()
    g = export_quantized(net)
    modes = ImportModes(1e-4, ("subtract_next", "value"), ("ge", "ge"))
    with pytest.raises(ValueError) as e:
        import_nir(g, modes)
    assert str(e.value) == ("modes.threshold = ('ge', 'ge') contradicts the graph, which "
                            "spikefab wrote with threshold = ('gt', 'ge')")


@pytest.mark.parametrize("kw", [
    dict(leak_shift=None, beta=0.9, reset="subtract-delayed", threshold="gt", readout="spikes"),
    dict(leak_shift=None, beta=0.95, reset="zero", threshold="gt", alpha=0.8),
    dict(leak_shift=2, reset="subtract", readout="spikes"),
])
def test_float_student_with_modes_round_trips(kw, tmp_path):
    torch.manual_seed(0)
    m = SpikingMLP((12, 10, 7, 4), timesteps=6, theta=0.7, **kw)
    with torch.no_grad():
        for fc in m.fcs:
            fc.weight.mul_(3)
    back = to_student(import_nir(write_nir(export_student(m), tmp_path / "s.nir")))
    assert back.neuron_args() == m.neuron_args()
    assert (back.leak_shift, back.reset, back.theta) == (m.leak_shift, m.reset, m.theta)
    x = torch.rand(50, 12)
    with torch.no_grad():
        a, ha = m(x, return_hidden=True)
        b, hb = back(x, return_hidden=True)
        r = run_imported(import_nir(export_student(m)), x, timesteps=6)
    assert torch.equal(a, b) and torch.equal(ha[0], hb[0])
    assert torch.equal(r.spikes[0], ha[0])
    assert 0.05 < float(ha[0].mean()) < 0.95


def _cuba_graph(w_in, tau_syn, tau_mem, r):
    n = 3
    rng = np.random.default_rng(1)
    nodes = {"input": nir.Input(input_type=np.array([4])),
             "fc": nir.Affine(weight=rng.normal(0, 1, (n, 4)), bias=np.zeros(n)),
             "cuba": nir.CubaLIF(tau_syn=np.full(n, tau_syn), tau_mem=np.full(n, tau_mem),
                                 r=np.full(n, r), v_leak=np.zeros(n), v_threshold=np.ones(n),
                                 v_reset=np.zeros(n), w_in=np.full(n, w_in)),
             "out": nir.Affine(weight=rng.normal(0, 1, (2, n)), bias=np.zeros(2)),
             "output": nir.Output(output_type=np.array([2]))}
    order = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:], strict=True)),
                        type_check=False)


def test_cubalif_conventions():
    """snnTorch writes w_in = tau_syn / dt (Euler gain 1), Norse w_in = 1 added as a jump:
    both are unit-gain synapses under their profiles."""
    dt = 1e-4
    snn = import_nir(_cuba_graph(dt / (1 - 0.8) / dt, dt / 0.2, dt / 0.1, 10.0), "snntorch")
    layer = snn.layers[0]
    np.testing.assert_allclose(layer.alpha, 0.8, rtol=1e-12)
    np.testing.assert_array_equal(layer.syn_gain, 1.0)
    np.testing.assert_array_equal(layer.gain, 1.0)
    norse = import_nir(_cuba_graph(1.0, 5e-6, 1e-5, 1.0), PROFILES["norse"])
    layer = norse.layers[0]
    np.testing.assert_allclose(layer.alpha, 0.8, rtol=1e-9)
    np.testing.assert_array_equal(layer.syn_gain, 1.0)
    np.testing.assert_allclose(layer.gain, 0.1, rtol=1e-9)  # folded into the student weights
    euler = import_nir(_cuba_graph(1.0, 5e-6, 1e-5, 1.0), ImportModes(1e-6, "value", "gt"))
    np.testing.assert_allclose(euler.layers[0].syn_gain, 0.2, rtol=1e-9)
    with pytest.raises(ValueError) as e:
        import_nir(_cuba_graph(1.0, 5e-6, 1e-3, 1.0), ImportModes(1e-5, "value", "gt"))
    assert str(e.value) == ("CubaLIF node 'cuba': tau_syn must be >= dt = 1e-05 "
                            "(alpha = 1 - dt/tau_syn in [0, 1]), not 5e-06")
    with pytest.raises(ValueError) as e:
        ImportModes(1e-4, "value", "gt", synapse="step")
    assert str(e.value) == "ImportModes.synapse must be one of 'euler', 'jump', not 'step'"
