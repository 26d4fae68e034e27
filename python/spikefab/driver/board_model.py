"""Software model of a board running the protocol: what the device answers, byte for byte.

The gateware (``spikefab_hdl.board.framing`` and ``top``) and the C firmware are tested
against this model; the arithmetic comes from :mod:`spikefab.golden`. Time enters only
through :meth:`BoardModel.idle`, which stands for "the line was quiet for T_idle".
Cycle counts are hardware facts, so a modelled RESULT carries ``cycles=None``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..golden import run_network
from ..ir import QuantizedNetwork
from ..protocol import (
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
    expected_length,
    value_bytes,
)

__all__ = ["Reply", "BoardModel", "first_bad_offset", "reply_frame"]


@dataclass(frozen=True)
class Reply:
    """A modelled answer: ``type`` and, by type, ``info``, ``result`` or ``error``."""

    type: int
    info: NetInfo | None = None
    result: Result | None = None
    error: ErrorReply | None = None


def reply_frame(info: NetInfo, reply: Reply, *, cycles: int = 0) -> bytes:
    """The bytes a device sends for ``reply``; a modelled RESULT reports ``cycles``."""
    if reply.type == FrameType.INFO:
        payload = reply.info.to_payload()
    elif reply.type == FrameType.ERROR:
        payload = reply.error.to_payload()
    else:
        res = reply.result
        payload = encode_result(info, Result(res.prediction, cycles, res.acc))
    return encode_frame(reply.type, payload)


def first_bad_offset(info: NetInfo, payload: bytes) -> int | None:
    """Payload offset of the first byte of the first out-of-range value, or None."""
    if info.encoding == "direct":
        vb = value_bytes(info.in_bits)
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
    """

    def __init__(self, net: QuantizedNetwork, *, clk_hz: int):
        self.net = net
        self.info = NetInfo.from_network(net, clk_hz)
        self._reset()
        self._drain = False

    def _reset(self):
        self._state = "hunt"
        self._frame = bytearray()

    def _error(self, code: ErrorCode, ftype: int, arg: int) -> Reply:
        self._reset()
        self._drain = True
        return Reply(FrameType.ERROR, error=ErrorReply(int(code), ftype, min(arg, 0xFFFF)))

    def idle(self) -> list[Reply]:
        """The line has been quiet for T_idle: end a drain, or time out a partial frame."""
        self._drain = False
        if self._state == "hunt":
            return []
        got = len(self._frame) - 1
        ftype = self._frame[1] if got >= 1 else 0
        reply = self._error(ErrorCode.TIMEOUT, ftype, got)
        self._drain = False
        return [reply]

    def uart_error(self) -> list[Reply]:
        """A byte arrived with a low stop bit (it is dropped)."""
        if self._drain or self._state == "hunt":
            return []
        got = len(self._frame) - 1
        return [self._error(ErrorCode.UART, self._frame[1] if got >= 1 else 0, got)]

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
        if len(f) == 4:
            ftype, length = f[1], f[2] | f[3] << 8
            need = expected_length(self.info, ftype)
            if need is None:
                return self._error(ErrorCode.TYPE, ftype, 0)
            if length != need:
                return self._error(ErrorCode.LENGTH, ftype, need)
            return None
        if len(f) < 6 or len(f) != 6 + (f[2] | f[3] << 8):
            return None
        body, crc = bytes(f[1:-2]), f[-2] << 8 | f[-1]
        ftype, payload = f[1], bytes(f[4:-2])
        want = crc16(body)
        if crc != want:
            return self._error(ErrorCode.CRC, ftype, want)
        self._reset()
        if ftype == FrameType.INFO_REQ:
            return Reply(FrameType.INFO, info=self.info)
        bad = first_bad_offset(self.info, payload)
        if bad is not None:
            return self._error(ErrorCode.VALUE, ftype, bad)
        return Reply(FrameType.RESULT, result=self.infer(payload))

    def infer(self, payload: bytes) -> Result:
        """Golden result of one INFER_REQ payload (``cycles=None``)."""
        x = decode_sample(self.info, payload)
        batch = x[None, :] if self.info.encoding == "direct" else x[:, None, :]
        run = run_network(self.net, batch)
        return Result(int(run.prediction[0]), None, np.asarray(run.acc[0], dtype=np.int64))
