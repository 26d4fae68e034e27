"""A software board on a pseudo-terminal: the host tools without hardware or a simulator.

:class:`PtyBoard` opens a pty pair and answers on it, byte for byte, what
:class:`~.board_model.BoardModel` (golden arithmetic) says the board answers; a quiet line
for ``t_idle`` seconds counts as the device's ``T_idle``. Point the POSIX host example
(``build/firmware/sfp_host``) or :class:`~.transport.SerialTransport` at :attr:`path`.
RESULT frames report 0 cycles (the model has no clock). ``silent=True`` makes a board
that reads everything and never answers, ``twice=True`` one that sends every answer
twice (the hosts must take the copy for no later request's answer).
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty

from ..ir import QuantizedNetwork
from .board_model import BoardModel, reply_frame

__all__ = ["PtyBoard"]


class PtyBoard:
    """Serve :class:`BoardModel` on a pseudo-terminal in a background thread.

    Parameters
    ----------
    net : QuantizedNetwork
        The network the board runs.
    clk_hz : int
        What INFO reports.
    t_idle : float
        Seconds of silence that end a drain or time out a partial frame.
    silent : bool
        Never answer.
    twice : bool
        Send every answer twice.
    """

    def __init__(self, net: QuantizedNetwork, *, clk_hz: int = 12_000_000,
                 t_idle: float = 0.02, silent: bool = False, twice: bool = False):
        self.model = BoardModel(net, clk_hz=clk_hz)
        self.t_idle = float(t_idle)
        self.silent = silent
        self.twice = twice
        self.received = bytearray()  # every byte the host sent
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> PtyBoard:
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self._master)
        os.close(self._slave)

    def _answer(self, replies) -> None:
        if self.silent:
            return
        for reply in replies:
            os.write(self._master, reply_frame(self.model.info, reply) * (2 if self.twice else 1))

    def _serve(self) -> None:
        # The idle timer runs on the clock, not on select's wake-ups, so a late-scheduled
        # thread still sees a quiet line as quiet when the next bytes arrive.
        last = time.monotonic()
        quiet = False  # model.idle() already ran for this silence
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], self.t_idle)
            if not quiet and time.monotonic() - last >= self.t_idle:
                self._answer(self.model.idle())
                quiet = True
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:  # the host closed its side; wait for the next one
                self._stop.wait(self.t_idle)
                continue
            last, quiet = time.monotonic(), False
            self.received += data
            self._answer(self.model.feed(data))
