"""snn.fused: the whole-time-loop LIF node equals the per-step loop (spikes and current
gradient bit for bit), models give the same outputs with every eager engine when the synaptic
layers' sums are exact (``tests/dyadic.py``), memory is linear in T, and bad arguments fail with
one-line messages."""

import pytest
import torch
from dyadic import dyadic_rand, snap_parameters_
from spikefab.snn.cnn import SpikingCNN
from spikefab.snn.fused import lif_sequence
from spikefab.snn.lif import lif_step_float
from spikefab.snn.mlp import SpikingMLP


def _loop(current, steps, beta, theta, reset):
    v = torch.zeros_like(current if steps else current[0])
    out = []
    for t in range(steps or current.shape[0]):
        s, v = lif_step_float(current if steps else current[t], v, beta=beta, theta=theta,
                              reset=reset)
        out.append(s)
    return torch.stack(out)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("beta,theta", [(0.875, 1.0), (1.0, 0.7), (0.5, 1.3)])
@pytest.mark.parametrize("const", [False, True])
@pytest.mark.parametrize("steps", [5, 1])
def test_lif_sequence_equals_the_step_loop_bit_for_bit(reset, beta, theta, const, steps):
    gen = torch.Generator().manual_seed(3)
    shape = (steps, 7, 11)
    base = torch.randn(*(shape[1:] if const else shape), generator=gen) * 1.5 + 0.4
    steps = shape[0] if const else None
    grad_out = torch.randn(*shape, generator=gen)
    a = base.clone().requires_grad_()
    b = base.clone().requires_grad_()
    s_ref = _loop(a, steps, beta, theta, reset)
    s_new = lif_sequence(b, beta=beta, theta=theta, reset=reset, timesteps=steps)
    assert 0.1 < float(s_ref.detach().mean()) < 0.9  # both spikes and silences happen
    torch.testing.assert_close(s_new, s_ref, rtol=0, atol=0)
    assert torch.equal(s_new, s_ref)
    (s_ref * grad_out).sum().backward()
    (s_new * grad_out).sum().backward()
    assert torch.equal(b.grad, a.grad)


def _grads(model):
    return [p.grad.clone() for p in model.parameters()]


def _run(model, engine, x):
    model.engine = engine
    model.zero_grad()
    logits, hidden = model(x, return_hidden=True)
    (logits * torch.linspace(-1, 1, logits.shape[-1])).square().sum().backward()
    return logits.detach(), [h.detach() for h in hidden], _grads(model)


def _compare(model, x):
    """Engines on one model: equal spikes and logits (the synaptic sums are exact, so no BLAS
    kernel choice can move them), parameter gradients to summation order."""
    ref = _run(model, "loop", x)
    new = _run(model, "fused", x)
    assert torch.equal(new[0], ref[0])
    for h_new, h_ref in zip(new[1], ref[1], strict=True):
        assert torch.equal(h_new, h_ref)
    assert 0.05 < float(ref[1][0].mean()) < 0.95
    # parameter gradients: one matmul over T*B rows instead of T matmuls (summation order),
    # so float rounding differs: within 1e-5 of the gradient's largest entry
    for g_new, g_ref in zip(new[2], ref[2], strict=True):
        assert float(g_ref.abs().max()) > 0
        assert float((g_new - g_ref).abs().max()) <= 1e-5 * float(g_ref.abs().max())


@pytest.mark.parametrize("reset,leak_shift", [("subtract", 3), ("zero", None), ("zero", 0)])
def test_mlp_fused_engine_matches_the_loop(reset, leak_shift):
    torch.manual_seed(0)
    m = SpikingMLP((20, 32, 16, 5), timesteps=6, reset=reset, leak_shift=leak_shift,
                   theta=0.8)
    with torch.no_grad():
        for fc in m.fcs:
            fc.weight.mul_(3)
    snap_parameters_(m)
    _compare(m, dyadic_rand(9, 20))  # direct: constant first-layer current
    _compare(m, (torch.rand(6, 9, 20) < 0.4).float())  # spikes


def test_cnn_fused_engine_matches_the_loop():
    torch.manual_seed(1)
    m = snap_parameters_(SpikingCNN((2, 9, 8), (4, 6), 3, timesteps=5, theta=0.5))
    _compare(m, dyadic_rand(4, 2 * 9 * 8))
    _compare(m, (torch.rand(5, 4, 2, 9, 8) < 0.5).float())


def _saved_bytes(model, x):
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum()
    return sum(seen.values())


@pytest.mark.parametrize("engine", ["fused", "loop"])
def test_saved_memory_is_linear_in_T(engine):
    sizes = {}
    for steps in (4, 8, 16):
        torch.manual_seed(0)
        m = SpikingMLP((30, 40, 10), timesteps=steps, engine=engine)
        sizes[steps] = _saved_bytes(m, torch.rand(8, 30))
    per_step = (sizes[8] - sizes[4]) / 4
    assert per_step > 0
    assert sizes[16] - sizes[8] == 8 * per_step
    if engine == "fused":  # v - theta per step and neuron, the spikes, and the readout input
        assert per_step <= 3 * 8 * 40 * 4


def test_fused_saves_no_more_than_the_loop():
    torch.manual_seed(0)
    m = SpikingCNN((1, 8, 8), (4, 8), 10, timesteps=8)
    x = torch.rand(16, 64)
    fused = _saved_bytes(m, x)
    m.engine = "loop"
    assert fused <= _saved_bytes(m, x)


def test_bad_engine_and_arguments_fail_with_one_line_messages():
    with pytest.raises(ValueError, match=r"^SpikingMLP engine must be one of 'fused', "
                       r"'compiled', 'loop', not 'jit'$"):
        SpikingMLP((4, 3, 2), engine="jit")
    with pytest.raises(ValueError, match=r"^SpikingCNN engine must be one of .*, not None$"):
        SpikingCNN((1, 4, 4), (2,), 2, engine=None)
    m = SpikingMLP((4, 3, 2))
    m.engine = "fast"
    with pytest.raises(ValueError, match=r"^SpikingMLP engine must be one of .*not 'fast'$"):
        m(torch.rand(2, 4))
    cur = torch.rand(3, 4)
    with pytest.raises(ValueError, match=r"^lif_sequence kernel must be one of 'fused', "
                       r"'compiled', not 'loop'$"):
        lif_sequence(cur, beta=1.0, theta=1.0, reset="zero", kernel="loop")
    with pytest.raises(ValueError, match=r"^lif_sequence reset must be one of .*not 'hard'$"):
        lif_sequence(cur, beta=1.0, theta=1.0, reset="hard")
    with pytest.raises(TypeError, match=r"^lif_sequence current must be a floating-point "
                       r"tensor, not torch.int64$"):
        lif_sequence(torch.ones(3, 4, dtype=torch.int64), beta=1.0, theta=1.0,
                     reset="zero")
    with pytest.raises(ValueError, match=r"^lif_sequence timesteps must be None or an "
                       r"integer >= 1, not 0$"):
        lif_sequence(cur, beta=1.0, theta=1.0, reset="zero", timesteps=0)
    with pytest.raises(ValueError, match=r"^lif_sequence current must have a leading time "
                       r"axis of length >= 1 when timesteps is None, not shape \[0, 4\]$"):
        lif_sequence(torch.zeros(0, 4), beta=1.0, theta=1.0, reset="zero")
