"""The board's UART framing protocol (docs/protocol.md): frames, CRC and payload codecs.

Pure Python and NumPy; no torch, no amaranth. The gateware (``spikefab_hdl.board.framing``)
imports the constants below, the C firmware restates them, and both are tested against
this module.

A frame on the wire::

    SYNC(0xA5) | TYPE(1) | ID(2) | LEN(2) | PAYLOAD(LEN) | CRC(2, high byte first)

``ID`` and ``LEN`` are little-endian. ``ID`` is the request id: the host picks it (never
0), the board echoes it in the answer. ``CRC`` is CRC-16/CCITT-FALSE (polynomial 0x1021,
initial value 0xFFFF, no reflection, no final XOR) over ``TYPE``, ``ID``, ``LEN`` and
``PAYLOAD``. Sent high byte first, the CRC over ``TYPE .. CRC`` is 0 for every good frame.
"""

from __future__ import annotations

import enum
import hashlib
import json
import struct
from dataclasses import dataclass

import numpy as np

from .fixed import is_int, smax, smin
from .ir import QuantizedNetwork

__all__ = [
    "SYNC", "VERSION", "MAX_PAYLOAD", "HEADER_LEN", "FRAME_OVERHEAD", "INFO_LEN", "ERROR_LEN",
    "RESULT_TAIL_LEN", "MAX_ACC_BYTES", "ANSWER_TYPES", "FrameType", "ErrorCode",
    "ProtocolError", "Frame", "NetInfo", "Result", "ErrorReply", "crc16", "encode_frame",
    "decode_frame", "FrameDecoder", "next_rid", "network_id", "value_bytes", "encode_sample",
    "decode_sample", "encode_result", "decode_result",
]

SYNC = 0xA5
VERSION = 2
MAX_PAYLOAD = 0xFFFF
#: SYNC, TYPE, ID, LEN; a frame is the header, the payload and the 2-byte CRC.
HEADER_LEN = 6
FRAME_OVERHEAD = HEADER_LEN + 2
#: Fixed payload lengths.
INFO_LEN = 20
ERROR_LEN = 4
#: RESULT payload after the accumulators: prediction (u16) + cycles (u32).
RESULT_TAIL_LEN = 6
#: Largest ``acc_bytes`` (the accumulators are int64).
MAX_ACC_BYTES = 8
CRC_INIT = 0xFFFF
CRC_POLY = 0x1021


class FrameType(enum.IntEnum):
    """``TYPE`` byte. Requests come from the host; a response is ``request | 0x80``."""

    INFO_REQ = 0x01
    INFER_REQ = 0x02
    INFO = 0x81
    RESULT = 0x82
    ERROR = 0xFF


#: The TYPEs a board sends; any other frame a host receives is not an answer.
ANSWER_TYPES = frozenset({FrameType.INFO, FrameType.RESULT, FrameType.ERROR})


class ErrorCode(enum.IntEnum):
    """First byte of an ERROR payload."""

    CRC = 0x01  #: CRC mismatch; arg = the CRC the device computed
    TYPE = 0x02  #: unknown TYPE; arg = 0
    LENGTH = 0x03  #: LEN is not what TYPE needs; arg = the required length
    VALUE = 0x04  #: an input value out of range; arg = payload offset of its first byte
    TIMEOUT = 0x05  #: frame incomplete when the line went idle; arg = bytes received after SYNC
    UART = 0x06  #: a UART stop bit was low inside a frame; arg = bytes received after SYNC


class ProtocolError(ValueError):
    """A frame or payload that breaks docs/protocol.md."""


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    """CRC-16/CCITT-FALSE of ``data`` from ``crc``; ``crc16(b"123456789") == 0x29B1``."""
    for byte in bytes(data):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLY) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its type byte (an int; may be unknown), payload and request id."""

    type: int
    payload: bytes
    rid: int = 0


def _check_u(name: str, value, hi: int) -> None:
    if not is_int(value) or not 0 <= value <= hi:
        raise ValueError(f"{name} must be an integer in [0, {hi}], not {value!r}")


def encode_frame(ftype: int, payload: bytes = b"", rid: int = 0) -> bytes:
    """The bytes of one frame: TYPE byte ``ftype``, request id ``rid`` (u16), ``payload``."""
    _check_u("frame type", ftype, 0xFF)
    _check_u("request id", rid, 0xFFFF)
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload length must be at most {MAX_PAYLOAD}, not {len(payload)}")
    body = struct.pack("<BHH", ftype, rid, len(payload)) + payload
    return bytes([SYNC]) + body + struct.pack(">H", crc16(body))


def decode_frame(data: bytes) -> tuple[Frame, bytes]:
    """Decode the frame at the start of ``data``; return it and the bytes after it.

    Raises :class:`ProtocolError` when ``data`` does not start with SYNC, is shorter than
    the frame, or the CRC fails."""
    data = bytes(data)
    if not data or data[0] != SYNC:
        got = f"0x{data[0]:02X}" if data else "nothing"
        raise ProtocolError(f"frame must start with SYNC 0x{SYNC:02X}, not {got}")
    if len(data) < FRAME_OVERHEAD:
        raise ProtocolError(f"frame is truncated: {len(data)} bytes, a frame has at least "
                            f"{FRAME_OVERHEAD}")
    ftype, rid, length = struct.unpack_from("<BHH", data, 1)
    end = length + FRAME_OVERHEAD
    if len(data) < end:
        raise ProtocolError(f"frame is truncated: LEN {length} needs {end} bytes, got {len(data)}")
    (crc,) = struct.unpack_from(">H", data, end - 2)
    want = crc16(data[1 : end - 2])
    if crc != want:
        raise ProtocolError(f"frame CRC must be 0x{want:04X}, not 0x{crc:04X}")
    return Frame(ftype, data[HEADER_LEN : end - 2], rid), data[end:]


class FrameDecoder:
    """Incremental decoder for a byte stream (what a host reads from the serial port).

    Bytes before a SYNC are skipped. :meth:`feed` returns every complete frame so far;
    a frame with a bad CRC raises :class:`ProtocolError` and the decoder resumes hunting
    for SYNC one byte after the bad frame's SYNC.
    """

    def __init__(self):
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held, waiting for the rest of a frame."""
        return len(self._buf)

    @property
    def needed(self) -> int:
        """Bytes still missing from the frame in progress (at least 1)."""
        if len(self._buf) < HEADER_LEN:
            return FRAME_OVERHEAD - len(self._buf)
        length = struct.unpack_from("<H", self._buf, 4)[0]
        return max(1, length + FRAME_OVERHEAD - len(self._buf))

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += bytes(data)
        frames = []
        while True:
            start = self._buf.find(SYNC)
            if start < 0:
                self._buf.clear()
                return frames
            del self._buf[:start]
            if len(self._buf) < HEADER_LEN:
                return frames
            size = struct.unpack_from("<H", self._buf, 4)[0] + FRAME_OVERHEAD
            if len(self._buf) < size:
                return frames
            try:
                frame, _ = decode_frame(self._buf[:size])
            except ProtocolError:
                del self._buf[:1]
                raise
            del self._buf[:size]
            frames.append(frame)


def next_rid(rid: int) -> int:
    """The request id after ``rid``: 1, 2, ..., 65535, 1, ... (0 is never a request's)."""
    return rid % 0xFFFF + 1


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
    """Bytes per direct input value on the wire: 1 for ``in_bits <= 8``, else 2."""
    return 1 if in_bits <= 8 else 2


@dataclass(frozen=True)
class NetInfo:
    """The INFO payload: what the board's network expects and returns.

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
    version: int = VERSION

    @classmethod
    def from_network(cls, net: QuantizedNetwork, clk_hz: int) -> NetInfo:
        spec = net.spec
        info = cls(spec.encoding, spec.in_bits, -(-net.acc_bits() // 8), spec.n_in,
                   spec.n_classes, spec.timesteps, network_id(net), int(clk_hz))
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
            return self.n_in * value_bytes(self.in_bits)
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
        for name, ok, allowed in (
            ("version", self.version == VERSION, f"be {VERSION}"),
            ("in_bits", lo <= self.in_bits <= hi,
             "lie in [1, 16] for direct input" if direct else "be 1 for spike input"),
            ("acc_bytes", 1 <= self.acc_bytes <= MAX_ACC_BYTES,
             f"lie in [1, {MAX_ACC_BYTES}]"),
            ("n_in", self.n_in >= 1, "be at least 1"),
            ("n_classes", self.n_classes >= 1, "be at least 1"),
            ("timesteps", self.timesteps >= 1, "be at least 1"),
            ("clk_hz", self.clk_hz >= 1, "be at least 1"),
        ):
            if not ok:
                raise ProtocolError(f"INFO {name} must {allowed}, not {getattr(self, name)}")
        if self.result_len > MAX_PAYLOAD:
            raise ProtocolError(f"INFO n_classes * acc_bytes + 6 must be at most 65535, not "
                                f"{self.result_len}")

    def to_payload(self) -> bytes:
        enc = 0 if self.encoding == "direct" else 1
        return struct.pack("<BBBBHHHHII", self.version, enc, self.in_bits, self.acc_bytes,
                           self.n_in, self.n_classes, self.timesteps, self.sample_len,
                           self.net_id, self.clk_hz)

    @classmethod
    def from_payload(cls, payload: bytes) -> NetInfo:
        """Decode and check an INFO payload (every rule of :meth:`check`, and ``sample_len``)."""
        payload = bytes(payload)
        if len(payload) != INFO_LEN:
            raise ProtocolError(f"INFO payload must be {INFO_LEN} bytes, not {len(payload)}")
        ver, enc, in_bits, acc_bytes, n_in, n_cls, t, slen, nid, clk = struct.unpack(
            "<BBBBHHHHII", payload)
        if ver != VERSION:  # first: another version may lay out the rest differently
            raise ProtocolError(f"INFO version must be {VERSION}, not {ver}")
        if enc not in (0, 1):
            raise ProtocolError(f"INFO encoding must be 0 or 1, not {enc}")
        info = cls("direct" if enc == 0 else "spikes", in_bits, acc_bytes, n_in, n_cls, t,
                   nid, clk, ver)
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
        dtype = "<u1" if value_bytes(info.in_bits) == 1 else "<u2"
        return x.astype(dtype).tobytes()
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
        dtype = "<u1" if value_bytes(info.in_bits) == 1 else "<u2"
        x = np.frombuffer(payload, dtype=dtype).astype(np.int64)
        bad = np.flatnonzero(x >= (1 << info.in_bits))
        if bad.size:
            raise ProtocolError(f"direct value at payload offset "
                                f"{int(bad[0]) * value_bytes(info.in_bits)} is out of range")
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

