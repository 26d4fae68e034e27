"""The board top in Verilator with a C++ harness on its UART pins (firmware/fil/).

One executable, ``board_sim``, built around ``firmware/fil/board_sim.hpp`` (the model
clocked from C++, a host transmitter on ``rx``, a receiver on ``tx``), has two modes:

* ``bridge``: the model behind a pipe, for the Python driver's
  :class:`spikefab.driver.transport.SimTransport` (:func:`open_bridge`);
* ``fil``: firmware in the loop, the C library (firmware/sfp*.c) linked to the model,
  classifying a file of samples with no Python in the loop (:func:`run_fil`).

:func:`build_board_sim` writes the board top's Verilog and compiles the executable, cached
by the SHA-256 of the Verilog, the harness sources and the build options.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from amaranth.back import verilog
from spikefab.atomic import atomic_write_text
from spikefab.driver.samples import write_samples_text
from spikefab.driver.transport import SimTransport
from spikefab.ir import QuantizedNetwork
from spikefab.protocol import DEFAULT_BAUD

from ..board.top import BoardTop
from . import verilator
from .verilator import Harness, VerilatorError

__all__ = ["FIRMWARE", "BoardSimBuild", "write_board_verilog", "build_board_sim",
           "open_bridge", "run_fil"]

FIRMWARE = Path(__file__).resolve().parents[3] / "firmware"
SOURCES = ("fil/main.cpp", "fil/fil.cpp", "fil/bridge.cpp", "sfp.c", "sfp_client.c",
           "sfp_text.c")
TOPLEVEL = "board_top"


@dataclass(frozen=True)
class BoardSimBuild:
    """A compiled harness: ``exe`` and the board parameters it was built with (``divisor``:
    clock cycles per UART bit, an int or an exact Fraction; ``baud``: what INFO reports)."""

    exe: Path
    clk_hz: int
    divisor: int | Fraction
    timeout_cycles: int
    build_seconds: float
    baud: int = DEFAULT_BAUD


def write_board_verilog(net: QuantizedNetwork, out_dir, *, clk_hz: int,
                        divisor: int | Fraction | None = None, timeout_cycles: int | None = None,
                        lanes: int = 4, baud: int = DEFAULT_BAUD,
                        pack: bool = True, in_pack: int = 1) -> tuple[BoardTop, Path]:
    """Write the board top's Verilog (module ``board_top``, 3 LEDs) to
    ``out_dir/board_top.v``, leaving an identical file untouched; return the top and path.
    ``divisor`` None: the bit time of ``baud`` at ``clk_hz``; ``timeout_cycles`` None: the
    board builds' ``T_idle``."""
    top = BoardTop(net=net, clk_hz=clk_hz, lanes=lanes, divisor=divisor, baud=baud,
                   timeout_cycles=timeout_cycles, n_leds=3, pack=pack, in_pack=in_pack)
    text = verilog.convert(top, name=TOPLEVEL)
    v_path = Path(out_dir) / f"{TOPLEVEL}.v"
    if not v_path.is_file() or v_path.read_text() != text:
        atomic_write_text(v_path, text)
    return top, v_path


def build_board_sim(net: QuantizedNetwork, build_dir, *, clk_hz: int,
                    divisor: int | Fraction | None = None, timeout_cycles: int | None = None,
                    lanes: int = 4, baud: int = DEFAULT_BAUD,
                    pack: bool = True, in_pack: int = 1) -> BoardSimBuild:
    """Build ``board_sim`` around the board top of ``net`` (or reuse an identical build).

    Parameters
    ----------
    net : QuantizedNetwork
        The network in the board top.
    build_dir : path
        Where the Verilog, the Verilator objects and the executable go.
    clk_hz, divisor, timeout_cycles, lanes, baud, pack, in_pack
        Passed to :class:`~.top.BoardTop` (the clock INFO reports, cycles per UART bit or
        None for ``baud``'s, ``T_idle`` in cycles or None for the board builds', the core's
        lanes, the UART rate, 4-bit input two values per byte, direct input values per core
        beat). The C++ host on the pins
        runs at the top's bit time.

    Raises
    ------
    VerilatorError
        When Verilator or the C++ build fails (with the tail of its output).
    """
    build_dir = Path(build_dir).resolve()
    top, v_path = write_board_verilog(net, build_dir, clk_hz=clk_hz, divisor=divisor,
                                      timeout_cycles=timeout_cycles, lanes=lanes, baud=baud,
                                      pack=pack, in_pack=in_pack)
    harness = Harness("board_sim", tuple(FIRMWARE / s for s in SOURCES), "Vboard",
                      cflags=f"-I{FIRMWARE} -I{FIRMWARE / 'fil'}",
                      deps=(FIRMWARE / "fil" / "board_sim.hpp", FIRMWARE / "sfp.h"))
    seconds = verilator.build(v_path, toplevel=TOPLEVEL, build_dir=build_dir, harness=harness)
    return BoardSimBuild(build_dir / harness.name, int(clk_hz), top.divisor, top.timeout_cycles,
                         seconds, int(baud))


def open_bridge(build: BoardSimBuild) -> SimTransport:
    """A :class:`SimTransport` on a fresh model (``board_sim bridge``)."""
    return SimTransport(build.exe, clk_hz=build.clk_hz, divisor=build.divisor,
                        args=("bridge",))


def run_fil(build: BoardSimBuild, x, encoding: str, work_dir, *, timeout_ms: int = 50,
            idle_ms: int = 1, silent_at: int | None = None, dup_at: int | None = None,
            window: int = 1) -> dict:
    """Classify ``x`` with the C library driving the model (``board_sim fil``).

    Parameters
    ----------
    x : array
        ``[N, n_in]`` direct values or ``[N, T, n_in]`` spikes (one sample per row).
    encoding : str
        The network's encoding.
    work_dir : path
        Where the samples and the answers go.
    timeout_ms, idle_ms : int
        The C client's timeouts, in simulated milliseconds.
    silent_at : int, optional
        Cut the board's tx line while this sample is answered (a silent board).
    dup_at : int, optional
        The line delivers the answer to this sample twice (a duplicated answer).
    window : int
        1: one request at a time (``sfp_client_infer``); more: that many requests
        outstanding (``sfp_client_infer_many``), at most INFO's ``window``.

    Returns
    -------
    dict
        ``status`` [N] (0, or the C library's negative status), ``prediction`` [N],
        ``cycles`` [N], ``acc`` [N, C] (int64; -1 where the status is not 0), ``errors``,
        ``discarded`` (frames the library discarded: answers to no outstanding request),
        ``seconds`` (wall time of the C++ loop), ``samples_per_s``, ``sim_cycles``
        (simulated, INFO included), ``infer_cycles`` (simulated, the samples alone).
    """
    work_dir = Path(work_dir)
    samples, out = work_dir / "fil_samples.txt", work_dir / "fil_answers.txt"
    write_samples_text(samples, x, encoding)
    out.unlink(missing_ok=True)
    faults = [str(-1 if k is None else int(k)) for k in (silent_at, dup_at)]
    proc = subprocess.run(
        [str(build.exe), "fil", str(samples), str(out), str(build.clk_hz), str(build.divisor),
         str(timeout_ms), str(idle_ms), *faults, str(int(window))], capture_output=True,
        text=True, check=False)
    if proc.returncode not in (0, 1) or not out.is_file():
        raise VerilatorError(f"board_sim fil failed (exit {proc.returncode}): "
                             f"{proc.stderr.strip()[-500:]}")
    words = proc.stdout.split()
    stats = dict(zip(words[0::2], words[1::2], strict=True))
    rows = [line.split() for line in out.read_text().splitlines()]
    width = max(len(r) for r in rows) if rows else 2
    status = np.zeros(len(rows), np.int64)
    arr = np.full((len(rows), width), -1, np.int64)
    for i, r in enumerate(rows):
        if r[0] == "error":
            status[i] = int(r[1])
        else:
            arr[i] = [int(v) for v in r]
    return {
        "status": status, "prediction": arr[:, 0], "cycles": arr[:, 1], "acc": arr[:, 2:],
        "errors": int(stats["errors"]), "discarded": int(stats["discarded"]),
        "seconds": float(stats["seconds"]),
        "samples_per_s": float(stats["samples_per_s"]), "sim_cycles": int(stats["sim_cycles"]),
        "infer_cycles": int(stats["infer_cycles"]),
    }
