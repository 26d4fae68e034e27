"""Integer-exact LIF step in torch with straight-through gradients (semantics v1 and every
named neuron extension of docs/semantics.md).

This mirrors :mod:`spikefab.golden.lif` value for value. Every tensor on the
integer path holds integers (membrane LSBs) in ``float64``; the forward pass is the
golden arithmetic, the backward pass is straight-through::

    i = sat(i - floor(i * d_i / 2**q_i) + I, i_bits)   # cuba (qsynapse_step); then I = i
    v = sat(v - leak(v) + I [- theta * s_prev], v_bits)
        leak(v) = floor(v / 2**k)              # v1 (none when k is None); d/dv = 1 - 2**-k
                = floor(v * d / 2**q)          # decay; d/dv = 1 - d / 2**q
        s_prev = v_prev >= theta               # subtract-delayed only (> with "gt")
    s = v >= theta   (v > theta with "gt")     # Heaviside; surrogate grad of (v - theta) / scale
    v = v - theta * s                          # reset="subtract"
    v = v * (1 - s)                            # reset="zero"
                                               # reset="subtract-delayed": v kept

``floor`` and ``sat`` (and ``round`` for the weight grids) are exact in the forward
pass and pass the gradient straight through (identity) in the backward pass.

Why float64: a float32 tensor holds every integer only up to ``2**24``; float64 up to
``2**53``. Within the spec's ranges (``v_bits <= 32``, ``w_bits <= 16``, ``in_bits <=
16``, fan-in ``<= 65536``, ``b_bits <= 32``) every intermediate value is below
``2**15 * 2**16 * 2**16 + 2**31 + 2**32 < 2**49``, so float64 arithmetic (including
matrix products in any summation order) is exact. :func:`qlif_step` refuses any other
dtype.
"""

from __future__ import annotations

import torch

from ..fixed import smax, smin
from ..spec import RESETS
from .surrogate import SLOPE, spike, spike_gt

__all__ = [
    "EXACT_DTYPE",
    "EXTENSIONS",
    "round_ste",
    "floor_ste",
    "sat_ste",
    "qlif_integrate",
    "qlif_step",
    "qsynapse_step",
]

#: The dtype of every integer-valued tensor in the QAT forward pass.
EXACT_DTYPE = torch.float64
#: The named extensions of semantics v1 (docs/semantics.md) the QAT model implements.
EXTENSIONS: tuple[str, ...] = ("conv2d", "cuba", "decay", "delayed-reset", "gt", "spike-readout")


class _StraightThrough(torch.autograd.Function):
    """``fn(x)`` forward, identity backward (the straight-through estimator)."""

    @staticmethod
    def forward(ctx, x, fn):
        return fn(x)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half to even (as ``fixed.round_half_even``); the gradient passes straight through."""
    return _StraightThrough.apply(x, torch.round)


def floor_ste(x: torch.Tensor) -> torch.Tensor:
    """Floor; the gradient passes straight through."""
    return _StraightThrough.apply(x, torch.floor)


def sat_ste(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Saturate to ``bits`` signed bits (``fixed.sat``); the gradient passes straight through."""
    lo, hi = float(smin(bits)), float(smax(bits))
    return _StraightThrough.apply(x, lambda t: torch.clamp(t, lo, hi))


def _check_exact(name: str, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dtype != EXACT_DTYPE:
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(
            f"qlif_step {name} must be a torch.float64 tensor (float32 is exact only below "
            f"2**24), not {got}"
        )


def _leak(v: torch.Tensor, leak_shift: int | None, decay: int | None, decay_bits: int):
    if decay is not None:  # v * d is exact in float64 (|v| < 2**32, d <= 2**16)
        return floor_ste(v * float(decay) * (2.0 ** -decay_bits))
    return 0.0 if leak_shift is None else floor_ste(v * (2.0 ** -leak_shift))


def qlif_integrate(
    current: torch.Tensor, v: torch.Tensor, *, v_bits: int, leak_shift: int | None,
    decay: int | None = None, decay_bits: int = 12,
) -> torch.Tensor:
    """Leak and integrate with saturation: ``sat(v - leak(v) + I, v_bits)``.

    ``leak(v)`` is ``floor(v / 2**k)`` (v1) or ``floor(v * decay / 2**decay_bits)``
    (``decay``, with ``leak_shift=None``): exact in float64 (power-of-two divisions of exact
    products), so ``floor`` is the golden model's arithmetic shift. Gradient: ``beta``
    (``1 - 2**-k`` or ``1 - decay / 2**decay_bits``) through ``v``, ``1`` through ``current``.
    """
    return sat_ste(v - _leak(v, leak_shift, decay, decay_bits) + current, v_bits)


def qsynapse_step(current: torch.Tensor, i: torch.Tensor, *, i_bits: int, decay: int,
                  decay_bits: int = 12) -> torch.Tensor:
    """cuba: ``sat(i - floor(i * decay / 2**decay_bits) + I, i_bits)`` (golden's
    ``synapse_step``), straight-through."""
    _check_exact("current", current)
    _check_exact("i", i)
    return sat_ste(i - _leak(i, None, decay, decay_bits) + current, i_bits)


_FIRE = {"ge": spike, "gt": spike_gt}


def qlif_step(
    current: torch.Tensor,
    v: torch.Tensor,
    *,
    theta: torch.Tensor,
    v_bits: int,
    leak_shift: int | None,
    reset: str,
    scale: torch.Tensor | float = 1.0,
    slope: float = SLOPE,
    decay: int | None = None,
    decay_bits: int = 12,
    threshold: str = "ge",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One integer LIF step on float64 tensors holding integers. Returns ``(s, v)``.

    Parameters
    ----------
    current : float64 tensor
        Input current ``I`` in membrane LSBs (integers), any shape; for a ``cuba`` neuron
        the synaptic current ``qsynapse_step`` returns.
    v : float64 tensor
        Membrane in LSBs (integers), same shape: the value the previous step exposed
        (before its reset for ``"subtract-delayed"``).
    theta : float64 tensor (0-d) or float
        Integer threshold in LSBs, at least 1.
    v_bits, leak_shift, reset, decay, decay_bits, threshold
        As in :class:`spikefab.spec.LIFSpec`.
    scale : float64 tensor or float
        LSBs per float unit. Only shapes the gradient: the surrogate sees
        ``(v - theta) / scale``, i.e. the distance to threshold in the float model's
        units. The forward spike is exactly ``v >= theta`` (``v > theta`` with ``"gt"``).
    slope : float
        Surrogate slope (``snn.surrogate``).

    Returns
    -------
    s : float64 tensor of 0.0 / 1.0 (surrogate gradient)
    v : float64 tensor, the membrane the step exposes (integers)
    """
    _check_exact("current", current)
    _check_exact("v", v)
    if reset not in RESETS:
        allowed = ", ".join(repr(r) for r in RESETS)
        raise ValueError(f"qlif_step reset must be one of {allowed}, not {reset!r}")
    fire = _FIRE[threshold]
    if reset == "subtract-delayed":  # the previous step's spike, from its exposed membrane
        current = current - theta * fire((v - theta) / scale, slope)
    v = qlif_integrate(current, v, v_bits=v_bits, leak_shift=leak_shift, decay=decay,
                       decay_bits=decay_bits)
    # (v - theta) is an integer; dividing by a positive scale keeps its sign exactly,
    # so the Heaviside fires exactly when v >= theta (v > theta).
    s = fire((v - theta) / scale, slope)
    if reset == "subtract":
        v = v - theta * s
    elif reset == "zero":
        v = v * (1.0 - s)
    return s, v
