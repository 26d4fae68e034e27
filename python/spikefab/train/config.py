"""TrainConfig: every knob of a float training run, validated, JSON round-trip."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..data import DATASETS
from ..fixed import is_int, is_number
from ..snn.lif import check_neuron_args
from ..spec import ENCODINGS, IN_BITS_RANGE, T_RANGE, V1_RESETS

__all__ = ["TrainConfig"]


def _int_in(name, value, lo, hi):
    if not is_int(value) or not lo <= value <= hi:
        raise ValueError(f"TrainConfig.{name} must be an integer in [{lo}, {hi}], not {value!r}")


def _pos_float(name, value, allow_zero=False):
    ok = is_number(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "a number >= 0" if allow_zero else "a positive number"
        raise ValueError(f"TrainConfig.{name} must be {kind}, not {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    """A float surrogate-gradient training run of a SpikingMLP or a SpikingCNN.

    Parameters
    ----------
    dataset : str
        ``"digits"`` or ``"mnist5k"`` (``spikefab.data.load_dataset``).
    hidden : tuple of int
        Hidden layer widths of an MLP student; input and class counts come from the dataset.
    kind : str
        ``"mlp"`` (a ``SpikingMLP`` with ``hidden``) or ``"cnn"`` (a ``SpikingCNN`` with
        ``channels``: conv3x3 -> LIF -> 2x2 max pool per stage, a dense readout; its neurons
        take ``leak_shift``, ``theta`` and the resets ``"subtract"`` and ``"zero"``).
    channels : tuple of int
        Output channels per conv stage (``kind="cnn"`` only).
    timesteps, leak_shift, theta, reset : see ``SpikingMLP``.
    beta, threshold, alpha, readout : the neuron modes of ``SpikingMLP`` beyond semantics v1
        (any decay ``beta`` with ``leak_shift=None``, ``"gt"``, a cuba synapse, the spike
        readout); ``to_dict`` leaves them out at their defaults.
    encoding : str
        ``"direct"`` (inputs quantised to ``in_bits`` then divided by ``2**in_bits - 1``)
        or ``"spikes"`` (Bernoulli rate code, fresh spikes every epoch).
    in_bits : int
        Direct-input width (1 for spikes).
    epochs, batch_size, lr, weight_decay : optimisation (Adam, cosine-annealed lr).
    augment_shift : int
        Translate each training image by a fresh random offset in
        ``[-augment_shift, augment_shift]`` pixels every epoch (``data.random_shift``);
        0: no augmentation. Test images are never shifted.
    seed : int
        Seeds the split, the weight init, the batch order and the spike encoder.
    threads : int
        ``torch.set_num_threads`` during training. Default 1: the matrices are tiny, and on
        a shared 2-core machine 2 threads measured ~20x slower (7.7 s vs 138 s wall for the
        digits run at load 5) with identical results.
    """

    dataset: str = "digits"
    hidden: tuple[int, ...] = (128,)
    timesteps: int = 4
    leak_shift: int | None = 3
    theta: float = 1.0
    reset: str = "subtract"
    encoding: str = "direct"
    in_bits: int = 4
    epochs: int = 40
    batch_size: int = 64
    lr: float = 5e-3
    weight_decay: float = 0.0
    augment_shift: int = 0
    seed: int = 0
    threads: int = 1
    beta: float | None = None
    threshold: str = "ge"
    alpha: float | None = None
    readout: str = "current"
    kind: str = "mlp"
    channels: tuple[int, ...] = (16, 32)
    #: The fields after semantics v1's, left out of ``to_dict`` at these defaults.
    MODES = {"beta": None, "threshold": "ge", "alpha": None, "readout": "current"}
    #: The student kinds; the fields of a conv student are left out of an MLP's ``to_dict``.
    KINDS = ("mlp", "cnn")

    def __post_init__(self):
        if self.dataset not in DATASETS:
            allowed = ", ".join(repr(n) for n in DATASETS)
            raise ValueError(f"TrainConfig.dataset must be one of {allowed}, not {self.dataset!r}")
        hidden = tuple(self.hidden) if isinstance(self.hidden, (list, tuple)) else self.hidden
        if not isinstance(hidden, tuple) or not all(
            is_int(n) and n >= 1 for n in hidden
        ):
            raise ValueError(
                f"TrainConfig.hidden must be a sequence of positive integers, not {self.hidden!r}"
            )
        object.__setattr__(self, "hidden", tuple(int(n) for n in hidden))
        self._check_kind()
        _int_in("timesteps", self.timesteps, *T_RANGE)
        if self.leak_shift is not None:
            _int_in("leak_shift", self.leak_shift, 0, 31)
        _pos_float("theta", self.theta)
        try:
            check_neuron_args("TrainConfig", theta=self.theta, reset=self.reset,
                              leak_shift=self.leak_shift, beta=self.beta,
                              threshold=self.threshold, alpha=self.alpha)
        except ValueError as e:  # "TrainConfig reset must" -> "TrainConfig.reset must"
            raise ValueError(str(e).replace("TrainConfig ", "TrainConfig.", 1)) from None
        if self.readout not in ("current", "spikes"):
            raise ValueError(f"TrainConfig.readout must be one of 'current', 'spikes', not "
                             f"{self.readout!r}")
        if self.encoding not in ENCODINGS:
            allowed = ", ".join(repr(e) for e in ENCODINGS)
            raise ValueError(
                f"TrainConfig.encoding must be one of {allowed}, not {self.encoding!r}"
            )
        if self.encoding == "spikes" and self.in_bits != 1:
            raise ValueError(
                f"TrainConfig.in_bits must be 1 when encoding is 'spikes', not {self.in_bits!r}"
            )
        _int_in("in_bits", self.in_bits, *IN_BITS_RANGE)
        _int_in("epochs", self.epochs, 1, 100_000)
        _int_in("batch_size", self.batch_size, 1, 1 << 20)
        _pos_float("lr", self.lr)
        _pos_float("weight_decay", self.weight_decay, allow_zero=True)
        _int_in("augment_shift", self.augment_shift, 0, 8)
        _int_in("seed", self.seed, 0, 2**32 - 1)
        _int_in("threads", self.threads, 1, 256)
        for f in fields(self):  # NumPy scalars become Python ones (JSON, checkpoints)
            v = getattr(self, f.name)
            if is_int(v):
                object.__setattr__(self, f.name, int(v))
            elif is_number(v):
                object.__setattr__(self, f.name, float(v))

    def _check_kind(self) -> None:
        if self.kind not in self.KINDS:
            allowed = ", ".join(repr(k) for k in self.KINDS)
            raise ValueError(f"TrainConfig.kind must be one of {allowed}, not {self.kind!r}")
        ch = tuple(self.channels) if isinstance(self.channels, list | tuple) else None
        if not ch or not all(is_int(n) and n >= 1 for n in ch):
            raise ValueError(f"TrainConfig.channels must be a non-empty sequence of positive "
                             f"integers, not {self.channels!r}")
        object.__setattr__(self, "channels", tuple(int(n) for n in ch))
        if self.kind != "cnn":
            return
        for name, default in self.MODES.items():
            if getattr(self, name) != default:
                raise ValueError(f"TrainConfig.{name} must be {default!r} for a conv student "
                                 f"(kind 'cnn'), not {getattr(self, name)!r}")
        if self.reset not in V1_RESETS:
            raise ValueError(f"TrainConfig.reset must be 'subtract' or 'zero' for a conv student "
                             f"(kind 'cnn'), not {self.reset!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["channels"] = list(self.channels)
        for name, default in self.MODES.items():
            if d[name] == default:
                del d[name]
        if self.kind == "mlp":
            del d["kind"], d["channels"]
        return d

    @classmethod
    def from_dict(cls, data) -> TrainConfig:
        if not isinstance(data, dict):
            raise TypeError(f"TrainConfig must be a JSON object, not {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(
                f"TrainConfig has no field {unknown[0]!r}; allowed: {', '.join(names)}"
            )
        return cls(**data)
