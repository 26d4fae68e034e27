"""Network specifications: frozen, validated dataclasses that round-trip through JSON.

A spec fixes every number the integer semantics (docs/semantics.md, DESIGN §2) needs
except the weights themselves: widths, thresholds, leaks, reset modes, timesteps and
the input encoding. Construction validates every field and raises a one-line
``ValueError``/``TypeError`` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from .fixed import is_int, smax

__all__ = [
    "SEMANTICS",
    "RESETS",
    "ENCODINGS",
    "LIFSpec",
    "LayerSpec",
    "NetworkSpec",
]

#: Name of the integer semantics these specs follow (DESIGN §2).
SEMANTICS = "v1"
RESETS = ("subtract", "zero")
ENCODINGS = ("spikes", "direct")

V_BITS_RANGE = (2, 32)
W_BITS_RANGE = (2, 16)
B_BITS_RANGE = (2, 32)
IN_BITS_RANGE = (1, 16)
SIZE_RANGE = (1, 65536)
T_RANGE = (1, 1024)


def _check_int(obj, name: str, lo: int, hi: int) -> None:
    """Check ``obj.<name>`` (a Python or NumPy integer in [lo, hi]) and store it as ``int``."""
    value = getattr(obj, name)
    if not is_int(value) or not lo <= value <= hi:
        raise ValueError(
            f"{type(obj).__name__}.{name} must be an integer in [{lo}, {hi}], not {value!r}"
        )
    object.__setattr__(obj, name, int(value))


def _check_choice(owner: str, name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{owner}.{name} must be one of {allowed}, not {value!r}")


def _from_dict(cls, data, owner: str) -> dict:
    if not isinstance(data, dict):
        raise TypeError(f"{owner} must be a JSON object, not {type(data).__name__}")
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"{owner} has no field {unknown[0]!r}; allowed: {', '.join(names)}")
    missing = [n for n in names if n not in data]
    if missing:
        raise ValueError(f"{owner}.{missing[0]} is missing")
    return dict(data)


@dataclass(frozen=True)
class LIFSpec:
    """Integer leaky integrate-and-fire neuron (semantics v1).

    Parameters
    ----------
    v_bits : int
        Membrane width in bits, two's complement, saturating. In [2, 32].
    theta : int
        Firing threshold in membrane LSBs; a neuron spikes when ``v >= theta``.
        In [1, 2**(v_bits-1) - 1].
    leak_shift : int or None
        ``k`` in ``v - (v >> k)``; ``None`` means no leak (IF neuron). In [0, v_bits).
    reset : str
        ``"subtract"`` (``v -= theta`` on a spike) or ``"zero"`` (``v = 0``).
    """

    v_bits: int = 16
    theta: int = 64
    leak_shift: int | None = 3
    reset: str = "subtract"

    def __post_init__(self):
        _check_int(self, "v_bits", *V_BITS_RANGE)
        _check_int(self, "theta", 1, smax(self.v_bits))
        if self.leak_shift is not None:
            if not is_int(self.leak_shift) or not 0 <= self.leak_shift < self.v_bits:
                raise ValueError(
                    f"LIFSpec.leak_shift must be None or an integer in [0, {self.v_bits}), "
                    f"not {self.leak_shift!r}"
                )
            object.__setattr__(self, "leak_shift", int(self.leak_shift))
        _check_choice("LIFSpec", "reset", self.reset, RESETS)

    @property
    def beta(self) -> float:
        """Float decay factor ``1 - 2**-k`` the float model trains with (1.0 without leak)."""
        return 1.0 if self.leak_shift is None else 1.0 - 2.0 ** -self.leak_shift

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data) -> LIFSpec:
        return cls(**_from_dict(cls, data, "LIFSpec"))


@dataclass(frozen=True)
class LayerSpec:
    """A dense layer: ``I = W @ x + b`` then a LIF stage, or the readout when ``neuron`` is None.

    Parameters
    ----------
    n_in, n_out : int
        Fan-in and number of neurons. In [1, 65536].
    w_bits : int
        Signed weight width. In [2, 16].
    b_bits : int
        Signed bias width. In [2, 32].
    neuron : LIFSpec or None
        The neuron stage; ``None`` marks the non-spiking readout (last layer only).
    """

    n_in: int
    n_out: int
    w_bits: int = 8
    b_bits: int = 16
    neuron: LIFSpec | None = None

    def __post_init__(self):
        _check_int(self, "n_in", *SIZE_RANGE)
        _check_int(self, "n_out", *SIZE_RANGE)
        _check_int(self, "w_bits", *W_BITS_RANGE)
        _check_int(self, "b_bits", *B_BITS_RANGE)
        if self.neuron is not None and not isinstance(self.neuron, LIFSpec):
            raise TypeError(
                f"LayerSpec.neuron must be a LIFSpec or None, not {type(self.neuron).__name__}"
            )

    @property
    def is_readout(self) -> bool:
        return self.neuron is None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["neuron"] = None if self.neuron is None else self.neuron.to_dict()
        return d

    @classmethod
    def from_dict(cls, data) -> LayerSpec:
        d = _from_dict(cls, data, "LayerSpec")
        if d["neuron"] is not None:
            d["neuron"] = LIFSpec.from_dict(d["neuron"])
        return cls(**d)


@dataclass(frozen=True)
class NetworkSpec:
    """A chain of dense layers run for ``timesteps`` steps (DESIGN §2).

    Parameters
    ----------
    layers : tuple of LayerSpec
        Hidden LIF layers followed by exactly one readout layer (the last).
    timesteps : int
        Number of steps ``T`` per sample. In [1, 1024].
    encoding : str
        ``"spikes"``: binary input spikes per step; ``"direct"``: unsigned integers of
        ``in_bits`` presented unchanged at every step.
    in_bits : int
        Input width: 1 for spikes, [1, 16] for direct.
    """

    layers: tuple[LayerSpec, ...]
    timesteps: int = 4
    encoding: str = "direct"
    in_bits: int = 4

    def __post_init__(self):
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))
        if not isinstance(self.layers, tuple) or not self.layers:
            raise ValueError(
                f"NetworkSpec.layers must be a non-empty sequence of LayerSpec, not {self.layers!r}"
            )
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, LayerSpec):
                raise TypeError(
                    f"NetworkSpec.layers[{i}] must be a LayerSpec, not {type(layer).__name__}"
                )
        _check_int(self, "timesteps", *T_RANGE)
        _check_choice("NetworkSpec", "encoding", self.encoding, ENCODINGS)
        if self.encoding == "spikes":
            if not is_int(self.in_bits) or self.in_bits != 1:
                raise ValueError(
                    f"NetworkSpec.in_bits must be 1 when encoding is 'spikes', not {self.in_bits!r}"
                )
            object.__setattr__(self, "in_bits", 1)
        else:
            _check_int(self, "in_bits", *IN_BITS_RANGE)
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            if last and not layer.is_readout:
                raise ValueError(
                    f"NetworkSpec.layers[{i}].neuron must be None (the last layer is the readout),"
                    f" not {layer.neuron!r}"
                )
            if not last and layer.is_readout:
                raise ValueError(
                    f"NetworkSpec.layers[{i}].neuron must be a LIFSpec (only the last layer is "
                    "the readout), not None"
                )
            if i and layer.n_in != self.layers[i - 1].n_out:
                raise ValueError(
                    f"NetworkSpec.layers[{i}].n_in must equal layers[{i - 1}].n_out = "
                    f"{self.layers[i - 1].n_out}, not {layer.n_in}"
                )

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_classes(self) -> int:
        return self.layers[-1].n_out

    @property
    def hidden(self) -> tuple[LayerSpec, ...]:
        """The spiking layers (every layer but the readout)."""
        return self.layers[:-1]

    def input_max(self, index: int) -> int:
        """Largest value layer ``index`` can receive on one input (1 for spikes)."""
        if index == 0 and self.encoding == "direct":
            return (1 << self.in_bits) - 1
        return 1

    def to_dict(self) -> dict:
        return {
            "semantics": SEMANTICS,
            "layers": [layer.to_dict() for layer in self.layers],
            "timesteps": self.timesteps,
            "encoding": self.encoding,
            "in_bits": self.in_bits,
        }

    @classmethod
    def from_dict(cls, data) -> NetworkSpec:
        if isinstance(data, dict) and "semantics" in data:
            data = dict(data)
            semantics = data.pop("semantics")
            if semantics != SEMANTICS:
                raise ValueError(
                    f"NetworkSpec.semantics must be {SEMANTICS!r}, not {semantics!r}"
                )
        d = _from_dict(cls, data, "NetworkSpec")
        if not isinstance(d["layers"], list):
            raise TypeError(f"NetworkSpec.layers must be a JSON list, not {d['layers']!r}")
        d["layers"] = tuple(LayerSpec.from_dict(layer) for layer in d["layers"])
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> NetworkSpec:
        return cls.from_dict(json.loads(text))
