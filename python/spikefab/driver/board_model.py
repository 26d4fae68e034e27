"""Software model of a board running the protocol: what the device answers, byte for byte.

The gateware (``spikefab_hdl.board.framing`` and ``top``) and the C firmware are tested
against this model; the arithmetic comes from :mod:`spikefab.golden`. Time enters only
through :meth:`BoardModel.idle`, which stands for "the line was quiet for T_idle".
Cycle counts are hardware facts, so a modelled RESULT carries ``cycles=None``. Every
answer carries the request's ID; an ERROR carries the ID bytes that arrived (bytes that
did not are 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..golden import run_network
from ..ir import QuantizedNetwork
from ..protocol import (
    DEFAULT_BAUD,
    HEADER_LEN,
    SYNC,
    ErrorCode,
    ErrorReply,
    FrameType,
    NetInfo,
    Result,
    crc16,
    decode_sample,
    encode_frame,
    encode_result,
)

__all__ = ["Reply", "BoardModel", "expected_length", "first_bad_offset", "reply_frame"]


@dataclass(frozen=True)
class Reply:
    """A modelled answer: ``type``, the request id ``rid`` it echoes and, by type, ``info``,
    ``result`` or ``error``."""

    type: int
    rid: int = 0
    info: NetInfo | None = None
    result: Result | None = None
    error: ErrorReply | None = None


def expected_length(info: NetInfo, ftype: int) -> int | None:
    """LEN a request of type ``ftype`` must carry, or None for a type the device rejects."""
    if ftype == FrameType.INFO_REQ:
        return 0
    if ftype == FrameType.INFER_REQ:
        return info.sample_len
    return None


def reply_frame(info: NetInfo, reply: Reply, *, cycles: int = 0) -> bytes:
    """The bytes a device sends for ``reply``; a modelled RESULT reports ``cycles``."""
    if reply.type == FrameType.INFO:
        payload = reply.info.to_payload()
    elif reply.type == FrameType.ERROR:
        payload = reply.error.to_payload()
    else:
        res = reply.result
        payload = encode_result(info, Result(res.prediction, cycles, res.acc))
    return encode_frame(reply.type, payload, reply.rid)


def first_bad_offset(info: NetInfo, payload: bytes) -> int | None:
    """Payload offset of the first byte of the first out-of-range value, or None."""
    if info.encoding == "direct" and info.value_bits == 4:
        for k, byte in enumerate(payload):  # the padding nibble past n_in must be 0
            lo = byte & 15
            hi = byte >> 4 if 2 * k + 1 < info.n_in else byte >> 4 << info.in_bits
            if (lo | hi) >> info.in_bits:
                return k
        return None
    if info.encoding == "direct":
        vb = info.value_bits // 8
        for i in range(0, len(payload), vb):
            if int.from_bytes(payload[i : i + vb], "little") >> info.in_bits:
                return i
        return None
    row = -(-info.n_in // 8)
    pad = info.n_in % 8
    if pad == 0:
        return None
    for t in range(info.timesteps):
        offset = t * row + row - 1
        if payload[offset] >> pad:
            return offset
    return None


class BoardModel:
    """The device side of docs/protocol.md.

    Parameters
    ----------
    net : QuantizedNetwork
        The network built into the board.
    clk_hz : int
        The clock the INFO frame reports.
    baud : int
        The UART rate the INFO frame reports.
    pack : bool
        4-bit input two values per byte (INFO ``value_bits`` 4), as the board builds do.
    """

    def __init__(self, net: QuantizedNetwork, *, clk_hz: int, baud: int = DEFAULT_BAUD,
                 pack: bool = True):
        self.net = net
        self.info = NetInfo.from_network(net, clk_hz, baud=baud, pack=pack)
        self._reset()
        self._drain = False

    def _reset(self):
        self._state = "hunt"
        self._frame = bytearray()

    def _rid(self) -> int:
        """The request id as far as it arrived (missing bytes are 0)."""
        return int.from_bytes(bytes(self._frame[2:4]).ljust(2, b"\0"), "little")

    def _error(self, code: ErrorCode, arg: int) -> Reply:
        f = self._frame
        ftype, rid = (f[1] if len(f) > 1 else 0), self._rid()
        self._reset()
        self._drain = True
        return Reply(FrameType.ERROR, rid, error=ErrorReply(int(code), ftype, min(arg, 0xFFFF)))

    def idle(self) -> list[Reply]:
        """The line has been quiet for T_idle: end a drain, or time out a partial frame."""
        self._drain = False
        if self._state == "hunt":
            return []
        reply = self._error(ErrorCode.TIMEOUT, len(self._frame) - 1)
        self._drain = False
        return [reply]

    def uart_error(self) -> list[Reply]:
        """A byte arrived with a low stop bit (it is dropped)."""
        if self._drain or self._state == "hunt":
            return []
        return [self._error(ErrorCode.UART, len(self._frame) - 1)]

    def feed(self, data: bytes) -> list[Reply]:
        """Bytes received (no pause long enough for a timeout); return the answers."""
        replies = []
        for byte in bytes(data):
            if self._drain:
                continue
            if self._state == "hunt":
                if byte == SYNC:
                    self._state = "frame"
                    self._frame = bytearray([byte])
                continue
            self._frame.append(byte)
            reply = self._advance()
            if reply is not None:
                replies.append(reply)
        return replies

    def _advance(self) -> Reply | None:
        f = self._frame
        if len(f) == HEADER_LEN:
            ftype, length = f[1], f[4] | f[5] << 8
            need = expected_length(self.info, ftype)
            if need is None:
                return self._error(ErrorCode.TYPE, 0)
            if length != need:
                return self._error(ErrorCode.LENGTH, need)
            return None
        if len(f) < HEADER_LEN or len(f) != HEADER_LEN + 2 + (f[4] | f[5] << 8):
            return None
        body, crc = bytes(f[1:-2]), f[-2] << 8 | f[-1]
        ftype, rid, payload = f[1], self._rid(), bytes(f[HEADER_LEN:-2])
        want = crc16(body)
        if crc != want:
            return self._error(ErrorCode.CRC, want)
        if ftype == FrameType.INFO_REQ:
            self._reset()
            return Reply(FrameType.INFO, rid, info=self.info)
        bad = first_bad_offset(self.info, payload)
        if bad is not None:
            return self._error(ErrorCode.VALUE, bad)
        self._reset()
        return Reply(FrameType.RESULT, rid, result=self.infer(payload))

    def infer(self, payload: bytes) -> Result:
        """Golden result of one INFER_REQ payload (``cycles=None``)."""
        x = decode_sample(self.info, payload)
        batch = x[None, :] if self.info.encoding == "direct" else x[:, None, :]
        run = run_network(self.net, batch)
        return Result(int(run.prediction[0]), None, np.asarray(run.acc[0], dtype=np.int64))
