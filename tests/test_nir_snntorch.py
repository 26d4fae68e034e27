"""Graphs written by snnTorch's export_to_nir: imported spikes equal snnTorch's, exactly.

One snnTorch network is trained briefly on digits (real inputs, real spike statistics);
its weights are then run by snnTorch ``Leaky`` layers in each reset configuration, exported
with ``snntorch.export_nir.export_to_nir`` and imported with explicit modes.
"""

import pytest
import snntorch as snn
import torch
from snntorch import utils as snn_utils
from snntorch.export_nir import export_to_nir
from spikefab.data import load_dataset
from spikefab.nirgraph import PROFILES, ImportModes, import_nir, run_imported, to_student, write_nir
from spikefab.train.threads import torch_threads

T, H = 8, 32


def _net(reset, delay, beta=0.875, state=None):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(64, H),
        # per-neuron beta/threshold: a scalar one exports as shape () and nir's type check
        # (nir 1.0.8) then refuses the graph
        snn.Leaky(beta=torch.full((H,), beta), threshold=torch.ones(H), init_hidden=True,
                  reset_mechanism=reset, reset_delay=delay),
        torch.nn.Linear(H, 10),
    )
    if state is not None:
        net.load_state_dict(state, strict=False)
    return net


def _run_snntorch(net, x):
    snn_utils.reset(net)
    spikes = []
    hook = net[1].register_forward_hook(lambda m, i, o: spikes.append(o))
    with torch.no_grad():
        out = torch.stack([net(x) for _ in range(T)])
    hook.remove()
    return out, torch.stack(spikes)


@pytest.fixture(scope="module")
def trained():
    """(state_dict of the two Linear layers, digits test images and labels): 1 epoch of Adam
    on one thread (the process's thread count is restored afterwards)."""
    with torch_threads(1):
        return _train()


def _train():
    ds = load_dataset("digits")
    x, y = torch.from_numpy(ds.x_train).float(), torch.from_numpy(ds.y_train)
    net = _net("zero", True)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for i in range(0, len(x), 64):
        snn_utils.reset(net)
        out = torch.stack([net(x[i:i + 64]) for _ in range(T)])
        loss = torch.nn.functional.cross_entropy(out.sum(0), y[i:i + 64])
        opt.zero_grad()
        loss.backward()
        opt.step()
    state = {k: v for k, v in net.state_dict().items() if k.startswith(("0.", "2."))}
    return state, torch.from_numpy(ds.x_test).float(), ds.y_test


def _export(net, x):
    return export_to_nir(net, x[:1], ignore_dims=[0])


CASES = {
    # snnTorch config -> the modes that describe it; the "value" reset is snnTorch's "zero"
    "zero_delayed": (("zero", True), ImportModes(1e-4, "value", "gt")),
    "zero_now": (("zero", False), ImportModes(1e-4, "value", "gt")),
    "subtract_now": (("subtract", False), ImportModes(1e-4, "subtract", "gt")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_imported_spikes_equal_snntorch(case, trained):
    state, x, y = trained
    (reset, delay), modes = CASES[case]
    net = _net(reset, delay, state=state)
    out, spikes = _run_snntorch(net, x)
    assert 0.05 < float(spikes.mean()) < 0.95
    assert float((out.sum(0).argmax(1).numpy() == y).mean()) > 0.8  # it learned digits
    imported = import_nir(_export(net, x), modes)
    run = run_imported(imported, x, timesteps=T)
    assert torch.equal(run.spikes[0], spikes)
    assert torch.equal(run.outputs, out)
    student = to_student(imported, timesteps=T)
    assert (student.leak_shift, student.reset) == (3, "zero" if reset == "zero" else "subtract")
    with torch.no_grad():
        logits, hidden = student(x, return_hidden=True)
    assert torch.equal(hidden[0], spikes)
    assert torch.equal(logits, out)


def test_default_leaky_needs_subtract_next(trained, tmp_path):
    """snnTorch's default Leaky (subtract, reset_delay=True) subtracts after the decay: the
    'snntorch' profile reproduces it (here through a file); spikefab's immediate subtract
    does not; the student is spikefab's subtract-delayed reset, spike for spike."""
    state, x, _ = trained
    net = _net("subtract", True, state=state)
    out, spikes = _run_snntorch(net, x)
    graph = _export(net, x)
    run = run_imported(import_nir(write_nir(graph, tmp_path / "leaky.nir"), "snntorch"), x,
                       timesteps=T)
    assert PROFILES["snntorch"].reset == "subtract_next"
    assert torch.equal(run.spikes[0], spikes) and torch.equal(run.outputs, out)
    wrong = run_imported(import_nir(graph, ImportModes(1e-4, "subtract", "gt")), x, timesteps=T)
    assert float((wrong.spikes[0] != spikes).float().mean()) > 0.01
    student = to_student(import_nir(graph, "snntorch"), timesteps=T)
    assert (student.reset, student.threshold) == ("subtract-delayed", "gt")
    with torch.no_grad():
        logits, hidden = student(x, return_hidden=True)
    assert torch.equal(hidden[0], spikes) and torch.equal(logits, out)


def test_beta_that_is_not_a_shift(trained):
    """beta = 0.9 imports and runs exactly; the student keeps the float beta (its float32
    value, snnTorch's), and the integer export uses the decay extension."""
    state, x, _ = trained
    net = _net("zero", True, beta=0.9, state=state)
    out, spikes = _run_snntorch(net, x)
    imported = import_nir(_export(net, x), ImportModes(1e-4, "value", "gt"))
    run = run_imported(imported, x, timesteps=T)
    assert torch.equal(run.spikes[0], spikes) and torch.equal(run.outputs, out)
    student = to_student(imported, timesteps=T)
    assert (student.leak_shift, student.beta) == (None, float(torch.tensor(0.9)))
    with torch.no_grad():
        logits, hidden = student(x, return_hidden=True)
    assert torch.equal(hidden[0], spikes) and torch.equal(logits, out)
    from spikefab.quant.ptq import export_ptq

    neuron = export_ptq(student, v_bits=None).spec.layers[0].neuron
    assert (neuron.decay, neuron.decay_bits, neuron.leak_shift) == (410, 12, None)


def test_wrong_dt_is_caught_by_the_leak(trained):
    """The same graph read with Norse's dt (1e-3) gives tau < dt: refused, naming the node."""
    state, x, _ = trained
    graph = _export(_net("zero", True, state=state), x)
    with pytest.raises(ValueError) as e:
        import_nir(graph, ImportModes(1e-3, "value", "gt"))
    assert str(e.value) == (
        "LIF node '1': tau must be >= dt = 0.001 (beta = 1 - dt/tau in [0, 1]), not 0.0008"
    )


def test_imported_graph_enters_the_integer_pipeline(trained):
    """snnTorch graph -> SpikingMLP -> export_ptq -> golden: the integer model classifies the
    digits test set about as the snnTorch network does (rounding is PTQ's own price)."""
    from spikefab.quant.ptq import export_ptq

    state, x, y = trained
    net = _net("zero", True, state=state)
    out, _ = _run_snntorch(net, x)
    snn_pred = out.sum(0).argmax(1).numpy()
    student = to_student(import_nir(_export(net, x), ImportModes(1e-4, "value", "gt")), T)
    ir = export_ptq(student, w_bits=8, v_bits=None, in_bits=4, calib_x=x.numpy(),
                    calib_y=y)
    assert ir.spec.layers[0].neuron.leak_shift == 3
    assert ir.spec.layers[0].neuron.reset == "zero"
    assert ir.meta["golden_acc"] > 0.8
    assert abs(ir.meta["golden_acc"] - float((snn_pred == y).mean())) < 0.05


def test_linear_without_bias(trained):
    """A bias-free torch Linear exports as nir.Linear; imported, it runs with no bias."""
    state, x, _ = trained
    net = _net("zero", True, state=state)
    net[0] = torch.nn.Linear(64, H, bias=False)
    with torch.no_grad():
        net[0].weight.copy_(state["0.weight"])
    out, spikes = _run_snntorch(net, x)
    graph = _export(net, x)
    assert type(graph.nodes["0"]).__name__ == "Linear"
    imported = import_nir(graph, ImportModes(1e-4, "value", "gt"))
    assert imported.layers[0].bias is None
    run = run_imported(imported, x, timesteps=T)
    assert torch.equal(run.spikes[0], spikes) and torch.equal(run.outputs, out)
    with torch.no_grad():
        logits, hidden = to_student(imported, T)(x, return_hidden=True)
    assert torch.equal(hidden[0], spikes) and torch.equal(logits, out)
    assert 0.02 < float(spikes.mean()) < 0.98


def test_leaky_output_layer_dropped_on_request(trained):
    """The usual snnTorch classifier ends in Leaky(output=True) and counts output spikes.
    run() and the student (spike readout) reproduce those spikes;
    to_student(drop_output_neuron=True) keeps the hidden spikes exactly and reads out the
    current the output Leaky received."""
    state, x, y = trained
    net = _net("zero", True, state=state)
    net.append(snn.Leaky(beta=torch.full((10,), 0.875), threshold=torch.ones(10),
                         init_hidden=True, output=True, reset_mechanism="zero"))
    snn_utils.reset(net)
    hidden, currents, out_spikes = [], [], []
    hooks = [net[1].register_forward_hook(lambda m, i, o: hidden.append(o)),
             net[3].register_forward_hook(lambda m, i, o: (currents.append(i[0]),
                                                           out_spikes.append(o[0])))]
    with torch.no_grad():
        for _ in range(T):
            net(x)
    for h in hooks:
        h.remove()
    graph = _export(net, x)
    imported = import_nir(graph, ImportModes(1e-4, "value", "gt"))
    run = run_imported(imported, x, timesteps=T)
    assert torch.equal(run.spikes[0], torch.stack(hidden))
    assert torch.equal(run.spikes[1], torch.stack(out_spikes))
    assert torch.equal(run.outputs, torch.stack(out_spikes))
    kept = to_student(imported, T)
    with torch.no_grad():
        spk, h = kept(x, return_hidden=True)
    assert kept.readout == "spikes" and torch.equal(spk, torch.stack(out_spikes))
    assert torch.equal(h[0], torch.stack(hidden))
    student = to_student(imported, T, drop_output_neuron=True)
    with torch.no_grad():
        logits, h = student(x, return_hidden=True)
    assert torch.equal(h[0], torch.stack(hidden))
    assert torch.equal(logits, torch.stack(currents))
    assert float((logits.sum(0).argmax(1).numpy() == y).mean()) > 0.8
