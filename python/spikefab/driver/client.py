"""The host side of docs/protocol.md over any :class:`~.transport.Transport`.

>>> with Board(SerialTransport("/dev/ttyUSB1")) as board:   # doctest: +SKIP
...     board.info().n_classes
...     board.infer(x).prediction

The same code drives the Verilator model (:class:`~.transport.SimTransport`). One request
at a time, each with its own request id (``ID``); a frame that is not an answer carrying
the outstanding request's id (a stale or duplicated answer, a foreign frame, an echo of
the request) is discarded and counted (:attr:`Board.discarded`), and the wait goes on.
Every failure (a timeout, an ERROR answer, a broken answer) is followed by
:meth:`Board.recover` (wait until the line has been quiet for ``idle`` seconds, so the
device has left its drain) before it is raised, so the next request starts clean.
"""

from __future__ import annotations

import logging
import secrets

from ..fixed import is_int, is_number
from ..protocol import (
    ANSWER_TYPES,
    Frame,
    FrameDecoder,
    FrameType,
    NetInfo,
    ProtocolError,
    Result,
    decode_result,
    encode_frame,
    encode_sample,
    next_rid,
)
from ..protocol import ErrorReply as _ErrorReply

__all__ = ["Board", "BoardTimeout", "DeviceError"]

#: Bytes read while waiting for one answer before giving up on a line that never frames.
READ_BUDGET = 4 * (0xFFFF + 8)
_log = logging.getLogger(__name__)


class BoardTimeout(TimeoutError):
    """No complete answer: the line stayed silent for ``timeout`` seconds."""


class DeviceError(RuntimeError):
    """The board answered with an ERROR frame; ``error`` holds its payload."""

    def __init__(self, error: _ErrorReply, request: str):
        self.error = error
        super().__init__(f"board rejected {request}: {error.describe()}")


def _positive(name, value) -> float:
    if not is_number(value) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


def _describe(frame: Frame) -> str:
    try:
        name = FrameType(frame.type).name
    except ValueError:
        name = f"type 0x{frame.type:02X}"
    return f"{name} id {frame.rid}"


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
    first_id : int, optional
        The first request's id, in [1, 65535] (default: a random one, so a restarted host
        does not take a late answer to its previous run for its own); then 1 more each
        request, 65535 wrapping to 1.

    Attributes
    ----------
    discarded : int
        Frames received that answered no outstanding request, so far.
    """

    def __init__(self, transport, *, timeout: float = 1.0, idle: float = 0.15,
                 first_id: int | None = None):
        self.transport = transport
        self.timeout = _positive("timeout", timeout)
        self.idle = _positive("idle", idle)
        if first_id is None:
            first_id = secrets.randbelow(0xFFFF) + 1
        if not is_int(first_id) or \
                not 1 <= first_id <= 0xFFFF:
            raise ValueError(f"first_id must be an integer in [1, 65535], not {first_id!r}")
        self.next_id = int(first_id)
        self.discarded = 0
        self._info: NetInfo | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.transport.close()

    # -- requests -------------------------------------------------------------------

    def info(self) -> NetInfo:
        """Ask for INFO (and keep it: :meth:`infer` encodes samples with it)."""
        frame = self.request(FrameType.INFO_REQ, b"", want=FrameType.INFO, name="INFO_REQ")
        try:
            self._info = NetInfo.from_payload(frame.payload)
        except ProtocolError:
            self.recover()
            raise
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

    def take_id(self) -> int:
        """The id for the next request (and advance)."""
        rid, self.next_id = self.next_id, next_rid(self.next_id)
        return rid

    def request(self, ftype: int, payload: bytes, *, want: int, name: str | None = None):
        """Send one frame with the next request id and return the answer frame of type
        ``want`` that carries that id.

        Raises
        ------
        BoardTimeout
            No complete answer.
        DeviceError
            The board answered ERROR.
        ProtocolError
            The answer had a bad CRC, another type than ``want`` or a malformed ERROR payload.
        """
        name = name or f"frame type 0x{ftype:02X}"
        rid = self.take_id()
        self.transport.write(encode_frame(ftype, payload, rid))
        return self.read_answer(rid, want=want, name=name)

    def read_answer(self, rid: int, *, want: int, name: str = "the request") -> Frame:
        """Read the answer to request ``rid`` (after a request written by hand); see
        :meth:`request`. Frames that do not answer it are discarded and counted."""
        decoder, got, skipped = FrameDecoder(), 0, []
        answer = None
        try:
            while answer is None:
                data = self.transport.read(decoder.needed, self.timeout)
                if not data:
                    more = (f"; discarded {len(skipped)} frame(s) not answering it: "
                            + ", ".join(skipped[:3])) if skipped else ""
                    raise BoardTimeout(
                        f"no answer from the board to {name} (id {rid}): silent for "
                        f"{self.timeout:g} s after {got} bytes{more}")
                got += len(data)
                for frame in decoder.feed(data):
                    if answer is None and frame.type in ANSWER_TYPES and frame.rid == rid:
                        answer = frame
                    else:
                        self.discarded += 1
                        skipped.append(_describe(frame))
                        _log.warning("discarded %s while waiting for the answer to %s (id %d)",
                                     skipped[-1], name, rid)
                if answer is None and got > READ_BUDGET:
                    raise ProtocolError(f"no answer frame to {name} (id {rid}) in {got} bytes")
            if answer.type == FrameType.ERROR:
                raise DeviceError(_ErrorReply.from_payload(answer.payload), name)
            if answer.type != want:
                raise ProtocolError(f"answer to {name} (id {rid}) must be of type 0x{want:02X} "
                                    f"or ERROR, not 0x{answer.type:02X}")
        except (BoardTimeout, DeviceError, ProtocolError):
            self.recover()
            raise
        return answer

    def recover(self) -> None:
        """Discard bytes until the line has been quiet for ``idle`` seconds."""
        seen = 0
        while seen <= READ_BUDGET:
            data = self.transport.read(256, self.idle)
            if not data:
                return
            seen += len(data)
        raise ProtocolError(f"the line never went quiet ({seen} bytes discarded)")
