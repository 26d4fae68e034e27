"""The host side of docs/protocol.md over any :class:`~.transport.Transport`.

>>> with Board(SerialTransport("/dev/ttyUSB1")) as board:   # doctest: +SKIP
...     board.info().n_classes
...     board.infer(x).prediction

The same code drives the Verilator model (:class:`~.transport.SimTransport`). One request
at a time; every failure (a timeout, an ERROR answer, a broken answer frame) is followed
by :meth:`Board.recover` (wait until the line has been quiet for ``idle`` seconds, so the
device has left its drain) before it is raised, so the next request starts clean.
"""

from __future__ import annotations

from ..protocol import (
    ERROR_LEN,
    INFO_LEN,
    FrameDecoder,
    FrameType,
    NetInfo,
    ProtocolError,
    Result,
    decode_result,
    encode_frame,
    encode_sample,
)
from ..protocol import ErrorReply as _ErrorReply

__all__ = ["Board", "BoardTimeout", "DeviceError"]

#: Bytes read while waiting for one answer before giving up on a line that never frames.
READ_BUDGET = 4 * (0xFFFF + 6)


class BoardTimeout(TimeoutError):
    """No complete answer: the line stayed silent for ``timeout`` seconds."""


class DeviceError(RuntimeError):
    """The board answered with an ERROR frame; ``error`` holds its payload."""

    def __init__(self, error: _ErrorReply, request: str):
        self.error = error
        super().__init__(f"board rejected {request}: {error.describe()}")


def _positive(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


class Board:
    """A board running the spikefab board top.

    Parameters
    ----------
    transport : Transport
        Where the bytes go (a serial port or the simulator).
    timeout : float
        Longest silence in seconds while waiting for an answer (covers the inference).
    idle : float
        Quiet time that ends the device's drain after an error: its ``T_idle`` plus margin
        (board builds: 0.1 s, so 0.15 s).
    """

    def __init__(self, transport, *, timeout: float = 1.0, idle: float = 0.15):
        self.transport = transport
        self.timeout = _positive("timeout", timeout)
        self.idle = _positive("idle", idle)
        self._info: NetInfo | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.transport.close()

    # -- requests -------------------------------------------------------------------

    def info(self) -> NetInfo:
        """Ask for INFO (and keep it: :meth:`infer` encodes samples with it)."""
        frame = self.request(FrameType.INFO_REQ, b"", want=FrameType.INFO, name="INFO_REQ")
        if len(frame.payload) != INFO_LEN:
            self.recover()
            raise ProtocolError(f"INFO payload must be {INFO_LEN} bytes, "
                                f"not {len(frame.payload)}")
        self._info = NetInfo.from_payload(frame.payload)
        return self._info

    def infer(self, x) -> Result:
        """Classify one sample: ``[n_in]`` direct values or ``[T, n_in]`` spikes."""
        info = self._info if self._info is not None else self.info()
        return self.infer_payload(encode_sample(info, x))

    def infer_payload(self, payload: bytes) -> Result:
        """Send an INFER_REQ with an already encoded sample; return the RESULT."""
        info = self._info if self._info is not None else self.info()
        frame = self.request(FrameType.INFER_REQ, payload, want=FrameType.RESULT,
                             name="INFER_REQ")
        try:
            return decode_result(info, frame.payload)
        except ProtocolError:
            self.recover()
            raise

    def request(self, ftype: int, payload: bytes, *, want: int, name: str | None = None):
        """Send one frame and return the answer frame of type ``want``.

        Raises
        ------
        BoardTimeout
            No complete answer.
        DeviceError
            The board answered ERROR.
        ProtocolError
            The answer had a bad CRC or another type than ``want``.
        """
        name = name or f"frame type 0x{ftype:02X}"
        self.transport.write(encode_frame(ftype, payload))
        return self.read_answer(want=want, name=name)

    def read_answer(self, *, want: int, name: str = "the request"):
        """Read the next answer frame (after a request written by hand); see :meth:`request`."""
        decoder, got = FrameDecoder(), 0
        try:
            while True:
                data = self.transport.read(decoder.needed, self.timeout)
                if not data:
                    raise BoardTimeout(
                        f"no answer from the board to {name}: silent for {self.timeout:g} s "
                        f"after {got} bytes")
                got += len(data)
                frames = decoder.feed(data)
                if frames:
                    break
                if got > READ_BUDGET:
                    raise ProtocolError(f"no answer frame to {name} in {got} bytes")
        except (BoardTimeout, ProtocolError):
            self.recover()
            raise
        frame = frames[0]
        if frame.type == FrameType.ERROR and len(frame.payload) == ERROR_LEN:
            self.recover()
            raise DeviceError(_ErrorReply.from_payload(frame.payload), name)
        if frame.type != want or len(frames) > 1 or decoder.pending:
            self.recover()
            raise ProtocolError(f"answer to {name} must be one frame of type 0x{want:02X}, "
                                f"not type 0x{frame.type:02X}")
        return frame

    def recover(self) -> None:
        """Discard bytes until the line has been quiet for ``idle`` seconds."""
        seen = 0
        while seen <= READ_BUDGET:
            data = self.transport.read(256, self.idle)
            if not data:
                return
            seen += len(data)
        raise ProtocolError(f"the line never went quiet ({seen} bytes discarded)")
