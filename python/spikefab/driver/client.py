"""The host side of docs/protocol.md over any :class:`~.transport.Transport`.

>>> with Board(SerialTransport("/dev/ttyUSB1")) as board:   # doctest: +SKIP
...     board.info().n_classes
...     board.infer(x).prediction

The same code drives the Verilator model (:class:`~.transport.SimTransport`). Each request
carries its own request id (``ID``); a frame that is not an answer carrying the awaited
request's id (a stale or duplicated answer, a foreign frame, an echo of the request) is
discarded and counted (:attr:`Board.discarded`), and the wait goes on. Every failure (a
timeout, an ERROR answer, a broken answer) is followed by :meth:`Board.recover` (wait
until the line has been quiet for ``idle`` seconds, so the device has left its drain)
before it is raised, so the next request starts clean.

:meth:`Board.infer` sends one request and waits for its answer; :meth:`Board.infer_many`
keeps up to INFO's ``window`` requests outstanding (the next sample on the wire while the
board computes), matches the answers in order and attributes every failure to its own
request.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque

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

    def infer_many(self, xs, *, window: int | None = None, errors: str = "raise") -> list:
        """Classify every sample of ``xs`` with up to ``window`` requests outstanding.

        ``window`` None: the board's (INFO ``window``); more than the board's is refused.
        Request ``k + window`` is sent once the answer to request ``k`` has arrived, so with
        a window of 2 the next sample is on the wire while the board computes. Answers come
        in request order; the first frame carrying the oldest outstanding request's id is
        its answer, every other frame is discarded and counted (:attr:`discarded`). A
        failure (a timeout, an ERROR answer, a broken answer) belongs to the oldest
        outstanding request: the host waits for a quiet line (:meth:`recover`), then sends
        the requests after it again with new ids (the board may have dropped them with the
        broken one; inference has no side effects).

        Parameters
        ----------
        xs : sequence
            Samples as :meth:`infer` takes them.
        window : int, optional
            Most requests outstanding, in [1, INFO ``window``].
        errors : str
            ``"raise"``: the first failure is raised (after recovery), ``"return"``: it
            takes its sample's place in the list.

        Returns
        -------
        list
            One :class:`Result` per sample, in order (or the exception, ``errors="return"``).
        """
        if errors not in ("raise", "return"):
            raise ValueError(f"errors must be 'raise' or 'return', not {errors!r}")
        info = self._info if self._info is not None else self.info()
        if window is None:
            window = info.window
        if not is_int(window) or not 1 <= window <= info.window:
            raise ValueError(f"window must be an integer in [1, {info.window}] (the board's "
                             f"INFO window), not {window!r}")
        payloads = [encode_sample(info, x) for x in xs]
        out: list = [None] * len(payloads)
        pending: deque[tuple[int, int]] = deque()  # (sample index, request id), oldest first
        decoder, sent = FrameDecoder(), 0
        while sent < len(payloads) or pending:
            while sent < len(payloads) and len(pending) < window:
                rid = self.take_id()
                self.transport.write(encode_frame(FrameType.INFER_REQ, payloads[sent], rid))
                pending.append((sent, rid))
                sent += 1
            k, rid = pending.popleft()
            try:
                frame = self._await(decoder, rid, want=FrameType.RESULT,
                                    name=f"INFER_REQ of sample {k}")
                out[k] = self._decode_result(info, frame)
            except (BoardTimeout, DeviceError, ProtocolError) as e:
                if errors == "raise":
                    raise
                out[k] = e
                decoder, sent = FrameDecoder(), k + 1  # the later ones again, new ids
                pending.clear()
        return out

    def _decode_result(self, info: NetInfo, frame: Frame) -> Result:
        try:
            return decode_result(info, frame.payload)
        except ProtocolError:
            self.recover()
            raise

    def infer_payload(self, payload: bytes) -> Result:
        """Send an INFER_REQ with an already encoded sample; return the RESULT."""
        info = self._info if self._info is not None else self.info()
        frame = self.request(FrameType.INFER_REQ, payload, want=FrameType.RESULT,
                             name="INFER_REQ")
        return self._decode_result(info, frame)

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
        return self._await(FrameDecoder(), rid, want=want, name=name)

    def _await(self, decoder: FrameDecoder, rid: int, *, want: int, name: str) -> Frame:
        """:meth:`read_answer` with the caller's decoder (it reads no byte past the answer,
        so the next answer's bytes stay on the line)."""
        got, skipped = 0, []
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
