"""Transports for testing hosts without hardware: the board model in-process, and a line
that misbehaves on purpose.

* :class:`ModelTransport` answers what :class:`~.board_model.BoardModel` (golden
  arithmetic) says the board answers, at once, in the calling thread; time passes only in
  :meth:`~ModelTransport.read`, whose timeout counts as the device's ``T_idle`` when it
  is at least ``t_idle``. Deterministic and fast: no pty, no thread, no simulator.
* :class:`FaultyTransport` wraps any transport (the model, a serial port,
  :class:`~.transport.SimTransport`) and adds the faults a host must survive: an answer
  delivered twice, stale, foreign or broken bytes before an answer, a request lost or
  corrupted on its way.
"""

from __future__ import annotations

from ..ir import QuantizedNetwork
from ..protocol import FrameDecoder, ProtocolError, encode_frame
from .board_model import BoardModel, reply_frame
from .transport import Transport, _check_read

__all__ = ["ModelTransport", "FaultyTransport"]


class ModelTransport(Transport):
    """The golden board model behind the transport interface.

    Parameters
    ----------
    net : QuantizedNetwork
        The network the board runs.
    clk_hz : int
        What INFO reports.
    t_idle : float
        A ``read`` that finds nothing to return and waits at least this long is a quiet
        line for the model (it ends a drain or times out a partial frame).

    Attributes
    ----------
    received : bytearray
        Every byte the host sent.
    """

    def __init__(self, net: QuantizedNetwork, *, clk_hz: int = 12_000_000,
                 t_idle: float = 0.1):
        self.model = BoardModel(net, clk_hz=clk_hz)
        self.t_idle = float(t_idle)
        self.received = bytearray()
        self._out = bytearray()

    def _answer(self, replies) -> None:
        for reply in replies:
            self._out += reply_frame(self.model.info, reply)

    def write(self, data: bytes) -> None:
        self.received += bytes(data)
        self._answer(self.model.feed(data))

    def read(self, n: int, timeout: float) -> bytes:
        _check_read(n, timeout)
        if not self._out and timeout >= self.t_idle:
            self._answer(self.model.idle())
        out = bytes(self._out[:n])
        del self._out[:n]
        return out


class FaultyTransport(Transport):
    """A transport whose line misbehaves as told.

    Parameters
    ----------
    inner : Transport
        The real line.
    duplicate : iterable of int
        Answer frames, counted from 0 in the order they arrive, that arrive twice (the copy
        right after the frame).
    before : dict of int to bytes
        Bytes that arrive before anything else after write number ``k`` (counted from 0):
        stale, foreign or broken frames ahead of the answer to request ``k``.
    drop : iterable of int
        Writes (counted from 0) that never reach ``inner``: lost requests.
    corrupt : iterable of int
        Writes (counted from 0) that reach ``inner`` with their last byte's bits 1, 3, 4
        and 6 flipped: a request whose CRC no longer matches.

    Attributes
    ----------
    frames : int
        Answer frames seen from ``inner`` so far.
    """

    def __init__(self, inner: Transport, *, duplicate=(), before=None, drop=(), corrupt=()):
        self.inner = inner
        self.duplicate = {int(k) for k in duplicate}
        self.before = {int(k): bytes(v) for k, v in (before or {}).items()}
        self.drop = {int(k) for k in drop}
        self.corrupt = {int(k) for k in corrupt}
        self.frames = 0
        self._writes = 0
        self._queue = bytearray()
        self._decoder = FrameDecoder()

    def write(self, data: bytes) -> None:
        if self._writes in self.corrupt and data:
            data = bytes(data[:-1]) + bytes([data[-1] ^ 0x5A])
        if self._writes not in self.drop:
            self.inner.write(data)
        self._queue += self.before.get(self._writes, b"")
        self._writes += 1

    def read(self, n: int, timeout: float) -> bytes:
        _check_read(n, timeout)
        if not self._queue:
            data = self.inner.read(n, timeout)
            self._queue += data
            for frame in self._frames(data):
                if self.frames in self.duplicate:
                    self._queue += encode_frame(frame.type, frame.payload, frame.rid)
                self.frames += 1
        out = bytes(self._queue[:n])
        del self._queue[:n]
        return out

    def _frames(self, data: bytes) -> list:
        """The frames ``data`` completes (a broken one is passed on, not counted)."""
        frames = []
        for i in range(len(data)):
            chunk = data[i : i + 1]
            while True:
                try:
                    frames += self._decoder.feed(chunk)
                    break
                except ProtocolError:
                    chunk = b""
        return frames

    def close(self) -> None:
        self.inner.close()
