"""QuantizedNetwork: a NetworkSpec plus its integer weights and biases.

On disk an IR is two files with one stem: ``<stem>.json`` (format name, version,
spec, metadata, and the SHA-256 of the arrays) and ``<stem>.npz`` (``w0, b0, w1, b1,
...`` as int64). A save replaces the pair whole or not at all (``atomic_write_files``):
the JSON is renamed last and records the arrays' hash, a failed rename puts the old
arrays back, and while the pair is being replaced the old arrays stay reachable under
``atomic.previous_path``, which ``load`` reads when ``<stem>.npz`` does not match the
JSON's hash (a save cut off between its two renames). A mismatched pair is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_write_files, previous_path
from .fixed import dense_bounds, signed_width, smax, smin
from .spec import NetworkSpec

__all__ = ["IR_FORMAT", "IR_VERSION", "IRError", "QuantizedNetwork", "ir_paths"]

IR_FORMAT = "spikefab-ir"
IR_VERSION = 1


class IRError(ValueError):
    """A QuantizedNetwork that is malformed, or an IR file that cannot be read."""


def ir_paths(path) -> tuple[Path, Path]:
    """``(json, npz)`` paths for an IR given as ``x.json``, ``x.npz`` or the stem ``x``."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".json", ".npz") else p
    return stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".npz")


def _as_int_array(value, name: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iub":
        raise IRError(f"{name} must hold integers, not dtype {arr.dtype}")
    if arr.shape != shape:
        raise IRError(f"{name} must have shape {shape}, not {arr.shape}")
    return arr.astype(np.int64)


def _check_range(arr: np.ndarray, name: str, bits: int) -> None:
    if arr.size and (arr.min() < smin(bits) or arr.max() > smax(bits)):
        bad = arr.min() if arr.min() < smin(bits) else arr.max()
        raise IRError(
            f"{name} must lie in [{smin(bits)}, {smax(bits)}] ({bits}-bit signed), "
            f"not {int(bad)}"
        )


def _plain(value):
    """``value`` with NumPy scalars made Python ones (``np.int64(3)`` is the integer 3)."""
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def _arrays_bytes(npath: Path, sha) -> bytes:
    """The arrays the JSON's ``sha`` names: ``npath``, or the previous copy a cut-off save kept."""
    data = npath.read_bytes() if npath.is_file() else None
    if data is not None and hashlib.sha256(data).hexdigest() == sha:
        return data
    if isinstance(sha, str) and re.fullmatch("[0-9a-f]{64}", sha):
        kept = previous_path(npath, sha)
        if kept.is_file():
            old = kept.read_bytes()
            if hashlib.sha256(old).hexdigest() == sha:
                return old
    if data is None:
        raise IRError(f"arrays file {npath.name} not found")
    raise IRError(f"arrays file {npath.name} does not match its sha256 (corrupt or stale)")


@dataclass(frozen=True, eq=False)
class QuantizedNetwork:
    """Integer network: ``weights[l]`` is ``[n_out, n_in]`` (``[out_channels, in_channels,
    kernel, kernel]`` for a conv layer), ``biases[l]`` is ``[n_out]`` (``[out_channels]``).

    ``meta`` is free-form JSON-able information (scales, dataset, accuracies).
    """

    spec: NetworkSpec
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.spec, NetworkSpec):
            raise IRError(f"spec must be a NetworkSpec, not {type(self.spec).__name__}")
        n = len(self.spec.layers)
        if len(self.weights) != n or len(self.biases) != n:
            raise IRError(
                f"weights and biases must have one entry per layer ({n}), "
                f"not {len(self.weights)} and {len(self.biases)}"
            )
        ws, bs = [], []
        for i, layer in enumerate(self.spec.layers):
            w = _as_int_array(self.weights[i], f"weights[{i}]", layer.weight_shape)
            b = _as_int_array(self.biases[i], f"biases[{i}]", layer.bias_shape)
            _check_range(w, f"weights[{i}]", layer.w_bits)
            _check_range(b, f"biases[{i}]", layer.b_bits)
            w.setflags(write=False)
            b.setflags(write=False)
            ws.append(w)
            bs.append(b)
        object.__setattr__(self, "weights", tuple(ws))
        object.__setattr__(self, "biases", tuple(bs))
        object.__setattr__(self, "meta", _plain(self.meta))
        try:
            json.dumps(self.meta)
        except (TypeError, ValueError) as e:
            raise IRError(f"meta must be JSON-serialisable: {e}") from None

    # --- derived widths -------------------------------------------------------------
    def current_bounds(self, index: int) -> tuple[int, int]:
        """Range of the layer's input current ``I = W x + b`` for these weights: exact for a
        dense layer; for a conv layer the range of a whole kernel's sum (a border position
        sums a subset of its terms, which lies inside it)."""
        w = self.weights[index]
        return dense_bounds(w.reshape(w.shape[0], -1), self.biases[index],
                            self.spec.input_max(index))

    def current_bits(self, index: int) -> int:
        """Signed width that holds every current of layer ``index``."""
        return signed_width(*self.current_bounds(index))

    def acc_bounds(self) -> tuple[int, int]:
        """Range of the readout accumulators after ``T`` steps (spike counts in ``[0, T]``
        with ``readout="spikes"``)."""
        t = self.spec.timesteps
        if self.spec.readout == "spikes":
            return 0, t
        lo, hi = self.current_bounds(len(self.spec.layers) - 1)
        return min(0, lo * t), max(0, hi * t)

    def acc_bits(self) -> int:
        return signed_width(*self.acc_bounds())

    @property
    def n_weights(self) -> int:
        return sum(int(w.size) for w in self.weights)

    # --- persistence ----------------------------------------------------------------
    def _npz_bytes(self) -> bytes:
        buf = io.BytesIO()
        arrays = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"w{i}"] = w
            arrays[f"b{i}"] = b
        np.savez(buf, **arrays)
        return buf.getvalue()

    def save(self, path) -> Path:
        """Replace ``<stem>.npz`` and ``<stem>.json`` as one (JSON last); return the JSON path."""
        jpath, npath = ir_paths(path)
        data = self._npz_bytes()
        doc = {
            "format": IR_FORMAT,
            "version": IR_VERSION,
            "arrays": npath.name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "spec": self.spec.to_dict(),
            "meta": self.meta,
        }
        atomic_write_files({npath: data, jpath: (json.dumps(doc, indent=2) + "\n").encode()})
        return jpath

    @classmethod
    def load(cls, path) -> QuantizedNetwork:
        """Read an IR; any problem raises a one-line ``IRError`` naming the file."""
        jpath, npath = ir_paths(path)
        try:
            return cls._load(jpath, npath)
        except IRError as e:
            raise IRError(f"IR {jpath}: {e}") from None
        except (ValueError, TypeError, KeyError) as e:
            raise IRError(f"IR {jpath}: {e}") from None
        except OSError as e:
            raise IRError(f"IR {jpath}: cannot be read ({e.strerror or e})") from None

    @classmethod
    def _load(cls, jpath: Path, npath: Path) -> QuantizedNetwork:
        if not jpath.is_file():
            raise IRError("file not found")
        try:
            doc = json.loads(jpath.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise IRError(f"not valid JSON ({e.msg if hasattr(e, 'msg') else e})") from None
        if not isinstance(doc, dict) or doc.get("format") != IR_FORMAT:
            got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise IRError(f"format must be {IR_FORMAT!r}, not {got!r}")
        if doc.get("version") != IR_VERSION:
            raise IRError(f"version must be {IR_VERSION}, not {doc.get('version')!r}")
        spec = NetworkSpec.from_dict(doc.get("spec"))
        data = _arrays_bytes(npath, doc.get("sha256"))
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                n = len(spec.layers)
                weights = tuple(z[f"w{i}"] for i in range(n))
                biases = tuple(z[f"b{i}"] for i in range(n))
        except (zipfile.BadZipFile, OSError, KeyError) as e:
            raise IRError(f"arrays file {npath.name} is unreadable ({e})") from None
        return cls(spec, weights, biases, dict(doc.get("meta") or {}))
