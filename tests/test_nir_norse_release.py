"""Graphs Norse 1.1.0 itself exports (``norse.torch.to_nir``), against Norse's own run.

Norse 1.1.0 installs next to torch 2.13 with ``pip install --no-deps norse==1.1.0`` (its
declared torchvision dependency would pin another torch; ``norse.torch`` does not import it),
which ``make setup`` does. Each network ``Linear -> cell -> Linear -> cell`` is run by Norse
for ``T`` steps on the digits test set and exported; imported under the ``"norse"`` profile
(dt = 1e-6: Norse 1.1.0 writes ``tau = dt / tau_inv``; synaptic input as a jump):

* ``run_imported`` (the graph's own equations) gives Norse's spikes exactly;
* the float student (``to_student``; Norse's membrane gain ``dt/tau_mem`` folded into the
  weights) gives them up to float rounding at the threshold, counted: exact for
  ``LIFBoxCell`` and ``IAFCell``, a handful of the 360,000 spikes for ``LIFCell`` (cuba);
* ``spikefab nir check`` reports it, and the integer model agrees with Norse's predictions.
"""

import norse.torch as norse
import numpy as np
import pytest
import torch
from spikefab.data import load_dataset
from spikefab.nirgraph import import_nir, run_imported, to_student, write_nir
from spikefab.nirgraph.reference import write_reference
from spikefab.run.nir_check import check_reference

T = 20
CELLS = {  # cell -> (its constructor, input weight gain, the neuron kind NIR gets)
    "LIFBoxCell": (lambda: norse.LIFBoxCell(norse.LIFBoxParameters(v_th=torch.tensor(0.3))),
                   6.0, "LIF"),
    "LIFCell": (lambda: norse.LIFCell(norse.LIFParameters(v_th=torch.tensor(0.3))), 3.0,
                "CubaLIF"),
    "IAFCell": (lambda: norse.IAFCell(norse.IAFParameters(v_th=torch.tensor(0.3))), 6.0, "IF"),
}


@pytest.fixture(scope="module")
def digits():
    ds = load_dataset("digits")
    return torch.from_numpy(ds.x_test).float(), ds.y_test


def _norse(cell: str, x):
    make, gain, _ = CELLS[cell]
    torch.manual_seed(0)
    lin = [torch.nn.Linear(64, 40), torch.nn.Linear(40, 10)]
    with torch.no_grad():
        lin[0].weight.mul_(gain)
        lin[1].weight.mul_(3.0)
    cells = [make(), make()]
    graph = norse.to_nir(norse.SequentialState(lin[0], cells[0], lin[1], cells[1]), x[:1])
    states, zs = [None, None], [[], []]
    with torch.no_grad():
        for _ in range(T):
            h = x
            for k in range(2):
                h, states[k] = cells[k](lin[k](h), states[k])
                zs[k].append(h)
    return graph, [torch.stack(z) for z in zs]


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_norse_release_graphs(cell, digits, tmp_path):
    x, y = digits
    graph, spikes = _norse(cell, x)
    assert [type(n).__name__ for n in graph.nodes.values()].count(CELLS[cell][2]) == 2
    assert all(0.02 < float(s.mean()) < 0.9 for s in spikes)
    net = import_nir(write_nir(graph, tmp_path / "norse.nir"), "norse")
    run = run_imported(net, x, timesteps=T)
    for got, want in zip(run.spikes, spikes, strict=True):
        assert torch.equal(got, want)
    with torch.no_grad():
        logits, hidden = to_student(net, timesteps=T)(x, return_hidden=True)
    differ = int((hidden[0] != spikes[0]).sum()) + int((logits != spikes[1]).sum())
    total = spikes[0].numel() + spikes[1].numel()
    if cell == "LIFCell":
        assert differ <= total * 1e-4, differ  # float rounding of the folded gain: 17 here
    else:
        assert differ == 0
    ref = {"x": x.numpy(), "spikes0": spikes[0].numpy(), "spikes1": spikes[1].numpy(),
           "prediction": spikes[1].sum(0).argmax(1).numpy(), "y": y}
    _, report = check_reference(tmp_path / "norse.nir", write_reference(tmp_path / "r.npz", ref),
                                timesteps=T, profile="norse", w_bits=[8])
    flt, w8 = report["models"]
    assert sum(la["differ"] for la in flt["layers"]) == differ
    assert flt["agreement"] >= 0.99 and w8["agreement"] >= 0.95
    # Norse's default tau_mem_inv = 100/s: beta = 1 - 1e-3 * 100 = 0.9 (decay); IF: no leak
    kinds = {"LIFBoxCell": "v1+decay+gt+spike-readout", "IAFCell": "v1+gt+spike-readout",
             "LIFCell": "v1+cuba+decay+gt+spike-readout"}
    assert report["semantics"] == kinds[cell]
    assert np.isclose(net.layers[0].beta[0], 1.0 if cell == "IAFCell" else 0.9)
