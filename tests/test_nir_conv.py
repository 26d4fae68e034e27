"""Conv2d, pooling and Flatten in NIR (extension conv2d): export and import, exact.

A conv IR goes out as Conv2d -> neuron -> SumPool2d + Threshold(0.5) (a window's OR) ->
Flatten -> Affine and comes back bit for bit; graphs built by hand with the ``nir`` package
import to the layers they say and run (``run_imported``) as a torch reference computes them;
snnTorch's own exports of ``nn.Conv2d``, ``nn.Flatten`` and ``nn.AvgPool2d`` (folded into
the dense layer after it) give snnTorch's spikes; what spikefab cannot represent is refused
naming the node.
"""

import re

import nir
import numpy as np
import pytest
import snntorch as snn
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from numpy.testing import assert_array_equal
from snntorch import utils as snn_utils
from snntorch.export_nir import export_to_nir
from spikefab.nirgraph import (
    PROFILES,
    ImportModes,
    export_quantized,
    export_student,
    import_nir,
    read_nir,
    run_imported,
    to_quantized,
    to_student,
    write_nir,
)
from spikefab.snn.cnn import SpikingCNN
from spikefab.spec import ConvSpec
from test_qat_conv import conv_cases

MODES = ImportModes(1e-4, "subtract", "ge")


@settings(max_examples=60, deadline=None)
@given(conv_cases())
def test_a_conv_ir_round_trips_bit_for_bit(case):
    net, _ = case
    graph = export_quantized(net)
    kinds = {type(n).__name__ for n in graph.nodes.values()}
    assert "Conv2d" in kinds
    assert ("SumPool2d" in kinds) == any(ly.conv and ly.conv.pool > 1 for ly in net.spec.layers)
    back = to_quantized(import_nir(graph))
    assert back.spec == net.spec
    for a, b in zip(back.weights + back.biases, net.weights + net.biases, strict=True):
        assert_array_equal(a, b)


def test_a_conv_ir_file_passes_nirs_type_check(tmp_path):
    net, _ = conv_cases().example()
    path = write_nir(export_quantized(net), tmp_path / "conv.nir")
    nir.read(path)  # nir's own type inference accepts every node and edge
    assert to_quantized(import_nir(read_nir(path))).spec == net.spec


def _by_hand(pool="or", threshold=0.5, flatten=True):
    """Input [1, 6, 6] -> Conv2d 3x3 pad 1 (2 channels) -> IF -> pooling -> Flatten ->
    Affine(3) -> Output, built with the nir package."""
    rng = np.random.default_rng(0)
    w, b = rng.normal(0, 1, (2, 1, 3, 3)), rng.normal(0.5, 0.2, 2)
    fc_w, fc_b = rng.normal(0, 1, (3, 2 * 3 * 3)), np.zeros(3)
    nodes = {"input": nir.Input(input_type=np.array([1, 6, 6])),
             "conv": nir.Conv2d(input_shape=(6, 6), weight=w, stride=1, padding=1, dilation=1,
                                groups=1, bias=b),
             "if": nir.IF(r=np.ones((2, 6, 6)), v_threshold=np.ones((2, 6, 6)),
                          v_reset=np.zeros((2, 6, 6)))}
    if pool == "or":
        nodes["pool"] = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                      padding=np.array([0, 0]))
        nodes["or"] = nir.Threshold(threshold=np.full((2, 3, 3), threshold))
    elif pool == "avg":
        nodes["pool"] = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                      padding=np.array([0, 0]))
    if flatten:
        nodes["flat"] = nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0)
    nodes["fc"] = nir.Affine(weight=fc_w, bias=fc_b)
    nodes["output"] = nir.Output(output_type=np.array([3]))
    names = list(nodes)
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:], strict=True)),
                         type_check=False)
    return graph, (w, b, fc_w, fc_b)


def _reference(params, x, T, pool):
    """The hand-built graph's meaning in torch: conv, IF (subtract, v >= 1), pooling, fc."""
    w, b, fc_w, fc_b = (torch.from_numpy(a) for a in params)
    img = x.view(-1, 1, 6, 6)
    v = torch.zeros(x.shape[0], 2, 6, 6, dtype=torch.float64)
    outs, spikes = [], []
    for _ in range(T):
        v = v + F.conv2d(img, w, b, padding=1)
        s = (v >= 1).double()
        v = v - s
        spikes.append(s.flatten(1))
        p = F.max_pool2d(s, 2) if pool == "or" else F.avg_pool2d(s, 2)
        outs.append(F.linear(p.flatten(1), fc_w, fc_b))
    return torch.stack(outs), torch.stack(spikes)


@pytest.mark.parametrize("pool", ["or", "avg"])
def test_hand_built_conv_graph_imports_and_runs(pool):
    graph, params = _by_hand(pool)
    net = import_nir(graph, MODES)
    conv = net.layers[0].conv
    assert conv == ConvSpec(1, 6, 6, 2, 3, 1, 1, pool=2 if pool == "or" else 1)
    assert net.layers[1].n_in == (18 if pool == "or" else 72)  # an average is folded in
    x = torch.from_numpy(np.random.default_rng(1).random((5, 36)))
    got = run_imported(net, x, timesteps=4, dtype=torch.float64)
    want, spikes = _reference(params, x, 4, pool)
    assert_array_equal(got.spikes[0].numpy(), spikes.numpy())
    assert float(spikes.mean()) > 0.05
    np.testing.assert_allclose(got.outputs.numpy(), want.numpy(), rtol=0, atol=1e-12)


def _snn_cnn(pool: bool):
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(1, 4, 3, padding=1),
              snn.Leaky(beta=torch.full((4, 8, 8), 0.875), threshold=torch.full((4, 8, 8), 0.5),
                        init_hidden=True)]
    if pool:
        layers.append(torch.nn.AvgPool2d(2))
    layers += [torch.nn.Flatten(), torch.nn.Linear(4 * (16 if pool else 64), 10),
               snn.Leaky(beta=torch.full((10,), 0.875), threshold=torch.ones(10),
                         init_hidden=True, output=True)]
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():  # weights on a 1/64 grid: every sum is exact in float32, in any order
        for p in net.parameters():
            p.copy_(torch.round(p * 64) / 64)
    return net


@pytest.mark.parametrize("pool", [False, True], ids=["conv-flatten", "conv-avgpool-flatten"])
def test_snntorch_conv_exports_give_snntorchs_spikes(pool):
    """snnTorch 1.0.0 exports nn.Conv2d, nn.Flatten and nn.AvgPool2d (not nn.MaxPool2d);
    imported with its profile, every spike of both layers equals snnTorch's own. (Weights and
    inputs on a power-of-two grid keep the folded average exact in float32 too.)"""
    net = _snn_cnn(pool)
    x = torch.from_numpy(np.random.default_rng(2).integers(0, 16, (6, 1, 8, 8)) / 16).float()
    graph = export_to_nir(net, x[:1], ignore_dims=[0])
    imported = import_nir(graph, PROFILES["snntorch"])
    assert imported.layers[0].conv == ConvSpec(1, 8, 8, 4, 3, 1, 1)
    snn_utils.reset(net)
    seen = []
    hooks = [m.register_forward_hook(lambda mod, i, o: seen.append(o[0] if isinstance(o, tuple)
                                                                   else o))
             for m in net if isinstance(m, snn.Leaky)]
    with torch.no_grad():
        for _ in range(6):
            net(x)
    for h in hooks:
        h.remove()
    got = run_imported(imported, x.flatten(1), timesteps=6)
    want0 = torch.stack(seen[0::2]).flatten(2)
    want1 = torch.stack(seen[1::2])
    assert float(want0.mean()) > 0.02 and float(want1.sum()) > 0
    assert_array_equal(got.spikes[0].numpy(), want0.numpy())
    assert_array_equal(got.spikes[1].numpy(), want1.numpy())


def test_snntorch_maxpool_is_not_exported_by_snntorch():
    """snnTorch's exporter has no nn.MaxPool2d (it warns and fails): a max pool reaches
    spikefab only as SumPool2d + Threshold, which spikefab itself writes."""
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1),
                              snn.Leaky(beta=torch.full((2, 8, 8), 0.9), init_hidden=True),
                              torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(32, 3))
    with pytest.raises(Exception):  # noqa: B017 - snnTorch's own failure, whatever its type
        export_to_nir(net, torch.rand(1, 1, 8, 8), ignore_dims=[0])


def test_a_spiking_cnn_round_trips_through_nir():
    torch.manual_seed(3)
    model = SpikingCNN((1, 8, 8), (3, 5), 10, timesteps=3, leak_shift=2, theta=0.75,
                       reset="zero")
    back = to_student(import_nir(export_student(model)))
    assert isinstance(back, SpikingCNN)
    assert (back.channels, back.timesteps, back.lifs[0].leak_shift, back.lifs[0].theta,
            back.lifs[0].reset) == ((3, 5), 3, 2, 0.75, "zero")
    x = torch.rand(4, 64)
    with torch.no_grad():
        assert_array_equal(back(x).numpy(), model(x).numpy())


def _error(graph, modes=MODES):
    with pytest.raises(ValueError) as e:
        import_nir(graph, modes)
    return str(e.value)


def _edit(graph, name, node):
    graph.nodes[name] = node
    return graph


def test_what_cannot_be_represented_is_refused_naming_the_node():
    g, _ = _by_hand("avg", flatten=False)
    assert _error(g) == (
        "AvgPool2d node 'pool' feeds Affine node 'fc': a window's mean (sum) of spikes is not a "
        "spike; spikefab takes it only before Flatten and a dense layer (folded into its "
        "weights), or pools with SumPool2d + Threshold (a window's OR)")
    g, _ = _by_hand("or", threshold=1.5)
    assert _error(g) == ("Threshold node 'or' after SumPool2d 'pool' must lie in [0, 1) (a "
                         "window's OR: count > threshold), not [1.5]")
    g, _ = _by_hand("or", flatten=False)
    assert _error(g) == ("Affine node 'fc' reads the image of conv node 'conv'; put a Flatten "
                         "between them")
    g, _ = _by_hand()
    conv = g.nodes["conv"]
    grouped = nir.Conv2d(input_shape=(6, 6), weight=np.ones((2, 1, 3, 3)), stride=1, padding=1,
                         dilation=2, groups=1, bias=conv.bias)
    assert _error(_edit(g, "conv", grouped)) == "Conv2d node 'conv': dilation must be 1, not [2, 2]"
    g, _ = _by_hand()
    odd = nir.Conv2d(input_shape=(6, 6), weight=np.ones((2, 1, 3, 3)), stride=(1, 2),
                     padding=1, dilation=1, groups=1, bias=conv.bias)
    assert _error(_edit(g, "conv", odd)) == (
        "Conv2d node 'conv': stride must be one integer, the same on both axes, not [1, 2]")
    g, _ = _by_hand()
    overlap = nir.SumPool2d(kernel_size=np.array([3, 3]), stride=np.array([2, 2]),
                            padding=np.array([0, 0]))
    assert _error(_edit(g, "pool", overlap)) == (
        "SumPool2d node 'pool': spikefab pools square windows without overlap or padding "
        "(kernel = stride = (q, q), padding 0), not kernel [3, 3], stride [2, 2], padding "
        "[0, 0]")


def test_conv_after_a_dense_layer_or_a_flatten_is_refused():
    conv = nir.Conv2d(input_shape=(2, 2), weight=np.ones((1, 1, 1, 1)), stride=1, padding=0,
                      dilation=1, groups=1, bias=np.zeros(1))
    nodes = {"input": nir.Input(input_type=np.array([4])),
             "fc": nir.Affine(weight=np.ones((4, 4)), bias=np.zeros(4)),
             "lif": nir.IF(r=np.ones(4), v_threshold=np.ones(4), v_reset=np.zeros(4)),
             "conv": conv, "output": nir.Output(output_type=np.array([1, 2, 2]))}
    names = list(nodes)
    g = nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:], strict=True)),
                     type_check=False)
    assert _error(g) == ("Conv2d node 'conv' follows a dense layer (or a Flatten); spikefab's "
                         "conv layers come first, on the input image")


def test_a_spiking_cnn_needs_its_own_form():
    """A conv graph that is not a SpikingCNN runs (run_imported) but is no float student."""
    g, _ = _by_hand("avg")
    with pytest.raises(ValueError, match="^" + re.escape(
            "node 'conv' is kernel 3, stride 1, padding 1, pool 1; a SpikingCNN stage is a 3x3 "
            "convolution (stride 1, padding 1) pooled 2x2 by an OR, and one dense readout "
            "follows")):
        to_student(import_nir(g, MODES), timesteps=4)


def test_a_spiking_cnn_graph_imports_into_a_run(tmp_path):
    """``nir import --run`` of a conv graph of SpikingCNN's form: a conv run directory whose
    quantize and export steps write a conv IR (the gateware steps follow in the pipeline)."""
    from spikefab.ir import QuantizedNetwork
    from spikefab.run import Context, RunDir, run_pipeline
    from spikefab.run.nir_byo import import_to_run

    torch.manual_seed(4)
    model = SpikingCNN((1, 8, 8), (4, 6), 10, timesteps=3, leak_shift=3)
    path = write_nir(export_student(model), tmp_path / "cnn.nir")
    import_to_run(path, tmp_path / "run", timesteps=3, reset="subtract", dt=1e-4)
    run = RunDir(tmp_path / "run")
    cfg = run.load_config()
    assert cfg["student"]["kind"] == "cnn" and cfg["student"]["channels"] == [4, 6]
    run_pipeline(Context(cfg, run, out=lambda s: None), until="export")
    net = QuantizedNetwork.load(run.path("ir", "net"))
    assert net.spec.semantics == "v1+conv2d"
    assert net.spec.layers[1].conv == ConvSpec(4, 4, 4, 6, 3, 1, 1, pool=2)


def test_nir_import_names_the_conv_shapes():
    from spikefab.run.nir_io import layer_lines

    g, _ = _by_hand("or")
    assert layer_lines(import_nir(g, MODES))[:2] == [
        "L0: conv conv 1x6x6 -> 2x6x6 (k3 s1 p1, OR pool 2 -> 18), IF reset subtract",
        "L1: fc 18->3, readout"]
