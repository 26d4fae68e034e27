"""The compiled kernels (torch.compile): ``lif_sequence(kernel="compiled")`` and the conv stage
``lif_pool_sequence`` equal the eager reference bit for bit (spikes and current gradient),
the compiled conv student equals its per-step loop (on exact synaptic sums), and bad shapes
fail in one line.

Each distinct (reset, constant-current) pair compiles its own graphs (about 10-30 s each on
the 2-core CI machine), so the cases below cover both resets and both current kinds once.
"""

import pytest
import torch
import torch.nn.functional as F
from dyadic import dyadic_rand, snap_parameters_
from spikefab.snn.cnn import SpikingCNN
from spikefab.snn.fused import lif_sequence
from spikefab.snn.fused_cnn import lif_pool_sequence

KW = dict(beta=0.875, theta=1.0, slope=5.0)
# (shape of the current, T for a constant current or None, reset): odd and even H and W
CASES = [((3, 2, 6, 8), 4, "subtract"), ((3, 4, 2, 7, 5), None, "zero")]


def _current(shape, seed):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=gen) * 1.5 + 0.3).requires_grad_()


def _eager_pool(cur, steps, reset):
    s = lif_sequence(cur, reset=reset, timesteps=steps, kernel="fused", **KW)
    return F.max_pool2d(s.flatten(0, 1), 2).unflatten(0, s.shape[:2]), s


@pytest.mark.parametrize("shape,steps,reset", CASES)
def test_lif_pool_sequence_compiled_equals_eager_bit_for_bit(shape, steps, reset):
    a, b = _current(shape, 1), _current(shape, 1)
    ref, spikes = _eager_pool(a, steps, reset)
    new = lif_pool_sequence(b, reset=reset, timesteps=steps, kernel="compiled", **KW)
    assert 0.1 < float(spikes.detach().mean()) < 0.9  # windows with 0, 1 and several spikes
    windows = spikes[..., : 2 * (shape[-2] // 2), : 2 * (shape[-1] // 2)]
    per_window = windows.unflatten(-1, (-1, 2)).unflatten(-3, (-1, 2)).sum((-3, -1))
    assert {0.0, 1.0, 2.0} <= set(per_window.unique().tolist())
    assert torch.equal(new, ref)
    grad = torch.randn(ref.shape, generator=torch.Generator().manual_seed(2))
    (ga,) = torch.autograd.grad(ref, a, grad)
    (gb,) = torch.autograd.grad(new, b, grad)
    assert torch.equal(gb, ga)
    if shape[-1] % 2:  # the column no window covers gets no gradient
        assert not gb[..., -1].any()
    eager = lif_pool_sequence(b, reset=reset, timesteps=steps, kernel="fused", **KW)
    assert torch.equal(eager, ref)


@pytest.mark.parametrize("shape,steps,reset", CASES)
def test_lif_sequence_compiled_equals_eager_bit_for_bit(shape, steps, reset):
    a, b = _current(shape, 4), _current(shape, 4)
    ref = lif_sequence(a, reset=reset, timesteps=steps, kernel="fused", **KW)
    new = lif_sequence(b, reset=reset, timesteps=steps, kernel="compiled", **KW)
    assert torch.equal(new, ref)
    grad = torch.randn(ref.shape, generator=torch.Generator().manual_seed(5))
    (ga,) = torch.autograd.grad(ref, a, grad)
    (gb,) = torch.autograd.grad(new, b, grad)
    assert torch.equal(gb, ga)


def test_cnn_compiled_engine_matches_the_loop():
    torch.manual_seed(1)
    m = snap_parameters_(SpikingCNN((1, 10, 8), (4, 6), 3, timesteps=4, theta=0.5))
    x = dyadic_rand(5, 80)  # exact synaptic sums: see tests/dyadic.py
    out = {}
    for engine in ("loop", "compiled"):
        m.engine = engine
        m.zero_grad()
        logits, hidden = m(x, return_hidden=True)
        (logits * torch.linspace(-1, 1, 3)).square().sum().backward()
        out[engine] = (logits.detach(), hidden, [p.grad.clone() for p in m.parameters()])
    ref, new = out["loop"], out["compiled"]
    assert torch.equal(new[0], ref[0])
    for h_new, h_ref in zip(new[1], ref[1], strict=True):
        assert torch.equal(h_new, h_ref)
    assert 0.05 < float(ref[1][0].mean()) < 0.95
    for g_new, g_ref in zip(new[2], ref[2], strict=True):  # summation order differs
        assert float(g_ref.abs().max()) > 0
        assert float((g_new - g_ref).abs().max()) <= 1e-5 * float(g_ref.abs().max())


def test_lif_pool_sequence_rejects_bad_input_in_one_line():
    with pytest.raises(ValueError, match=r"^lif_pool_sequence current must have shape "
                       r"\[T, N, \.\.\., H, W\] .* with H, W >= 2, not \[4, 3, 1, 6\]$"):
        lif_pool_sequence(torch.rand(4, 3, 1, 6), beta=1.0, theta=1.0, reset="zero")
    with pytest.raises(ValueError, match=r"^lif_pool_sequence current must have shape .*"
                       r"not \[5, 6\]$"):
        lif_pool_sequence(torch.rand(5, 6), beta=1.0, theta=1.0, reset="zero", timesteps=2)
    with pytest.raises(ValueError, match=r"^lif_pool_sequence kernel must be one of 'fused', "
                       r"'compiled', not 'loop'$"):
        lif_pool_sequence(torch.rand(2, 3, 4, 4), beta=1.0, theta=1.0, reset="zero",
                          kernel="loop")
    with pytest.raises(TypeError, match=r"^lif_pool_sequence current must be a floating-point "
                       r"tensor, not torch.int64$"):
        lif_pool_sequence(torch.ones(2, 3, 4, 4, dtype=torch.long), beta=1.0, theta=1.0,
                          reset="zero")
