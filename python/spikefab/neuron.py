"""Neuron modes: the integer LIF neuron of semantics v1 and its named extensions.

A :class:`LIFSpec` fixes every number of one layer's neurons (docs/semantics.md has the
equations). Its fields at their defaults are semantics v1; each other choice is a named
extension, listed by :meth:`LIFSpec.extensions`:

* ``decay`` (``decay``, ``decay_bits``): multiplicative leak ``(v * decay) >> decay_bits``
  instead of v1's ``v >> leak_shift``;
* ``gt`` (``threshold="gt"``): fire at ``v > theta`` instead of ``v >= theta``;
* ``delayed-reset`` (``reset="subtract-delayed"``): the threshold a spike subtracts is
  taken at the next step, after the leak (snnTorch's default);
* ``cuba`` (``synapse``, a :class:`SynapseSpec`): a synaptic current with its own decay
  feeds the membrane.

Construction validates every field and raises a one-line ``ValueError``/``TypeError``
naming the field, the value and what is allowed. ``to_dict`` leaves out every field at
its v1 default, so a v1 spec reads and writes exactly as before the extensions existed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .fixed import is_int, smax

__all__ = [
    "DECAY_BITS_RANGE",
    "I_BITS_RANGE",
    "RESETS",
    "V1_RESETS",
    "THRESHOLDS",
    "V_BITS_RANGE",
    "LIFSpec",
    "SynapseSpec",
    "check_choice",
    "check_int",
    "from_dict",
    "is_int",
]

RESETS = ("subtract", "zero", "subtract-delayed")
#: The resets of semantics v1 (what a part that has no extensions yet accepts).
V1_RESETS = ("subtract", "zero")
THRESHOLDS = ("ge", "gt")
V_BITS_RANGE = (2, 32)
I_BITS_RANGE = (2, 32)
DECAY_BITS_RANGE = (1, 16)


def check_int(owner: str, name: str, value, lo: int, hi: int) -> None:
    if not is_int(value) or not lo <= value <= hi:
        raise ValueError(f"{owner}.{name} must be an integer in [{lo}, {hi}], not {value!r}")


def check_choice(owner: str, name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{owner}.{name} must be one of {allowed}, not {value!r}")


def from_dict(cls, data, owner: str) -> dict:
    """``data`` checked against ``cls``'s fields: no unknown field, every field without a
    default present."""
    if not isinstance(data, dict):
        raise TypeError(f"{owner} must be a JSON object, not {type(data).__name__}")
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"{owner} has no field {unknown[0]!r}; allowed: {', '.join(names)}")
    required = [f.name for f in fields(cls) if f.name not in cls.OPTIONAL]
    missing = [n for n in required if n not in data]
    if missing:
        raise ValueError(f"{owner}.{missing[0]} is missing")
    return dict(data)


def _check_decay(owner: str, decay, decay_bits) -> None:
    check_int(owner, "decay_bits", decay_bits, *DECAY_BITS_RANGE)
    check_int(owner, "decay", decay, 0, 1 << int(decay_bits))


@dataclass(frozen=True)
class SynapseSpec:
    """A current-based synapse (extension ``cuba``): ``i = sat(i - ((i * decay) >> decay_bits)
    + I, i_bits)``, and ``i`` is the membrane's input.

    Parameters
    ----------
    i_bits : int
        Width of the synaptic current, two's complement, saturating. In [2, 32].
    decay : int
        Decay of the current per step, in ``1/2**decay_bits``. In [0, 2**decay_bits].
    decay_bits : int
        Fraction bits of ``decay``. In [1, 16].
    """

    i_bits: int
    decay: int
    decay_bits: int = 12
    OPTIONAL = ("decay_bits",)

    def __post_init__(self):
        check_int("SynapseSpec", "i_bits", self.i_bits, *I_BITS_RANGE)
        _check_decay("SynapseSpec", self.decay, self.decay_bits)
        for name in ("i_bits", "decay", "decay_bits"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def alpha(self) -> float:
        """The float decay factor ``1 - decay / 2**decay_bits``."""
        return 1.0 - self.decay / 2.0**self.decay_bits

    def to_dict(self) -> dict:
        return {"i_bits": self.i_bits, "decay": self.decay, "decay_bits": self.decay_bits}

    @classmethod
    def from_dict(cls, data) -> SynapseSpec:
        return cls(**from_dict(cls, data, "SynapseSpec"))


@dataclass(frozen=True)
class LIFSpec:
    """Integer leaky integrate-and-fire neurons (semantics v1 and its named extensions).

    Parameters
    ----------
    v_bits : int
        Membrane width in bits, two's complement, saturating. In [2, 32].
    theta : int
        Firing threshold in membrane LSBs. In [1, 2**(v_bits-1) - 1] (``"ge"``) or
        [1, 2**(v_bits-1) - 2] (``"gt"``, so a saturated membrane still fires).
    leak_shift : int or None
        ``k`` in the v1 leak ``v >> k``; ``None``: no shift leak. In [0, v_bits).
    reset : str
        ``"subtract"`` (``v -= theta`` on a spike), ``"zero"`` (``v = 0``) or
        ``"subtract-delayed"`` (``theta`` is subtracted at the next step, after the leak).
    decay : int or None
        Multiplicative leak ``(v * decay) >> decay_bits`` (extension ``decay``); only
        with ``leak_shift=None``. In [0, 2**decay_bits].
    decay_bits : int
        Fraction bits of ``decay``. In [1, 16].
    threshold : str
        ``"ge"``: fire at ``v >= theta`` (v1); ``"gt"``: at ``v > theta``.
    synapse : SynapseSpec or None
        A current-based synapse between the weights and the membrane (extension ``cuba``).
    """

    v_bits: int = 16
    theta: int = 64
    leak_shift: int | None = 3
    reset: str = "subtract"
    decay: int | None = None
    decay_bits: int = 12
    threshold: str = "ge"
    synapse: SynapseSpec | None = None
    OPTIONAL = ("decay", "decay_bits", "threshold", "synapse")

    def __post_init__(self):
        own = "LIFSpec"
        check_int(own, "v_bits", self.v_bits, *V_BITS_RANGE)
        check_choice(own, "threshold", self.threshold, THRESHOLDS)
        top = smax(self.v_bits) - (self.threshold == "gt")
        check_int(own, "theta", self.theta, 1, top)
        if self.leak_shift is not None:
            if not is_int(self.leak_shift) or not 0 <= self.leak_shift < self.v_bits:
                raise ValueError(
                    f"{own}.leak_shift must be None or an integer in [0, {self.v_bits}), "
                    f"not {self.leak_shift!r}"
                )
            object.__setattr__(self, "leak_shift", int(self.leak_shift))
        check_choice(own, "reset", self.reset, RESETS)
        if self.decay is not None:
            if self.leak_shift is not None:
                raise ValueError(
                    f"{own}.decay must be None when leak_shift is set (one leak per neuron), "
                    f"not {self.decay!r}"
                )
            _check_decay(own, self.decay, self.decay_bits)
            object.__setattr__(self, "decay", int(self.decay))
        else:
            check_int(own, "decay_bits", self.decay_bits, *DECAY_BITS_RANGE)
        if self.synapse is not None and not isinstance(self.synapse, SynapseSpec):
            raise TypeError(
                f"{own}.synapse must be a SynapseSpec or None, not {type(self.synapse).__name__}"
            )
        for name in ("v_bits", "theta", "decay_bits"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def beta(self) -> float:
        """The float decay factor of the membrane (1.0 without leak)."""
        if self.decay is not None:
            return 1.0 - self.decay / 2.0**self.decay_bits
        return 1.0 if self.leak_shift is None else 1.0 - 2.0 ** -self.leak_shift

    def extensions(self) -> set[str]:
        """The named extensions of semantics v1 these neurons use."""
        out = set()
        if self.decay is not None:
            out.add("decay")
        if self.threshold == "gt":
            out.add("gt")
        if self.reset == "subtract-delayed":
            out.add("delayed-reset")
        if self.synapse is not None:
            out.add("cuba")
        return out

    def __repr__(self) -> str:
        """The v1 fields and any extension field that is set (defaults left out)."""
        d = self.to_dict()
        if "synapse" in d:
            d["synapse"] = self.synapse
        return f"LIFSpec({', '.join(f'{k}={v!r}' for k, v in d.items())})"

    def to_dict(self) -> dict:
        d = {"v_bits": self.v_bits, "theta": self.theta, "leak_shift": self.leak_shift,
             "reset": self.reset}
        if self.decay is not None:
            d.update(decay=self.decay, decay_bits=self.decay_bits)
        if self.threshold != "ge":
            d["threshold"] = self.threshold
        if self.synapse is not None:
            d["synapse"] = self.synapse.to_dict()
        return d

    @classmethod
    def from_dict(cls, data) -> LIFSpec:
        d = from_dict(cls, data, "LIFSpec")
        if d.get("synapse") is not None:
            d["synapse"] = SynapseSpec.from_dict(d["synapse"])
        return cls(**d)
