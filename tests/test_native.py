"""snn.native: the C LIF kernel builds here (a missing compiler fails this test), equals the
eager kernel bit for bit (spikes and current gradient; single call and split across
threads), is switched off by SPIKEFAB_NATIVE=0, and a failed build is a one-line error."""

import pytest
import torch
from spikefab.snn import fused, native
from spikefab.snn.fused import lif_sequence
from spikefab.train.threads import torch_threads


def test_native_kernel_builds_and_loads():
    native.require()
    assert native.usable(torch.zeros(2, 3))
    assert not native.usable(torch.zeros(2, 3, dtype=torch.float64))  # eager for float64


def _both(monkeypatch, shape, steps, reset, beta, theta, threads=1):
    gen = torch.Generator().manual_seed(11)
    base = torch.randn(*shape, generator=gen) * 1.5 + 0.4
    grad = torch.randn(steps or shape[0], *(shape if steps else shape[1:]), generator=gen)
    out = {}
    with torch_threads(threads):
        for flag in ("1", "0"):
            monkeypatch.setenv("SPIKEFAB_NATIVE", flag)
            assert native.usable(base) is (flag == "1")
            cur = base.clone().requires_grad_()
            s = lif_sequence(cur, beta=beta, theta=theta, reset=reset, timesteps=steps)
            (g,) = torch.autograd.grad(s, cur, grad)
            out[flag] = (s, g)
    return out["1"], out["0"]


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("beta,theta", [(0.875, 1.0), (1.0, 0.6), (0.5, 1.25)])
@pytest.mark.parametrize("steps", [None, 1, 6])
def test_native_equals_eager_bit_for_bit(monkeypatch, reset, beta, theta, steps):
    shape = (9, 13) if steps else (5, 9, 13)
    (s_n, g_n), (s_e, g_e) = _both(monkeypatch, shape, steps, reset, beta, theta)
    assert 0.1 < float(s_e.detach().mean()) < 0.9
    assert torch.equal(s_n, s_e)
    assert torch.equal(g_n, g_e)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_native_split_across_threads_is_still_exact(monkeypatch, reset):
    steps = 4
    n = native.PARALLEL_MIN // steps + 37  # large enough to split, not a multiple of 16
    (s_n, g_n), (s_e, g_e) = _both(monkeypatch, (n,), steps, reset, 0.875, 1.0, threads=3)
    with torch_threads(3):
        assert len(native._ranges(n, steps)) == 3
    assert torch.equal(s_n, s_e)
    assert torch.equal(g_n, g_e)


def test_failed_build_is_a_one_line_error_and_falls_back(monkeypatch, tmp_path):
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("SPIKEFAB_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "false")
    assert not native.available()
    (log,) = (tmp_path / "native").glob("lif_native_*.log")
    with pytest.raises(RuntimeError) as e:
        native.require()
    assert str(e.value) == (f"spikefab's native LIF kernel is unavailable: false build of "
                            f"lif_native.c failed (exit 1); log: {log}")
    assert "$ false -O3" in log.read_text()  # both tries, with and without -march=native
    cur = torch.randn(4, 6)
    with pytest.warns(RuntimeWarning, match=r"^spikefab: using the eager LIF kernel"):
        s = lif_sequence(cur, beta=0.875, theta=1.0, reset="subtract", timesteps=3)
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.delenv("CC")
    monkeypatch.setenv("SPIKEFAB_NATIVE", "0")
    assert torch.equal(s, lif_sequence(cur, beta=0.875, theta=1.0, reset="subtract",
                                       timesteps=3))
    assert list(tmp_path.rglob("*.so")) == []  # nothing half-built is left behind
    assert fused.native is native
