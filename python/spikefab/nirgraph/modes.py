"""How a continuous-time NIR neuron becomes a discrete step: ``dt``, reset and threshold modes.

NIR describes neurons as differential equations and leaves three things open that decide
every spike: the time step ``dt``, what a spike does to the membrane (NIR says "set to
``v_reset``"; snnTorch's ``Leaky`` subtracts the threshold but writes ``v_reset = 0``),
and whether a neuron fires at ``v > v_threshold`` (NIR, snnTorch, Norse) or at
``v >= v_threshold`` (spikefab). An import names all three in an ``ImportModes``.

Forward Euler with step ``dt`` (what snnTorch and Norse both use), per neuron::

    LIF, LI:  v <- v + (dt / tau) * (v_leak - v + r * I)
              = beta * v + gain * I + (1 - beta) * v_leak,   beta = 1 - dt/tau, gain = r*dt/tau
    IF, I:    v <- v + r * I                                 beta = 1, gain = r

``IF`` and ``I`` ignore ``dt``: that is how snnTorch (``r`` must be 1) and Norse (``IAFCell``,
``v + I``) read and write them. snnTorch writes ``tau = dt / (1 - beta)`` and
``r = tau / dt`` with ``dt = 1e-4``, so ``gain = 1``. Norse steps ``v += dt *
tau_mem_inv * (v_leak - v + I)`` with ``dt = 1e-3`` and writes ``r = 1``, but its ``tau``
depends on the version: the 1.1.0 release writes ``tau = dt / tau_mem_inv`` (so the step
is Euler with ``dt**2 = 1e-6``), its development version ``tau = 1 / tau_mem_inv`` (Euler
with ``dt = 1e-3``); either way ``gain = 1 - beta``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..fixed import is_number

__all__ = [
    "GAIN_RTOL",
    "PROFILES",
    "RESET_MODES",
    "THRESHOLD_MODES",
    "ImportModes",
    "as_floats",
    "euler_coefficients",
    "node_param",
]

#: What a spike does: ``"value"`` sets ``v = v_reset`` (NIR's definition; spikefab and
#: snnTorch ``"zero"`` when ``v_reset = 0``), ``"subtract"`` sets ``v = v - v_threshold``
#: at once (spikefab; snnTorch ``Leaky(reset_delay=False)``), ``"subtract_next"``
#: subtracts ``v_threshold`` at the next step after the decay (snnTorch ``Leaky``'s
#: default ``reset_delay=True``: ``v = beta*v + I - v_threshold*z[t-1]``).
RESET_MODES = ("value", "subtract", "subtract_next")
#: ``"gt"``: fire when ``v > v_threshold`` (NIR, snnTorch, Norse); ``"ge"``: ``v >= v_threshold``.
THRESHOLD_MODES = ("gt", "ge")
#: A gain within this relative distance of 1 is 1: ``tau`` and ``r`` round-trip float32.
GAIN_RTOL = 1e-6


def _choice(name: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"ImportModes.{name} must be one of {names}, not {value!r}")


@dataclass(frozen=True)
class ImportModes:
    """The three choices a NIR graph does not record.

    Parameters
    ----------
    dt : float
        Euler time step in the graph's time unit (seconds for snnTorch and Norse); > 0.
    reset : str or tuple of str
        ``"value"`` or ``"subtract"`` (see ``RESET_MODES``); a tuple gives one mode per
        spiking layer, in order.
    threshold : str
        ``"gt"`` or ``"ge"`` (see ``THRESHOLD_MODES``).
    """

    dt: float
    reset: str | tuple[str, ...]
    threshold: str

    def __post_init__(self):
        dt = self.dt
        if not is_number(dt) or not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"ImportModes.dt must be a positive finite number, not {dt!r}")
        object.__setattr__(self, "dt", float(dt))
        if isinstance(self.reset, list):
            object.__setattr__(self, "reset", tuple(self.reset))
        if isinstance(self.reset, tuple):
            if not self.reset:
                raise ValueError("ImportModes.reset must not be an empty tuple")
            for r in self.reset:
                _choice("reset", r, RESET_MODES)
        else:
            _choice("reset", self.reset, RESET_MODES)
        _choice("threshold", self.threshold, THRESHOLD_MODES)

    def reset_of(self, index: int, n_spiking: int) -> str:
        """Reset mode of spiking layer ``index`` (of ``n_spiking``)."""
        if isinstance(self.reset, str):
            return self.reset
        if len(self.reset) != n_spiking:
            raise ValueError(
                f"ImportModes.reset has {len(self.reset)} modes but the graph has "
                f"{n_spiking} spiking layers"
            )
        return self.reset[index]

    def to_dict(self) -> dict:
        reset = list(self.reset) if isinstance(self.reset, tuple) else self.reset
        return {"dt": self.dt, "reset": reset, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, data) -> ImportModes:
        if not isinstance(data, dict) or sorted(data) != ["dt", "reset", "threshold"]:
            raise ValueError(
                f"ImportModes must be an object with dt, reset, threshold, not {data!r}"
            )
        return cls(data["dt"], data["reset"], data["threshold"])


#: Modes of the graphs other tools write (see docs/nir.md for the evidence):
#: snnTorch 1.0.0 ``export_to_nir`` (``Leaky``'s defaults: subtract at the next step,
#: ``dt = 1e-4`` hard-coded), Norse 1.1.0 ``to_nir`` (reset to ``v_reset``; ``tau`` written
#: as ``dt / tau_mem_inv`` with ``dt = 1e-3``, hence ``1e-6``) and Norse's development
#: version (``tau = 1 / tau_mem_inv``, ``from_nir``'s default ``dt = 1e-3``).
PROFILES = {
    "snntorch": ImportModes(dt=1e-4, reset="subtract_next", threshold="gt"),
    "norse": ImportModes(dt=1e-6, reset="value", threshold="gt"),
    "norse-dev": ImportModes(dt=1e-3, reset="value", threshold="gt"),
}


def euler_coefficients(kind: str, node, dt: float, name: str, n: int):
    """``(beta, gain, v_leak)`` float64 arrays of shape ``[n]`` for one neuron node.

    Raises a one-line ``ValueError`` naming the node when a parameter has the wrong
    shape, is not finite, or gives ``beta`` outside ``[0, 1]`` (``tau < dt``).
    """
    r = node_param(node, "r", name, kind, n)
    if kind in ("IF", "I"):
        return np.ones(n), r, np.zeros(n)
    tau = node_param(node, "tau", name, kind, n)
    v_leak = node_param(node, "v_leak", name, kind, n)
    if np.any(tau < dt):
        bad = float(tau[tau < dt].min())
        raise ValueError(
            f"{kind} node {name!r}: tau must be >= dt = {dt:g} (beta = 1 - dt/tau in [0, 1]), "
            f"not {bad:g}"
        )
    a = dt / tau
    gain = r * a
    gain = np.where(np.abs(gain - 1.0) <= GAIN_RTOL, 1.0, gain)
    return 1.0 - a, gain, v_leak


def as_floats(value, kind: str, name: str, field: str) -> np.ndarray:
    """A node's parameter as a float64 array; anything but numbers is a one-line error."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        what = f"dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
        raise ValueError(f"{kind} node {name!r}: {field} must hold numbers, not {what}") from None


def node_param(node, field: str, name: str, kind: str, n: int) -> np.ndarray:
    """Parameter ``field`` of a neuron node as float64 ``[n]`` (one value broadcasts)."""
    raw = as_floats(getattr(node, field), kind, name, field)
    if raw.size not in (1, n) or raw.ndim > 1:
        raise ValueError(
            f"{kind} node {name!r}: {field} must have shape [{n}] (or one value), "
            f"not {list(raw.shape)}"
        )
    if not np.all(np.isfinite(raw)):
        bad = float(raw.ravel()[~np.isfinite(raw.ravel())][0])
        raise ValueError(f"{kind} node {name!r}: {field} must be finite, not {bad}")
    return np.broadcast_to(raw.ravel(), (n,)).copy()
