"""Float LIF neuron: DESIGN §2 in real numbers, for surrogate-gradient training.

One step::

    v = beta * v + I          beta = 1 - 2**-k  (k = leak_shift; beta = 1 when k is None)
    s = spike(v - theta)      Heaviside with a surrogate gradient (snn.surrogate)
    v = v - theta * s         reset="subtract"
    v = v * (1 - s)           reset="zero"

``beta * v`` equals the integer ``v - (v >> k)`` up to the floor, so a float model trained
here keeps its meaning when export scales and rounds it. No saturation in floats: export
checks that the membrane width holds the range instead.
"""

from __future__ import annotations

import torch
from torch import nn

from ..fixed import is_int, is_number
from ..spec import T_RANGE, V1_RESETS
from .surrogate import SLOPE, spike

__all__ = ["beta_from_leak_shift", "check_neuron_args", "lif_step_float", "LIF"]


def beta_from_leak_shift(leak_shift: int | None) -> float:
    """``1 - 2**-k``, or 1.0 (no leak) when ``leak_shift`` is None."""
    if leak_shift is None:
        return 1.0
    if not is_int(leak_shift) or leak_shift < 0:
        raise ValueError(f"leak_shift must be None or an integer >= 0, not {leak_shift!r}")
    return 1.0 - 2.0 ** -int(leak_shift)


def check_neuron_args(owner: str, *, theta, reset, leak_shift=None) -> int | None:
    """Validate the neuron parameters shared by every float LIF entry point.

    Returns ``leak_shift`` as a Python ``int`` (NumPy integers are accepted) or None.
    """
    if not is_number(theta) or not theta > 0:
        raise ValueError(f"{owner} theta must be a positive number, not {theta!r}")
    if reset not in V1_RESETS:
        allowed = ", ".join(repr(r) for r in V1_RESETS)
        raise ValueError(f"{owner} reset must be one of {allowed}, not {reset!r}")
    if leak_shift is not None and (not is_int(leak_shift) or leak_shift < 0):
        raise ValueError(f"{owner} leak_shift must be None or an integer >= 0, not {leak_shift!r}")
    return None if leak_shift is None else int(leak_shift)


def check_timesteps(owner: str, timesteps) -> int:
    """``timesteps`` if it is an integer in ``spec.T_RANGE``, else a one-line ``ValueError``."""
    lo, hi = T_RANGE
    if not is_int(timesteps) or not lo <= timesteps <= hi:
        raise ValueError(f"{owner} timesteps must be an integer in [{lo}, {hi}], not {timesteps!r}")
    return int(timesteps)


def lif_step_float(
    current: torch.Tensor,
    v: torch.Tensor,
    *,
    beta: float,
    theta: float,
    reset: str,
    slope: float = SLOPE,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One float LIF step. Returns ``(spikes as 0./1. floats, new membrane)``.

    Parameters
    ----------
    current : torch.Tensor
        Input current ``I`` (any shape; ``v`` broadcasts against it).
    v : torch.Tensor
        Membrane before the step.
    beta : float
        Decay factor in [0, 1]; ``1 - 2**-leak_shift`` to match the integer model.
    theta : float
        Positive threshold; the neuron fires when ``v >= theta``.
    reset : str
        ``"subtract"`` or ``"zero"``.
    slope : float
        Surrogate slope (see ``snn.surrogate``).
    """
    v = beta * v + current
    s = spike(v - theta, slope)
    if reset == "subtract":
        v = v - theta * s
    elif reset == "zero":
        v = v * (1.0 - s)
    else:
        allowed = ", ".join(repr(r) for r in V1_RESETS)
        raise ValueError(f"lif_step_float reset must be one of {allowed}, not {reset!r}")
    return s, v


class LIF(nn.Module):
    """Thin module around ``lif_step_float``: ``forward(current, v) -> (s, v)``.

    Parameters
    ----------
    leak_shift : int or None
        ``k`` of the integer leak; ``beta = 1 - 2**-k`` (None: no leak).
    theta : float
        Positive threshold.
    reset : str
        ``"subtract"`` or ``"zero"``.
    slope : float
        Surrogate slope.
    """

    def __init__(self, *, leak_shift: int | None = 3, theta: float = 1.0,
                 reset: str = "subtract", slope: float = SLOPE):
        super().__init__()
        self.leak_shift = check_neuron_args("LIF", theta=theta, reset=reset,
                                            leak_shift=leak_shift)
        self.beta = beta_from_leak_shift(self.leak_shift)
        self.theta = float(theta)
        self.reset = reset
        self.slope = float(slope)

    def forward(self, current: torch.Tensor, v: torch.Tensor | None = None):
        if v is None:
            v = torch.zeros_like(current)
        return lif_step_float(
            current, v, beta=self.beta, theta=self.theta, reset=self.reset, slope=self.slope
        )

    def extra_repr(self) -> str:
        return f"leak_shift={self.leak_shift}, theta={self.theta}, reset={self.reset!r}"
