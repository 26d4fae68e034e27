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
    CubaLIF:  i <- alpha * i + syn_gain * I                  alpha = 1 - dt/tau_syn
              v <- beta * v + gain * i + (1 - beta) * v_leak     (tau_mem, r as LIF's tau, r)

The synaptic input gain of a ``CubaLIF`` depends on who wrote it: NIR's Euler step gives
``syn_gain = w_in * dt / tau_syn`` (``synapse="euler"``: snnTorch writes ``w_in = tau_syn /
dt``, so 1), Norse adds the input as a jump, ``syn_gain = w_in`` (``synapse="jump"``; Norse
writes ``w_in = 1``). Both tools' synapses integrate their input with gain 1; the other
reading of the same graph would scale every current.

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
    "SYNAPSE_MODES",
    "THRESHOLD_MODES",
    "ImportModes",
    "as_floats",
    "euler_coefficients",
    "node_param",
    "synapse_coefficients",
    "told_dt",
]

#: What a spike does: ``"value"`` sets ``v = v_reset`` (NIR's definition; spikefab and
#: snnTorch ``"zero"`` when ``v_reset = 0``), ``"subtract"`` sets ``v = v - v_threshold``
#: at once (spikefab; snnTorch ``Leaky(reset_delay=False)``), ``"subtract_next"``
#: subtracts ``v_threshold`` at the next step after the decay (snnTorch ``Leaky``'s
#: default ``reset_delay=True``: ``v = beta*v + I - v_threshold*z[t-1]``).
RESET_MODES = ("value", "subtract", "subtract_next")
#: ``"gt"``: fire when ``v > v_threshold`` (NIR, snnTorch, Norse); ``"ge"``: ``v >= v_threshold``.
THRESHOLD_MODES = ("gt", "ge")
#: How a ``CubaLIF``'s synaptic current takes its input: ``"euler"`` (NIR's equation with
#: ``dt``: gain ``w_in * dt / tau_syn``; snnTorch) or ``"jump"`` (gain ``w_in``; Norse).
SYNAPSE_MODES = ("euler", "jump")
#: A gain within this relative distance of 1 is 1: ``tau`` and ``r`` round-trip float32.
GAIN_RTOL = 1e-6


def _choice(name: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"ImportModes.{name} must be one of {names}, not {value!r}")


@dataclass(frozen=True)
class ImportModes:
    """The choices a NIR graph does not record.

    Parameters
    ----------
    dt : float
        Euler time step in the graph's time unit (seconds for snnTorch and Norse); > 0.
    reset : str or tuple of str
        ``"value"``, ``"subtract"`` or ``"subtract_next"`` (see ``RESET_MODES``); a tuple
        gives one mode per spiking layer, in order.
    threshold : str or tuple of str
        ``"gt"`` or ``"ge"`` (see ``THRESHOLD_MODES``); a tuple: one per spiking layer.
    synapse : str
        ``"euler"`` or ``"jump"`` (see ``SYNAPSE_MODES``): how a ``CubaLIF`` takes its input.
    """

    dt: float
    reset: str | tuple[str, ...]
    threshold: str | tuple[str, ...]
    synapse: str = "euler"

    def __post_init__(self):
        dt = self.dt
        if not is_number(dt) or not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"ImportModes.dt must be a positive finite number, not {dt!r}")
        object.__setattr__(self, "dt", float(dt))
        for name, allowed in (("reset", RESET_MODES), ("threshold", THRESHOLD_MODES)):
            value = getattr(self, name)
            if isinstance(value, list):
                value = tuple(value)
                object.__setattr__(self, name, value)
            if isinstance(value, tuple):
                if not value:
                    raise ValueError(f"ImportModes.{name} must not be an empty tuple")
                for r in value:
                    _choice(name, r, allowed)
            else:
                _choice(name, value, allowed)
        _choice("synapse", self.synapse, SYNAPSE_MODES)

    def _of(self, name: str, index: int, n_spiking: int) -> str:
        value = getattr(self, name)
        if isinstance(value, str):
            return value
        if len(value) != n_spiking:
            raise ValueError(
                f"ImportModes.{name} has {len(value)} modes but the graph has "
                f"{n_spiking} spiking layers"
            )
        return value[index]

    def reset_of(self, index: int, n_spiking: int) -> str:
        """Reset mode of spiking layer ``index`` (of ``n_spiking``)."""
        return self._of("reset", index, n_spiking)

    def threshold_of(self, index: int, n_spiking: int) -> str:
        """Threshold mode of spiking layer ``index`` (of ``n_spiking``)."""
        return self._of("threshold", index, n_spiking)

    def to_dict(self) -> dict:
        def plain(v):
            return list(v) if isinstance(v, tuple) else v

        d = {"dt": self.dt, "reset": plain(self.reset), "threshold": plain(self.threshold)}
        if self.synapse != "euler":
            d["synapse"] = self.synapse
        return d

    @classmethod
    def from_dict(cls, data) -> ImportModes:
        keys = sorted(data) if isinstance(data, dict) else None
        if keys not in (["dt", "reset", "threshold"], ["dt", "reset", "synapse", "threshold"]):
            raise ValueError(
                f"ImportModes must be an object with dt, reset, threshold (and synapse), "
                f"not {data!r}"
            )
        return cls(data["dt"], data["reset"], data["threshold"], data.get("synapse", "euler"))


#: Modes of the graphs other tools write (see docs/nir.md for the evidence):
#: snnTorch 1.0.0 ``export_to_nir`` (``Leaky``'s defaults: subtract at the next step,
#: ``dt = 1e-4`` hard-coded), Norse 1.1.0 ``to_nir`` (reset to ``v_reset``; ``tau`` written
#: as ``dt / tau_mem_inv`` with ``dt = 1e-3``, hence ``1e-6``) and Norse's development
#: version (``tau = 1 / tau_mem_inv``, ``from_nir``'s default ``dt = 1e-3``).
PROFILES = {
    "snntorch": ImportModes(dt=1e-4, reset="subtract_next", threshold="gt"),
    "norse": ImportModes(dt=1e-6, reset="value", threshold="gt", synapse="jump"),
    "norse-dev": ImportModes(dt=1e-3, reset="value", threshold="gt", synapse="jump"),
}


def _step(node, field: str, dt: float, name: str, kind: str, n: int, factor: str):
    """``dt / tau`` of ``node.<field>``; ``tau < dt`` (a decay factor outside [0, 1]) is a
    one-line error naming the node."""
    tau = node_param(node, field, name, kind, n)
    if np.any(tau < dt):
        bad = float(tau[tau < dt].min())
        raise ValueError(
            f"{kind} node {name!r}: {field} must be >= dt = {dt:g} "
            f"({factor} = 1 - dt/{field} in [0, 1]), not {bad:g}"
        )
    return dt / tau


def _unit(gain: np.ndarray) -> np.ndarray:
    return np.where(np.abs(gain - 1.0) <= GAIN_RTOL, 1.0, gain)


def euler_coefficients(kind: str, node, dt: float, name: str, n):
    """``(beta, gain, v_leak)`` float64 arrays of shape ``[n]`` for one neuron node (``n``:
    the neuron count, or a conv layer's output shape ``(C, H, W)``: the arrays are flat).

    Raises a one-line ``ValueError`` naming the node when a parameter has the wrong
    shape, is not finite, or gives ``beta`` outside ``[0, 1]`` (``tau < dt``).
    """
    r = node_param(node, "r", name, kind, n)
    if kind in ("IF", "I"):
        return np.ones(r.size), r, np.zeros(r.size)
    a = _step(node, "tau_mem" if kind == "CubaLIF" else "tau", dt, name, kind, n, "beta")
    v_leak = node_param(node, "v_leak", name, kind, n)
    return 1.0 - a, _unit(r * a), v_leak


def synapse_coefficients(node, dt: float, synapse: str, name: str, n):
    """``(alpha, syn_gain)`` float64 ``[n]`` of a ``CubaLIF`` node (module docstring)."""
    a = _step(node, "tau_syn", dt, name, "CubaLIF", n, "alpha")
    w_in = node_param(node, "w_in", name, "CubaLIF", n)
    return 1.0 - a, _unit(w_in * a if synapse == "euler" else w_in)


def as_floats(value, kind: str, name: str, field: str) -> np.ndarray:
    """A node's parameter as a float64 array; anything but numbers is a one-line error."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        what = f"dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
        raise ValueError(f"{kind} node {name!r}: {field} must hold numbers, not {what}") from None


def node_param(node, field: str, name: str, kind: str, n) -> np.ndarray:
    """Parameter ``field`` of a neuron node as float64 ``[n]`` (one value broadcasts). ``n``
    may be a conv layer's output shape ``(C, H, W)``: the parameter then has that shape (as
    snnTorch writes it), ``[C * H * W]`` or one value, and comes back flat."""
    raw = as_floats(getattr(node, field), kind, name, field)
    shape = tuple(int(d) for d in n) if isinstance(n, tuple) else None
    n = int(np.prod(shape)) if shape else n
    if raw.size not in (1, n) or (raw.ndim > 1 and raw.shape != shape):
        want = f"[{n}]" + (f" or {list(shape)}" if shape else "")
        raise ValueError(
            f"{kind} node {name!r}: {field} must have shape {want} (or one value), "
            f"not {list(raw.shape)}"
        )
    if not np.all(np.isfinite(raw)):
        bad = float(raw.ravel()[~np.isfinite(raw.ravel())][0])
        raise ValueError(f"{kind} node {name!r}: {field} must be finite, not {bad}")
    return np.broadcast_to(raw.ravel(), (n,)).copy()


#: Significant digits ``told_dt`` keeps of ``tau / r`` (float32 ``tau`` and ``r`` give
#: ``1e-4 * (1 +- 1e-7)`` for snnTorch's ``1e-4``).
DT_DIGITS = 6


def told_dt(graph) -> tuple[float | None, str]:
    """The ``dt`` a graph tells, and why (or why not).

    snnTorch writes every leaky node with unit input gain, ``r = tau / dt`` (and a CubaLIF's
    ``w_in = tau_syn / dt``), so ``dt = tau / r`` (to ``DT_DIGITS`` digits) when all its
    leaky nodes agree and ``r`` is not 1. Norse writes ``r = 1``, which tells nothing. A
    graph without leaky nodes needs no ``dt`` (``IF`` and ``I`` ignore it): ``(1.0, ...)``.
    """
    candidates, silent = [], None
    leaky = 0
    for name, node in graph.nodes.items():
        kind = type(node).__name__
        pairs = {"LIF": [("tau", "r")], "LI": [("tau", "r")],
                 "CubaLIF": [("tau_mem", "r"), ("tau_syn", "w_in")]}.get(kind)
        if pairs is None:
            continue
        leaky += 1
        for tau_field, gain_field in pairs:
            tau = np.asarray(getattr(node, tau_field), np.float64).ravel()
            gain = np.asarray(getattr(node, gain_field), np.float64).ravel()
            if np.all(gain == 1.0) or not np.all(np.isfinite(tau / gain)):
                silent = silent or f"{kind} node {name!r} has {gain_field} = 1"
                continue
            candidates.extend(np.broadcast_to(tau / gain, np.broadcast(tau, gain).shape))
    if not leaky:
        return 1.0, "no leaky neuron (IF and I ignore dt)"
    if silent is not None or not candidates:
        return None, silent or "no leaky node gives tau / r"
    dts = np.asarray(candidates)
    if np.any(np.abs(dts - dts[0]) > 1e-5 * abs(dts[0])):
        return None, (f"the leaky nodes' tau / r differ ({float(dts.min()):.6g} to "
                      f"{float(dts.max()):.6g})")
    dt = float(f"{float(dts[0]):.{DT_DIGITS}g}")
    return dt, f"tau / r = {dt:g} in every leaky node (unit input gain: snnTorch's convention)"
