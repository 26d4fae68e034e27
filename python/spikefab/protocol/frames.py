"""Frames of the board protocol (docs/protocol.md): constants, types, CRC, encode/decode.

A frame on the wire::

    SYNC(0xA5) | TYPE(1) | ID(2) | LEN(2) | PAYLOAD(LEN) | CRC(2, high byte first)

``ID`` and ``LEN`` are little-endian. ``ID`` is the request id: the host picks it (never
0), the board echoes it in the answer. ``CRC`` is CRC-16/CCITT-FALSE (polynomial 0x1021,
initial value 0xFFFF, no reflection, no final XOR) over ``TYPE``, ``ID``, ``LEN`` and
``PAYLOAD``. Sent high byte first, the CRC over ``TYPE .. CRC`` is 0 for every good frame.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ..fixed import is_int

__all__ = [
    "SYNC", "VERSION", "MAX_PAYLOAD", "HEADER_LEN", "FRAME_OVERHEAD", "INFO_LEN", "ERROR_LEN",
    "RESULT_TAIL_LEN", "MAX_ACC_BYTES", "DEFAULT_BAUD", "MIN_BAUD", "MAX_BAUD",
    "BOARD_WINDOW", "MAX_WINDOW", "ANSWER_TYPES",
    "FrameType", "ErrorCode", "ProtocolError", "Frame", "crc16", "encode_frame",
    "decode_frame", "FrameDecoder", "next_rid",
]

SYNC = 0xA5
VERSION = 4
MAX_PAYLOAD = 0xFFFF
#: SYNC, TYPE, ID, LEN; a frame is the header, the payload and the 2-byte CRC.
HEADER_LEN = 6
FRAME_OVERHEAD = HEADER_LEN + 2
#: Fixed payload lengths.
INFO_LEN = 26
ERROR_LEN = 4
#: RESULT payload after the accumulators: prediction (u16) + cycles (u32).
RESULT_TAIL_LEN = 6
#: Largest ``acc_bytes`` (the accumulators are int64).
MAX_ACC_BYTES = 8
#: UART rates: the board builds' default, and the range the builds, the INFO rules and both
#: drivers accept (3 Mbaud: the most the boards' FTDI bridges run).
DEFAULT_BAUD = 115_200
MIN_BAUD = 9_600
MAX_BAUD = 3_000_000
#: Requests a board build accepts outstanding (INFO ``window``): one running, one received
#: into the second sample buffer meanwhile.
BOARD_WINDOW = 2
#: Largest ``window`` a host accepts in INFO.
MAX_WINDOW = 16
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
