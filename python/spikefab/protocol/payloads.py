"""Payloads of the board protocol (docs/protocol.md): INFO, samples, RESULT, ERROR.

Each decoder checks every field by the rules of docs/protocol.md ("What a host accepts")
and raises :class:`~.frames.ProtocolError` naming the field, the value and the range.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass

import numpy as np

from ..fixed import smax, smin
from ..ir import QuantizedNetwork
from .frames import (
    BOARD_WINDOW,
    DEFAULT_BAUD,
    ERROR_LEN,
    INFO_LEN,
    MAX_ACC_BYTES,
    MAX_BAUD,
    MAX_PAYLOAD,
    MAX_WINDOW,
    MIN_BAUD,
    RESULT_TAIL_LEN,
    VERSION,
    ErrorCode,
    ProtocolError,
)

__all__ = ["NetInfo", "Result", "ErrorReply", "network_id", "value_bytes", "wire_value_bits",
           "value_bits_allowed", "encode_sample", "decode_sample", "encode_result",
           "decode_result"]

#: INFO: version, encoding, in_bits, acc_bytes, n_in, n_classes, timesteps, sample_len,
#: net_id, clk_hz, baud, value_bits, window (docs/protocol.md).
_INFO_FORMAT = "<BBBBHHHHIIIBB"

def network_id(net: QuantizedNetwork) -> int:
    """32-bit id of a network: the first 4 bytes (big-endian) of a SHA-256 over its spec and arrays.

    The hash covers the spec as compact JSON with sorted keys, then for each layer the
    weights and the biases as little-endian int64 in C order.
    """
    h = hashlib.sha256(json.dumps(net.spec.to_dict(), sort_keys=True, separators=(",", ":"))
                       .encode())
    for w, b in zip(net.weights, net.biases, strict=True):
        h.update(np.ascontiguousarray(w, dtype="<i8").tobytes())
        h.update(np.ascontiguousarray(b, dtype="<i8").tobytes())
    return int.from_bytes(h.digest()[:4], "big")


def value_bytes(in_bits: int) -> int:
    """Bytes per unpacked direct input value on the wire: 1 for ``in_bits <= 8``, else 2."""
    return 1 if in_bits <= 8 else 2


def wire_value_bits(encoding: str, in_bits: int, *, pack: bool = True) -> int:
    """Bits one input value takes on the wire (INFO ``value_bits``): 1 for spikes; for direct
    input 4 (two values per byte) when ``in_bits <= 4`` and ``pack``, else 8 or 16."""
    if encoding != "direct":
        return 1
    if in_bits <= 4 and pack:
        return 4
    return 8 * value_bytes(in_bits)


def value_bits_allowed(encoding: str, in_bits: int) -> tuple[int, ...]:
    """The INFO ``value_bits`` a host accepts for ``encoding`` and ``in_bits``."""
    if encoding != "direct":
        return (1,)
    return (4, 8) if in_bits <= 4 else (8 * value_bytes(in_bits),)


@dataclass(frozen=True)
class NetInfo:
    """The INFO payload: what the board's network expects and returns, and its link.

    Attributes
    ----------
    encoding : str
        ``"direct"`` or ``"spikes"``.
    in_bits, acc_bytes, n_in, n_classes, timesteps : int
        Input width, bytes per accumulator in RESULT, fan-in, classes and steps.
    net_id : int
        :func:`network_id` of the network built into the bitstream.
    clk_hz : int
        The core's clock in Hz (cycles / clk_hz = seconds).
    baud : int
        The UART rate the board was built with.
    value_bits : int or None
        Bits per input value in an INFER_REQ payload (1 spikes; 4, 8 or 16 direct); None:
        :func:`wire_value_bits` (4-bit input packed two values per byte).
    window : int
        Requests the board accepts outstanding (sent, answer not yet received); the board
        builds: :data:`~.frames.BOARD_WINDOW`.
    version : int
        Protocol version (:data:`VERSION`).
    """

    encoding: str
    in_bits: int
    acc_bytes: int
    n_in: int
    n_classes: int
    timesteps: int
    net_id: int
    clk_hz: int
    baud: int = DEFAULT_BAUD
    value_bits: int | None = None
    window: int = BOARD_WINDOW
    version: int = VERSION

    def __post_init__(self):
        if self.value_bits is None:
            object.__setattr__(self, "value_bits", wire_value_bits(self.encoding, self.in_bits))

    @classmethod
    def from_network(cls, net: QuantizedNetwork, clk_hz: int, *, baud: int = DEFAULT_BAUD,
                     pack: bool = True) -> NetInfo:
        """The INFO of a board running ``net`` at ``clk_hz`` and ``baud``; ``pack=False``
        sends 4-bit input one value per byte."""
        spec = net.spec
        info = cls(spec.encoding, spec.in_bits, -(-net.acc_bits() // 8), spec.n_in,
                   spec.n_classes, spec.timesteps, network_id(net), int(clk_hz), int(baud),
                   wire_value_bits(spec.encoding, spec.in_bits, pack=pack))
        if info.n_in > 0xFFFF or info.n_classes > 0xFFFF or info.sample_len > MAX_PAYLOAD:
            raise ValueError(
                f"network does not fit the protocol: n_in {info.n_in}, n_classes "
                f"{info.n_classes} and sample_len {info.sample_len} must be at most 65535")
        if info.acc_bytes > MAX_ACC_BYTES or info.result_len > MAX_PAYLOAD:
            raise ValueError(f"network does not fit the protocol: acc_bytes {info.acc_bytes} "
                             f"must be at most {MAX_ACC_BYTES} and n_classes * acc_bytes + 6 "
                             f"({info.result_len}) at most 65535")
        info.check()
        return info

    @property
    def sample_len(self) -> int:
        """Bytes of an INFER_REQ payload."""
        if self.encoding == "direct":
            return -(-self.n_in * self.value_bits // 8)
        return self.timesteps * (-(-self.n_in // 8))

    @property
    def result_len(self) -> int:
        """Bytes of a RESULT payload."""
        return self.n_classes * self.acc_bytes + RESULT_TAIL_LEN

    def check(self) -> None:
        """Raise :class:`ProtocolError` on the first field that breaks docs/protocol.md's
        INFO rules (the C library's ``sfp_decode_info`` applies the same rules)."""
        direct = self.encoding == "direct"
        lo, hi = (1, 16) if direct else (1, 1)
        allowed = value_bits_allowed(self.encoding, self.in_bits)
        for name, ok, rule in (
            ("version", self.version == VERSION, f"be {VERSION}"),
            ("in_bits", lo <= self.in_bits <= hi,
             "lie in [1, 16] for direct input" if direct else "be 1 for spike input"),
            ("value_bits", self.value_bits in allowed,
             f"be {' or '.join(map(str, allowed))} for direct input of {self.in_bits} bits"
             if direct else "be 1 for spike input"),
            ("acc_bytes", 1 <= self.acc_bytes <= MAX_ACC_BYTES,
             f"lie in [1, {MAX_ACC_BYTES}]"),
            ("n_in", self.n_in >= 1, "be at least 1"),
            ("n_classes", self.n_classes >= 1, "be at least 1"),
            ("timesteps", self.timesteps >= 1, "be at least 1"),
            ("clk_hz", self.clk_hz >= 1, "be at least 1"),
            ("baud", MIN_BAUD <= self.baud <= MAX_BAUD, f"lie in [{MIN_BAUD}, {MAX_BAUD}]"),
            ("window", 1 <= self.window <= MAX_WINDOW, f"lie in [1, {MAX_WINDOW}]"),
        ):
            if not ok:
                raise ProtocolError(f"INFO {name} must {rule}, not {getattr(self, name)}")
        if self.result_len > MAX_PAYLOAD:
            raise ProtocolError(f"INFO n_classes * acc_bytes + 6 must be at most 65535, not "
                                f"{self.result_len}")

    def to_payload(self) -> bytes:
        enc = 0 if self.encoding == "direct" else 1
        return struct.pack(_INFO_FORMAT, self.version, enc, self.in_bits, self.acc_bytes,
                           self.n_in, self.n_classes, self.timesteps, self.sample_len,
                           self.net_id, self.clk_hz, self.baud, self.value_bits, self.window)

    @classmethod
    def from_payload(cls, payload: bytes) -> NetInfo:
        """Decode and check an INFO payload (every rule of :meth:`check`, and ``sample_len``)."""
        payload = bytes(payload)
        if len(payload) != INFO_LEN:
            raise ProtocolError(f"INFO payload must be {INFO_LEN} bytes, not {len(payload)}")
        ver, enc, in_bits, acc_bytes, n_in, n_cls, t, slen, nid, clk, baud, vbits, window = \
            struct.unpack(_INFO_FORMAT, payload)
        if ver != VERSION:  # first: another version may lay out the rest differently
            raise ProtocolError(f"INFO version must be {VERSION}, not {ver}")
        if enc not in (0, 1):
            raise ProtocolError(f"INFO encoding must be 0 or 1, not {enc}")
        info = cls("direct" if enc == 0 else "spikes", in_bits, acc_bytes, n_in, n_cls, t,
                   nid, clk, baud, vbits, window, ver)
        info.check()
        if info.sample_len != slen:
            raise ProtocolError(f"INFO sample_len must be {info.sample_len}, not {slen}")
        return info


def encode_sample(info: NetInfo, x) -> bytes:
    """INFER_REQ payload of one sample: ``[n_in]`` direct values or ``[T, n_in]`` spikes."""
    x = np.asarray(x)
    if x.dtype.kind not in "iub":
        raise TypeError(f"sample must hold integers, not dtype {x.dtype}")
    x = x.astype(np.int64)
    if info.encoding == "direct":
        hi = (1 << info.in_bits) - 1
        if x.shape != (info.n_in,):
            raise ValueError(f"direct sample must have shape [{info.n_in}], not {list(x.shape)}")
        if x.size and (x.min() < 0 or x.max() > hi):
            bad = int(x.min()) if x.min() < 0 else int(x.max())
            raise ValueError(f"direct sample values must lie in [0, {hi}], not {bad}")
        if info.value_bits == 4:  # value 2k in the low nibble of byte k, 2k+1 in the high
            v = np.append(x, [0] * (len(x) % 2)).astype(np.uint8)
            return (v[0::2] | v[1::2] << 4).tobytes()
        return x.astype("<u1" if info.value_bits == 8 else "<u2").tobytes()
    want = (info.timesteps, info.n_in)
    if x.shape != want:
        raise ValueError(f"spike sample must have shape {list(want)}, not {list(x.shape)}")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError("spike sample values must be 0 or 1")
    return np.packbits(x.astype(np.uint8), axis=1, bitorder="little").tobytes()


def decode_sample(info: NetInfo, payload: bytes) -> np.ndarray:
    """Inverse of :func:`encode_sample`; raises ProtocolError on a bad length or value."""
    payload = bytes(payload)
    if len(payload) != info.sample_len:
        raise ProtocolError(f"sample must be {info.sample_len} bytes, not {len(payload)}")
    if info.encoding == "direct":
        if info.value_bits == 4:
            b = np.frombuffer(payload, np.uint8).astype(np.int64)
            x = np.stack([b & 15, b >> 4], axis=1).reshape(-1)
            if x[info.n_in:].any():
                raise ProtocolError(f"padding nibble set at payload offset {len(b) - 1}")
            x = x[: info.n_in]
            per = 0.5
        else:
            x = np.frombuffer(payload, dtype="<u1" if info.value_bits == 8 else "<u2")
            x = x.astype(np.int64)
            per = info.value_bits // 8
        bad = np.flatnonzero(x >= (1 << info.in_bits))
        if bad.size:
            raise ProtocolError(f"direct value at payload offset {int(bad[0] * per)} is out "
                                "of range")
        return x
    rows = np.frombuffer(payload, np.uint8).reshape(info.timesteps, -1)
    bits = np.unpackbits(rows, axis=1, bitorder="little").astype(np.int64)
    if bits[:, info.n_in:].any():
        t, k = np.argwhere(bits[:, info.n_in:])[0]
        offset = int(t) * rows.shape[1] + (info.n_in + int(k)) // 8
        raise ProtocolError(f"spike padding bit set at payload offset {offset}")
    return bits[:, : info.n_in]


@dataclass(frozen=True)
class Result:
    """The RESULT payload: prediction, cycles and the per-class accumulators (int64)."""

    prediction: int
    cycles: int
    acc: np.ndarray


def encode_result(info: NetInfo, result: Result) -> bytes:
    """RESULT payload: the accumulators (``acc_bytes`` each), prediction (u16), cycles (u32)."""
    acc = np.asarray(result.acc, dtype=np.int64)
    bits = 8 * info.acc_bytes
    if acc.shape != (info.n_classes,):
        raise ValueError(f"acc must have shape [{info.n_classes}], not {list(acc.shape)}")
    if acc.size and (acc.min() < smin(bits) or acc.max() > smax(bits)):
        raise ValueError(f"acc values must fit {info.acc_bytes} signed bytes")
    body = b"".join(int(a).to_bytes(info.acc_bytes, "little", signed=True) for a in acc)
    return body + struct.pack("<HI", result.prediction, result.cycles)


def decode_result(info: NetInfo, payload: bytes) -> Result:
    payload = bytes(payload)
    if len(payload) != info.result_len:
        raise ProtocolError(f"RESULT payload must be {info.result_len} bytes, not {len(payload)}")
    n = info.acc_bytes
    acc = [int.from_bytes(payload[i * n: (i + 1) * n], "little", signed=True)
           for i in range(info.n_classes)]
    pred, cycles = struct.unpack_from("<HI", payload, info.n_classes * n)
    if pred >= info.n_classes:
        raise ProtocolError(f"RESULT prediction must be less than n_classes {info.n_classes}, "
                            f"not {pred}")
    return Result(pred, cycles, np.asarray(acc, dtype=np.int64))


@dataclass(frozen=True)
class ErrorReply:
    """The ERROR payload: code, the TYPE of the offending frame (0 if none) and an argument."""

    code: int
    type: int
    arg: int

    def to_payload(self) -> bytes:
        return struct.pack("<BBH", self.code, self.type, self.arg)

    @classmethod
    def from_payload(cls, payload: bytes) -> ErrorReply:
        payload = bytes(payload)
        if len(payload) != ERROR_LEN:
            raise ProtocolError(f"ERROR payload must be {ERROR_LEN} bytes, not {len(payload)}")
        code, ftype, arg = struct.unpack("<BBH", payload)
        if code not in {int(c) for c in ErrorCode}:
            raise ProtocolError(f"ERROR code must lie in [1, {int(max(ErrorCode))}], not {code}")
        return cls(code, ftype, arg)

    def describe(self) -> str:
        try:
            name = ErrorCode(self.code).name
        except ValueError:
            name = f"0x{self.code:02X}"
        return f"device error {name} (type 0x{self.type:02X}, arg {self.arg})"

