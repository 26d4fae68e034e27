"""Byte transports under :class:`~spikefab.driver.client.Board`: a serial port or the simulator.

Both offer the same two calls, so one driver drives a real board and the Verilator model
of the board top (DESIGN §5, rule 10):

* ``write(data)`` sends bytes;
* ``read(n, timeout)`` returns up to ``n`` bytes: as soon as ``n`` have arrived, or
  whatever arrived when ``timeout`` seconds have passed (``b""`` for a silent line).

:class:`SerialTransport` uses pyserial (wall-clock time). :class:`SimTransport` talks to
the ``bridge`` harness (``firmware/fil/bridge.cpp``, built by
``spikefab_hdl.sim.board_bridge.build_board_sim``) over a pipe; its seconds are simulated time,
``timeout * clk_hz`` clock cycles of the model, so a timeout costs no real waiting beyond
the simulation itself and runs are reproducible. Like pyserial's ``write`` + ``flush``,
``write`` returns once the bytes are out on the line.
"""

from __future__ import annotations

import math
import struct
import subprocess
from pathlib import Path

from ..fixed import is_int, is_number
from ..protocol import DEFAULT_BAUD, MAX_BAUD, MIN_BAUD

__all__ = ["Transport", "SerialTransport", "SimTransport", "TransportError"]


class TransportError(OSError):
    """The serial port or the simulator process failed."""


class Transport:
    """The interface: ``write``, ``read``, ``close``; usable as a context manager."""

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, n: int, timeout: float) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _check_read(n, timeout) -> None:
    if not is_int(n) or n < 1:
        raise ValueError(f"n must be a positive integer, not {n!r}")
    if not is_number(timeout) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")


class SerialTransport(Transport):
    """A serial port through pyserial (8N1, no flow control).

    Parameters
    ----------
    port : str
        Device path (``/dev/ttyUSB1``, ``/dev/ttyACM0``, a pseudo-terminal, ...).
    baud : int
        Line rate in [MIN_BAUD, MAX_BAUD]: the board's (INFO ``baud``; the builds default
        to 115,200).
    """

    def __init__(self, port: str, baud: int = DEFAULT_BAUD):
        import serial

        if not is_int(baud) or not MIN_BAUD <= baud <= MAX_BAUD:
            raise ValueError(f"baud must be an integer in [{MIN_BAUD}, {MAX_BAUD}], not {baud!r}")
        self.baud = int(baud)
        try:
            self._ser = serial.Serial(port, baud, bytesize=8, parity="N", stopbits=1,
                                      timeout=0.1, write_timeout=5.0)
        except (serial.SerialException, OSError) as e:
            raise TransportError(f"cannot open serial port {port}: {e}") from None
        self._ser.reset_input_buffer()

    def write(self, data: bytes) -> None:
        import serial

        try:
            self._ser.write(bytes(data))
            self._ser.flush()
        except (serial.SerialException, OSError) as e:
            raise TransportError(f"serial write failed: {e}") from None

    def read(self, n: int, timeout: float) -> bytes:
        import serial

        _check_read(n, timeout)
        if self._ser.timeout != timeout:  # pyserial reconfigures the port on every change
            self._ser.timeout = timeout
        try:
            return bytes(self._ser.read(n))
        except (serial.SerialException, OSError) as e:
            raise TransportError(f"serial read failed: {e}") from None

    def close(self) -> None:
        self._ser.close()


class SimTransport(Transport):
    """The Verilator model of the board top behind the ``bridge`` harness.

    Parameters
    ----------
    exe : path
        The bridge executable.
    clk_hz : int
        The model's clock: seconds of ``read`` timeouts become ``timeout * clk_hz`` cycles.
    divisor : int or Fraction
        Clock cycles per UART bit the design was built with.
    args : tuple of str
        Arguments before the divisor (``("bridge",)`` for ``board_sim``).
    """

    def __init__(self, exe, *, clk_hz: int, divisor, args: tuple = ()):
        exe = Path(exe)
        if not exe.is_file():
            raise TransportError(f"simulation bridge {exe} does not exist; build it with "
                                 "spikefab_hdl.sim.board_bridge.build_board_sim")
        self.clk_hz = int(clk_hz)
        self.cycles = 0  # simulated clock cycles so far
        self._proc = subprocess.Popen([str(exe), *args, str(divisor)],  # "N" or "P/Q"
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def _send(self, data: bytes) -> None:
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise TransportError(f"simulation bridge died: {e}") from None

    def _recv(self, n: int) -> bytes:
        data = self._proc.stdout.read(n)
        if data is None or len(data) != n:
            raise TransportError(f"simulation bridge died (exit {self._proc.poll()})")
        return data

    def write(self, data: bytes) -> None:
        """Send ``data``; simulated time runs until the last stop bit is out."""
        data = bytes(data)
        self._send(b"W" + struct.pack("<I", len(data)) + data)
        self.cycles += struct.unpack("<Q", self._recv(8))[0]

    def write_bad_stop(self, byte: int) -> None:
        """Send one character whose stop bit is low (a UART framing fault)."""
        self._send(b"E" + bytes([byte]))
        self.cycles += struct.unpack("<Q", self._recv(8))[0]

    def connect(self, on: bool) -> None:
        """Cut (False) or restore (True) the board's tx line: a silent board."""
        self._send(b"C" + bytes([1 if on else 0]))

    def read(self, n: int, timeout: float) -> bytes:
        _check_read(n, timeout)
        self._send(b"R" + struct.pack("<IQ", n, max(1, math.ceil(timeout * self.clk_hz))))
        (k,) = struct.unpack("<I", self._recv(4))
        data = self._recv(k) if k else b""
        (ran,) = struct.unpack("<Q", self._recv(8))
        self.cycles += ran
        return data

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.stdin.write(b"Q")
                self._proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc.stdout.close()
