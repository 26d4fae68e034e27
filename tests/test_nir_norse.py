"""Graphs as Norse's ``to_nir`` writes them, against Norse's own step equations.

Norse is not a dependency (its 1.1.0 release needs torchvision, whose wheels pin their own
torch), so the graphs are written by hand the way Norse maps its cells: ``LIFBoxCell ->
LIF(tau, r=1, v_leak, v_threshold, v_reset)``, ``LIBoxCell -> LI(tau, r=1, v_leak)``,
``IAFCell -> IF(r=1, v_threshold, v_reset)``, ``Linear -> Affine``, where ``tau`` is
``dt / tau_mem_inv`` in the 1.1.0 release (``norse/torch/utils/export_nir.py``, ``dt =
1e-3``; profile ``"norse"``) and ``1 / tau_mem_inv`` in the development version (profile
``"norse-dev"``). The reference below restates Norse's feed-forward steps (``lif_box``,
``leaky_integrator_box``, ``iaf``: ``v += dt * tau_mem_inv * (v_leak - v + I)``, ``v += I``;
``heaviside`` is ``x > 0``; ``reset_value`` is ``(1 - z) v + z v_reset``) with ``dt = 1e-3``.
docs/nir.md records a one-off check against Norse 1.1.0 itself.
"""

import nir
import numpy as np
import pytest
import torch
from spikefab.data import load_dataset
from spikefab.nirgraph import PROFILES, import_nir, run_imported, to_student

DT, T = 1e-3, 10


def _t(a):
    return torch.from_numpy(np.asarray(a, np.float64))


def _heaviside(x):
    return torch.where(x <= 0, torch.zeros_like(x), torch.ones_like(x))


def _norse_reference(layers, x):
    """Norse's equations, float64, layer by layer and step by step; returns (out, spikes)."""
    vs = [torch.zeros(x.shape[0], w.shape[0], dtype=torch.float64) for w, *_ in layers]
    outs, spikes = [], [[] for _ in layers]
    for _ in range(T):
        h = x
        for i, (w, b, kind, p) in enumerate(layers):
            cur = h @ _t(w).T + _t(b)
            v = vs[i]
            if kind in ("LIF", "LI"):
                inv = 1 / _t(p["tau"])
                v = v + DT * inv * (cur + _t(p["v_leak"]) - v)
            else:  # IAF: v + input
                v = v + cur
            if kind in ("LIF", "IF"):
                z = _heaviside(v - _t(p["v_threshold"]))
                v = (1 - z) * v + z * _t(p["v_reset"])
                spikes[i].append(z)
                h = z
            else:
                h = v
            vs[i] = v
        outs.append(h)
    return torch.stack(outs), [torch.stack(s) for s in spikes if s]


def _graph(layers, profile="norse"):
    """The graph Norse writes; ``p["tau"]`` is the membrane time constant ``1/tau_mem_inv``."""
    nodes, edges, prev = {"input": nir.Input(input_type=np.array([64]))}, [], "input"
    for i, (w, b, kind, p) in enumerate(layers):
        tau = np.float32(DT) * p["tau"] if profile == "norse" else p["tau"]
        nodes[f"{2 * i}"] = nir.Affine(weight=w, bias=b)
        n = w.shape[0]
        if kind == "LIF":
            cell = nir.LIF(tau=tau, r=np.ones(n), v_leak=p["v_leak"],
                           v_threshold=p["v_threshold"], v_reset=p["v_reset"])
        elif kind == "IF":
            cell = nir.IF(r=np.ones(n), v_threshold=p["v_threshold"], v_reset=p["v_reset"])
        else:
            cell = nir.LI(tau=tau, r=np.ones(n), v_leak=p["v_leak"])
        nodes[f"{2 * i + 1}"] = cell
        edges += [(prev, f"{2 * i}"), (f"{2 * i}", f"{2 * i + 1}")]
        prev = f"{2 * i + 1}"
    nodes["output"] = nir.Output(output_type=np.array([layers[-1][0].shape[0]]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def _layers(rng, kinds, sizes=(64, 40, 30, 10), tau=0.01):
    out = []
    for (a, b), kind in zip(zip(sizes[:-1], sizes[1:], strict=True), kinds, strict=True):
        w = rng.normal(0, 3.0 / np.sqrt(a), (b, a)).astype(np.float32)
        bias = rng.normal(0, 0.1, b).astype(np.float32)
        p = {"tau": np.full(b, tau, np.float32), "v_leak": np.full(b, 0.05, np.float32),
             "v_threshold": np.full(b, 0.3, np.float32), "v_reset": np.full(b, -0.1, np.float32)}
        out.append((w, bias, kind, p))
    return out


@pytest.fixture(scope="module")
def digits_x():
    return torch.from_numpy(load_dataset("digits").x_test).double()


@pytest.mark.parametrize("profile", ["norse", "norse-dev"])
def test_lif_if_li_graph_follows_norse(profile, digits_x):
    layers = _layers(np.random.default_rng(0), ("LIF", "IF", "LI"))
    want_out, want_spikes = _norse_reference(layers, digits_x)
    net = import_nir(_graph(layers, profile), profile)
    run = run_imported(net, digits_x, timesteps=T, dtype=torch.float64)
    for got, want in zip(run.spikes, want_spikes, strict=True):
        assert torch.equal(got, want)
        assert 0.02 < float(want.mean()) < 0.98
    # same equations; tau is stored in float32 and the float operations come in another
    # order, so the LI membrane agrees to float32 rounding (1e-12 for the dev convention)
    tol = 1e-6 if profile == "norse" else 1e-12
    torch.testing.assert_close(run.outputs, want_out, rtol=tol, atol=tol)


@pytest.mark.parametrize("profile", ["norse", "norse-dev"])
def test_norse_graph_to_student(profile, digits_x):
    """tau_mem = 8 dt gives beta = 0.875 (k = 3) and gain 1/8, folded into the weights."""
    rng = np.random.default_rng(1)
    layers = _layers(rng, ("LIF", "LIF"), sizes=(64, 40, 30), tau=8 * DT)
    for _, _, _, p in layers:
        p["v_leak"][:] = 0
        p["v_reset"][:] = 0
    w, b = rng.normal(0, 0.3, (10, 30)).astype(np.float32), np.zeros(10, np.float32)
    graph = _graph(layers, profile)  # hidden layers, then a readout Affine -> Output
    graph = nir.NIRGraph(
        nodes={**{k: v for k, v in graph.nodes.items() if k != "output"},
               "4": nir.Affine(weight=w, bias=b), "output": nir.Output(output_type=np.array([10]))},
        edges=[e for e in graph.edges if e[1] != "output"] + [("3", "4"), ("4", "output")],
    )
    student = to_student(import_nir(graph, profile), timesteps=T)
    assert (student.leak_shift, student.reset) == (3, "zero")
    _, want_spikes = _norse_reference(layers, digits_x)
    with torch.no_grad():
        logits, hidden = student(digits_x.float(), return_hidden=True)
    for got, want in zip(hidden, want_spikes, strict=True):
        agree = float((got.double() == want).float().mean())
        assert 0.02 < float(want.mean()) < 0.98
        assert agree > 0.999, agree  # float32 student vs float64 reference: rounding only
    assert logits.shape == (T, len(digits_x), 10)


def test_li_readout_cannot_become_a_student():
    layers = _layers(np.random.default_rng(2), ("LIF", "LI"), sizes=(64, 20, 10), tau=8 * DT)
    layers[0][3]["v_leak"][:] = 0
    layers[0][3]["v_reset"][:] = 0
    net = import_nir(_graph(layers), PROFILES["norse"])
    with pytest.raises(ValueError) as e:
        to_student(net, timesteps=T)
    assert str(e.value) == (
        "LI node '3' on the last layer leaks (beta 0.875); a spikefab readout sums its "
        "currents (last layer: no neuron, or I); or pass drop_output_neuron=True to read out "
        "its input current"
    )


def test_if_layers_and_integrator_readout_to_student(digits_x):
    """IF hidden layers (Norse IAFCell: v + I) and an I readout with r = 2: the student's
    spikes equal the graph's, and its summed logits are the integrator's final membrane."""
    rng = np.random.default_rng(3)
    layers = _layers(rng, ("IF", "IF"), sizes=(64, 40, 30))
    for _, _, _, p in layers:
        p["v_reset"][:] = 0
    w = rng.normal(0, 0.3, (10, 30)).astype(np.float32)
    graph = _graph(layers)
    nodes = {k: v for k, v in graph.nodes.items() if k != "output"}
    nodes.update({"4": nir.Affine(weight=w, bias=np.zeros(10, np.float32)),
                  "5": nir.I(r=np.full(10, 2.0)), "output": nir.Output(output_type=np.array([10]))})
    edges = [e for e in graph.edges if e[1] != "output"] + [("3", "4"), ("4", "5"), ("5", "output")]
    net = import_nir(nir.NIRGraph(nodes=nodes, edges=edges), "norse")
    run = run_imported(net, digits_x.float(), timesteps=T)
    student = to_student(net, timesteps=T)
    # NIR's v > v_threshold is the student's own gt threshold (spikefab extension gt)
    assert (student.leak_shift, student.reset, student.threshold, student.theta) == (
        None, "zero", "gt", float(np.float32(0.3)))
    with torch.no_grad():
        logits, hidden = student(digits_x.float(), return_hidden=True)
    for got, want in zip(hidden, run.spikes, strict=True):
        assert torch.equal(got, want)
        assert 0.02 < float(want.mean()) < 0.98
    torch.testing.assert_close(logits.sum(0), run.outputs[-1], rtol=1e-5, atol=1e-4)
    assert torch.equal(logits.sum(0).argmax(1), run.outputs[-1].argmax(1))
