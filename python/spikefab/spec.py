"""Network specifications: frozen, validated dataclasses that round-trip through JSON.

A spec fixes every number the integer semantics (docs/semantics.md, DESIGN §2) needs
except the weights themselves: layer kinds and shapes, widths, neuron modes
(:mod:`spikefab.neuron`), timesteps, the input encoding and the readout. Construction
validates every field and raises a one-line ``ValueError``/``TypeError`` naming the
field, the value and what is allowed.

Semantics v1 is a chain of dense LIF layers and a non-spiking readout; every other
choice is a named extension (``conv2d``, ``spike-readout`` here; the neuron modes in
:mod:`spikefab.neuron`). :attr:`NetworkSpec.semantics` names the ones a network uses
(``"v1"``, or e.g. ``"v1+conv2d+gt"``), is written into its JSON and checked on load.
Fields at their v1 defaults are left out of the JSON, so a v1 spec reads and writes
exactly as it always did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .conv import SIZE_RANGE, ConvSpec
from .fixed import umax
from .neuron import (
    DECAY_BITS_RANGE,
    I_BITS_RANGE,
    RESETS,
    THRESHOLDS,
    V1_RESETS,
    V_BITS_RANGE,
    LIFSpec,
    SynapseSpec,
    check_choice,
    check_int,
    from_dict,
    is_int,
)

__all__ = [
    "B_BITS_RANGE",
    "DECAY_BITS_RANGE",
    "I_BITS_RANGE",
    "IN_BITS_RANGE",
    "SIZE_RANGE",
    "T_RANGE",
    "V_BITS_RANGE",
    "W_BITS_RANGE",
    "EXTENSIONS",
    "SEMANTICS",
    "RESETS",
    "THRESHOLDS",
    "V1_RESETS",
    "ENCODINGS",
    "READOUTS",
    "ConvSpec",
    "LIFSpec",
    "LayerSpec",
    "NetworkSpec",
    "SynapseSpec",
]

#: Name of the base integer semantics (DESIGN §2).
SEMANTICS = "v1"
#: The named extensions of v1 (docs/semantics.md has each one's equations).
EXTENSIONS = ("conv2d", "cuba", "decay", "delayed-reset", "gt", "spike-readout")
ENCODINGS = ("spikes", "direct")
#: ``"current"``: the last layer sums its input current (v1); ``"spikes"``: it is a LIF
#: layer and the prediction is the spike-count vote (extension ``spike-readout``).
READOUTS = ("current", "spikes")

W_BITS_RANGE = (2, 16)
B_BITS_RANGE = (2, 32)
IN_BITS_RANGE = (1, 16)
T_RANGE = (1, 1024)


@dataclass(frozen=True)
class LayerSpec:
    """A layer: ``I = W @ x + b`` (dense) or a convolution (``conv``), then its neurons, or
    the summing readout when ``neuron`` is None.

    Parameters
    ----------
    n_in, n_out : int
        Fan-in and number of neurons, in [1, 65536]; a conv layer's equal its
        ``conv.n_in`` and ``conv.n_out``.
    w_bits : int
        Signed weight width. In [2, 16].
    b_bits : int
        Signed bias width. In [2, 32].
    neuron : LIFSpec or None
        The neuron stage; ``None`` marks the summing readout (last layer only).
    conv : ConvSpec or None
        A convolution layer (extension ``conv2d``; never the last layer); None: dense.
    """

    n_in: int
    n_out: int
    w_bits: int = 8
    b_bits: int = 16
    neuron: LIFSpec | None = None
    conv: ConvSpec | None = None
    OPTIONAL = ("conv",)

    def __post_init__(self):
        own = "LayerSpec"
        check_int(own, "n_in", self.n_in, *SIZE_RANGE)
        check_int(own, "n_out", self.n_out, *SIZE_RANGE)
        check_int(own, "w_bits", self.w_bits, *W_BITS_RANGE)
        check_int(own, "b_bits", self.b_bits, *B_BITS_RANGE)
        for name in ("n_in", "n_out", "w_bits", "b_bits"):
            object.__setattr__(self, name, int(getattr(self, name)))
        if self.neuron is not None and not isinstance(self.neuron, LIFSpec):
            raise TypeError(
                f"{own}.neuron must be a LIFSpec or None, not {type(self.neuron).__name__}"
            )
        if self.conv is None:
            return
        if not isinstance(self.conv, ConvSpec):
            raise TypeError(f"{own}.conv must be a ConvSpec or None, not "
                            f"{type(self.conv).__name__}")
        for name in ("n_in", "n_out"):
            want = getattr(self.conv, name)
            if getattr(self, name) != want:
                raise ValueError(f"{own}.{name} must equal the convolution's {name} {want}, "
                                 f"not {getattr(self, name)}")
        if self.neuron is None:
            raise ValueError(f"{own}.neuron must be a LIFSpec for a conv layer (a conv layer "
                             "spikes; the readout is dense), not None")

    @property
    def is_readout(self) -> bool:
        """The summing readout (no neurons)."""
        return self.neuron is None

    @property
    def n_next(self) -> int:
        """Outputs the next layer sees: the pooled spikes of a conv layer, else ``n_out``."""
        return self.n_out if self.conv is None else self.conv.n_pooled

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """``[n_out, n_in]``, or ``[out_channels, in_channels, kernel, kernel]`` for conv."""
        c = self.conv
        if c is None:
            return (self.n_out, self.n_in)
        return (c.out_channels, c.in_channels, c.kernel, c.kernel)

    @property
    def bias_shape(self) -> tuple[int]:
        """One bias per neuron (dense) or per output channel (conv)."""
        return (self.n_out if self.conv is None else self.conv.out_channels,)

    def extensions(self) -> set[str]:
        out = set() if self.neuron is None else self.neuron.extensions()
        return out | ({"conv2d"} if self.conv is not None else set())

    def to_dict(self) -> dict:
        d = {"n_in": self.n_in, "n_out": self.n_out, "w_bits": self.w_bits,
             "b_bits": self.b_bits,
             "neuron": None if self.neuron is None else self.neuron.to_dict()}
        if self.conv is not None:
            d["conv"] = self.conv.to_dict()
        return d

    @classmethod
    def from_dict(cls, data) -> LayerSpec:
        d = from_dict(cls, data, "LayerSpec")
        if d.get("neuron") is not None:
            d["neuron"] = LIFSpec.from_dict(d["neuron"])
        if d.get("conv") is not None:
            d["conv"] = ConvSpec.from_dict(d["conv"])
        return cls(**d)


@dataclass(frozen=True)
class NetworkSpec:
    """A chain of layers run for ``timesteps`` steps (DESIGN §2, docs/semantics.md).

    Parameters
    ----------
    layers : tuple of LayerSpec
        Spiking layers (dense or conv), then the readout layer (dense, the last).
    timesteps : int
        Number of steps ``T`` per sample. In [1, 1024].
    encoding : str
        ``"spikes"``: binary input spikes per step; ``"direct"``: unsigned integers of
        ``in_bits`` presented unchanged at every step.
    in_bits : int
        Input width: 1 for spikes, [1, 16] for direct.
    readout : str
        ``"current"``: the last layer has no neurons and sums its current (v1);
        ``"spikes"``: it is a LIF layer and predicts by spike count (``spike-readout``).
    """

    layers: tuple[LayerSpec, ...]
    timesteps: int = 4
    encoding: str = "direct"
    in_bits: int = 4
    readout: str = "current"
    OPTIONAL = ("readout",)

    def __post_init__(self):
        own = "NetworkSpec"
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))
        if not isinstance(self.layers, tuple) or not self.layers:
            raise ValueError(
                f"{own}.layers must be a non-empty sequence of LayerSpec, not {self.layers!r}"
            )
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, LayerSpec):
                raise TypeError(f"{own}.layers[{i}] must be a LayerSpec, not "
                                f"{type(layer).__name__}")
        check_int(own, "timesteps", self.timesteps, *T_RANGE)
        check_choice(own, "encoding", self.encoding, ENCODINGS)
        check_choice(own, "readout", self.readout, READOUTS)
        if self.encoding == "spikes":
            if not is_int(self.in_bits) or self.in_bits != 1:
                raise ValueError(
                    f"{own}.in_bits must be 1 when encoding is 'spikes', not {self.in_bits!r}"
                )
        else:
            check_int(own, "in_bits", self.in_bits, *IN_BITS_RANGE)
        object.__setattr__(self, "timesteps", int(self.timesteps))
        object.__setattr__(self, "in_bits", int(self.in_bits))
        spiking_readout = self.readout == "spikes"
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            if last and layer.is_readout == spiking_readout:
                want = "a LIFSpec (readout 'spikes')" if spiking_readout else \
                    "None (the last layer is the readout)"
                raise ValueError(f"{own}.layers[{i}].neuron must be {want}, not "
                                 f"{layer.neuron!r}")
            if not last and layer.is_readout:
                raise ValueError(
                    f"{own}.layers[{i}].neuron must be a LIFSpec (only the last layer is "
                    "the readout), not None"
                )
            if last and layer.conv is not None:
                raise ValueError(f"{own}.layers[{i}] is a conv layer; the last layer (the "
                                 "readout) must be dense")
            prev = self.layers[i - 1] if i else None
            if prev is not None and prev.conv is not None and layer.conv is not None:
                c = prev.conv
                given = [c.out_channels, *c.pooled_hw]
                want = [layer.conv.in_channels, layer.conv.height, layer.conv.width]
                if given != want:
                    what = "pooled output" if c.pool > 1 else "output"
                    raise ValueError(f"{own}.layers[{i}] takes a {want} input (in_channels, "
                                     f"height, width), but layers[{i - 1}] passes on its "
                                     f"{what} {given}")
            if prev is not None and layer.n_in != prev.n_next:
                what = "n_out" if prev.n_next == prev.n_out else "pooled outputs"
                raise ValueError(f"{own}.layers[{i}].n_in must equal layers[{i - 1}].{what} = "
                                 f"{prev.n_next}, not {layer.n_in}")

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_classes(self) -> int:
        return self.layers[-1].n_out

    @property
    def hidden(self) -> tuple[LayerSpec, ...]:
        """Every layer but the last (all spiking)."""
        return self.layers[:-1]

    @property
    def spiking(self) -> tuple[LayerSpec, ...]:
        """The layers with neurons: the hidden ones, and the last with readout 'spikes'."""
        return tuple(layer for layer in self.layers if layer.neuron is not None)

    @property
    def semantics(self) -> str:
        """``"v1"`` and the named extensions the network uses, e.g. ``"v1+conv2d+gt"``."""
        names = set().union(*(layer.extensions() for layer in self.layers))
        if self.readout == "spikes":
            names.add("spike-readout")
        return "+".join([SEMANTICS, *sorted(names)])

    def require(self, who: str, supported=()) -> None:
        """Raise a one-line ``ValueError`` when the network uses an extension that ``who``
        does not implement (``supported``: the extension names it does)."""
        missing = [n for n in self.semantics.split("+")[1:] if n not in supported]
        if missing:
            raise ValueError(f"{who} does not implement the extension{'s' * (len(missing) > 1)} "
                             f"{', '.join(missing)} of this network (semantics "
                             f"{self.semantics!r}); it implements "
                             f"{'+'.join([SEMANTICS, *supported])}")

    def input_max(self, index: int) -> int:
        """Largest value layer ``index`` can receive on one input (1 for spikes)."""
        if index == 0 and self.encoding == "direct":
            return umax(self.in_bits)
        return 1

    def to_dict(self) -> dict:
        d = {
            "semantics": self.semantics,
            "layers": [layer.to_dict() for layer in self.layers],
            "timesteps": self.timesteps,
            "encoding": self.encoding,
            "in_bits": self.in_bits,
        }
        if self.readout != "current":
            d["readout"] = self.readout
        return d

    @classmethod
    def from_dict(cls, data) -> NetworkSpec:
        semantics = None
        if isinstance(data, dict) and "semantics" in data:
            data = dict(data)
            semantics = data.pop("semantics")
            names = semantics.split("+") if isinstance(semantics, str) else []
            unknown = [n for n in names[1:] if n not in EXTENSIONS]
            if not names or names[0] != SEMANTICS or unknown:
                raise ValueError(
                    f"NetworkSpec.semantics must be {SEMANTICS!r} with named extensions from "
                    f"{', '.join(EXTENSIONS)} (e.g. 'v1+conv2d'), not {semantics!r}"
                )
        d = from_dict(cls, data, "NetworkSpec")
        if not isinstance(d["layers"], list):
            raise TypeError(f"NetworkSpec.layers must be a JSON list, not {d['layers']!r}")
        d["layers"] = tuple(LayerSpec.from_dict(layer) for layer in d["layers"])
        spec = cls(**d)
        if semantics is not None and semantics != spec.semantics:
            raise ValueError(f"NetworkSpec.semantics is {semantics!r} but the layers use "
                             f"{spec.semantics!r}")
        return spec

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> NetworkSpec:
        return cls.from_dict(json.loads(text))
