"""Float LIF neuron: DESIGN §2 and its named extensions in real numbers, for surrogate-gradient
training and for running imported snnTorch / Norse models.

One step of semantics v1 (``lif_step_float``)::

    v = beta * v + I          beta = 1 - 2**-k  (k = leak_shift; beta = 1 when k is None)
    s = spike(v - theta)      Heaviside with a surrogate gradient (snn.surrogate)
    v = v - theta * s         reset="subtract"
    v = v * (1 - s)           reset="zero"

``neuron_step_float`` adds the extensions of docs/semantics.md, each a line of its own::

    i = alpha * i + I                     cuba (``alpha``); the membrane then integrates i
    v = beta * v + I                      any beta in [0, 1] (the integer side: ``decay``)
    v = v - theta * s_prev                reset="subtract-delayed" (no reset in the step)
    s = spike_gt(v - theta)               threshold="gt": fire at v > theta

in the order and with the float operations snnTorch's ``Leaky`` and ``Synaptic`` use
(``beta * mem + input - reset * threshold``, ``alpha * syn + input``), so an imported
snnTorch network gives the same spikes bit for bit. ``beta * v`` equals the integer leak up
to the floor, so a float model trained here keeps its meaning when export scales and rounds
it. No saturation in floats: export checks that the widths hold the range instead.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from ..fixed import is_int, is_number
from ..spec import RESETS, T_RANGE, THRESHOLDS, V1_RESETS
from .surrogate import SLOPE, spike, spike_gt

__all__ = ["LIF", "NeuronState", "beta_from_leak_shift", "check_neuron_args", "lif_step_float",
           "neuron_init", "neuron_step_float"]


def beta_from_leak_shift(leak_shift: int | None) -> float:
    """``1 - 2**-k``, or 1.0 (no leak) when ``leak_shift`` is None."""
    if leak_shift is None:
        return 1.0
    if not is_int(leak_shift) or leak_shift < 0:
        raise ValueError(f"leak_shift must be None or an integer >= 0, not {leak_shift!r}")
    return 1.0 - 2.0 ** -int(leak_shift)


def _unit(owner: str, name: str, value) -> None:
    ok = is_number(value)
    if not ok or not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{owner} {name} must be None or a number in [0, 1], not {value!r}")


def check_neuron_args(owner: str, *, theta, reset, leak_shift=None, beta=None,
                      threshold="ge", alpha=None) -> int | None:
    """Validate the neuron parameters shared by every float LIF entry point; returns
    ``leak_shift`` as a Python ``int`` (NumPy integers are accepted) or None.

    ``beta`` (any decay in [0, 1], extension ``decay``) replaces ``leak_shift``, which must
    then be None (one leak per neuron, as in ``LIFSpec``).
    """
    if not is_number(theta) or not theta > 0:
        raise ValueError(f"{owner} theta must be a positive number, not {theta!r}")
    if reset not in RESETS:
        allowed = ", ".join(repr(r) for r in RESETS)
        raise ValueError(f"{owner} reset must be one of {allowed}, not {reset!r}")
    if leak_shift is not None and (not is_int(leak_shift) or leak_shift < 0):
        raise ValueError(f"{owner} leak_shift must be None or an integer >= 0, not {leak_shift!r}")
    if beta is not None:
        _unit(owner, "beta", beta)
        if leak_shift is not None:
            raise ValueError(f"{owner} leak_shift must be None when beta is given (one leak "
                             f"per neuron), not {leak_shift!r}")
    if threshold not in THRESHOLDS:
        allowed = ", ".join(repr(t) for t in THRESHOLDS)
        raise ValueError(f"{owner} threshold must be one of {allowed}, not {threshold!r}")
    if alpha is not None:
        _unit(owner, "alpha", alpha)
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
    """One float LIF step of semantics v1. Returns ``(spikes as 0./1. floats, new membrane)``.

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


class NeuronState(NamedTuple):
    """Float neuron state: membrane ``v``; synaptic current ``i`` (cuba, else None); the
    previous step's spikes ``s`` (subtract-delayed, else None)."""

    v: torch.Tensor
    i: torch.Tensor | None = None
    s: torch.Tensor | None = None


def neuron_init(like: torch.Tensor, *, reset: str, alpha=None) -> NeuronState:
    """The zero state of neurons shaped like ``like``."""
    zeros = torch.zeros_like(like)
    return NeuronState(zeros, None if alpha is None else zeros.clone(),
                       zeros.clone() if reset == "subtract-delayed" else None)


_FIRE = {"ge": spike, "gt": spike_gt}


def neuron_step_float(current: torch.Tensor, state: NeuronState, *, beta: float, theta: float,
                      reset: str, threshold: str = "ge", alpha: float | None = None,
                      slope: float = SLOPE) -> tuple[torch.Tensor, NeuronState]:
    """One float step of any neuron mode (module docstring). Returns ``(spikes, state)``.

    ``state.v`` is the membrane after the reset (before it for ``subtract-delayed``).
    With v1 modes the float operations are ``lif_step_float``'s, in the same order.
    """
    i = None
    if alpha is not None:
        i = alpha * state.i + current
        current = i
    v = beta * state.v + current
    if reset == "subtract-delayed":
        v = v - theta * state.s
    s = _FIRE[threshold](v - theta, slope)
    if reset == "subtract":
        v = v - theta * s
    elif reset == "zero":
        v = v * (1.0 - s)
    return s, NeuronState(v, i, s if reset == "subtract-delayed" else None)


class LIF(nn.Module):
    """Thin module around the float step: ``forward(current, v) -> (s, v)``.

    Parameters
    ----------
    leak_shift : int or None
        ``k`` of the integer leak; ``beta = 1 - 2**-k`` (None: no leak, or ``beta``).
    theta : float
        Positive threshold.
    reset : str
        ``"subtract"``, ``"zero"`` or ``"subtract-delayed"``.
    slope : float
        Surrogate slope.
    beta : float, optional
        Any decay in [0, 1] instead of ``leak_shift`` (which must then be None); stored as
        its float32 value, the factor a float32 membrane is multiplied by.
    threshold : str
        ``"ge"`` (fire at ``v >= theta``) or ``"gt"`` (``v > theta``).
    alpha : float, optional
        Decay of a current-based synapse (cuba) in [0, 1]; None: no synapse.
    """

    def __init__(self, *, leak_shift: int | None = 3, theta: float = 1.0,
                 reset: str = "subtract", slope: float = SLOPE, beta: float | None = None,
                 threshold: str = "ge", alpha: float | None = None):
        super().__init__()
        self.leak_shift = leak_shift = check_neuron_args(
            "LIF", theta=theta, reset=reset, leak_shift=leak_shift, beta=beta,
            threshold=threshold, alpha=alpha)
        self.beta = beta_from_leak_shift(leak_shift) if beta is None else _f32(beta)
        self.decay_given = beta is not None
        self.theta = float(theta)
        self.reset = reset
        self.slope = float(slope)
        self.threshold = threshold
        self.alpha = None if alpha is None else _f32(alpha)

    @property
    def v1(self) -> bool:
        """True when the neuron needs no extension of the fused kernels (``snn.fused``):
        threshold ``ge``, reset subtract or zero, no synapse (any beta)."""
        return self.threshold == "ge" and self.reset in V1_RESETS and self.alpha is None

    def init_state(self, like: torch.Tensor) -> NeuronState:
        return neuron_init(like, reset=self.reset, alpha=self.alpha)

    def step(self, current: torch.Tensor, state: NeuronState):
        """One step on an explicit ``NeuronState``: ``(spikes, state)``."""
        return neuron_step_float(current, state, beta=self.beta, theta=self.theta,
                                 reset=self.reset, threshold=self.threshold, alpha=self.alpha,
                                 slope=self.slope)

    def forward(self, current: torch.Tensor, v: torch.Tensor | None = None):
        """One step on the membrane alone (every mode but subtract-delayed and cuba, whose
        state is more than ``v``: use ``step``)."""
        if self.reset == "subtract-delayed" or self.alpha is not None:
            raise ValueError("LIF forward(current, v) carries only the membrane; a "
                             "subtract-delayed or cuba neuron steps with step(current, state)")
        if v is None:
            v = torch.zeros_like(current)
        s, state = self.step(current, NeuronState(v))
        return s, state.v

    def extra_repr(self) -> str:
        text = f"leak_shift={self.leak_shift}, theta={self.theta}, reset={self.reset!r}"
        if self.decay_given:
            text += f", beta={self.beta!r}"
        if self.threshold != "ge":
            text += f", threshold={self.threshold!r}"
        if self.alpha is not None:
            text += f", alpha={self.alpha!r}"
        return text


def _f32(x: float) -> float:
    """``x`` rounded to float32 (the factor a float32 tensor is multiplied by)."""
    return float(torch.tensor(float(x), dtype=torch.float32))
