"""The board top in Verilator with a C++ harness on its UART pins (firmware/fil/).

Two harnesses share ``firmware/fil/board_sim.hpp`` (the model clocked from C++, a host
transmitter on ``rx``, a receiver on ``tx``):

* ``bridge``: the model behind a pipe, for the Python driver's
  :class:`spikeforge.driver.transport.SimTransport`;
* ``fil``: firmware in the loop, the C library (firmware/sfp*.c) linked to the model,
  classifying a file of samples with no Python in the loop.

:func:`build_board_sim` writes the board top's Verilog and compiles a harness, cached by
the SHA-256 of the Verilog, the harness sources and the build options.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog
from spikeforge.atomic import atomic_write_text
from spikeforge.ir import QuantizedNetwork

from .top import BoardTop
from .verilator import BUILD_ARGS, VerilatorError, tool_environment

__all__ = ["FIRMWARE", "HARNESSES", "BoardSimBuild", "build_board_sim"]

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
HARNESSES = ("bridge", "fil")
TOPLEVEL = "board_top"


@dataclass(frozen=True)
class BoardSimBuild:
    """A compiled harness: ``exe`` and the board parameters it was built with."""

    exe: Path
    clk_hz: int
    divisor: int
    timeout_cycles: int
    build_seconds: float


def _sources(harness: str) -> list[Path]:
    srcs = [FIRMWARE / "fil" / f"{harness}.cpp"]
    if harness == "fil":
        srcs += [FIRMWARE / f for f in ("sfp.c", "sfp_client.c", "sfp_text.c")]
    return srcs


def build_board_sim(net: QuantizedNetwork, build_dir, *, harness: str, clk_hz: int,
                    divisor: int, timeout_cycles: int, lanes: int = 4) -> BoardSimBuild:
    """Build ``harness`` ("bridge" or "fil") around the board top of ``net``.

    Parameters
    ----------
    net : QuantizedNetwork
        The network in the board top.
    build_dir : path
        Where the Verilog, the Verilator objects and the executable go.
    harness : str
        ``"bridge"`` or ``"fil"``.
    clk_hz, divisor, timeout_cycles, lanes : int
        Passed to :class:`~.top.BoardTop` (the clock INFO reports, cycles per UART bit,
        ``T_idle`` in cycles, the core's lanes).

    Raises
    ------
    ValueError
        For an unknown harness.
    VerilatorError
        When Verilator or the C++ build fails (with the tail of its output).
    """
    if harness not in HARNESSES:
        raise ValueError(f"harness must be one of {', '.join(HARNESSES)}, not {harness!r}")
    build_dir = Path(build_dir).resolve()
    top = BoardTop(net=net, clk_hz=clk_hz, lanes=lanes, divisor=divisor,
                   timeout_cycles=timeout_cycles, n_leds=3)
    text = verilog.convert(top, name=TOPLEVEL)
    v_path = build_dir / f"{TOPLEVEL}.v"
    if not v_path.is_file() or v_path.read_text() != text:
        atomic_write_text(v_path, text)
    srcs = _sources(harness)
    key = hashlib.sha256(text.encode() + repr(BUILD_ARGS).encode())
    for p in [*srcs, FIRMWARE / "fil" / "board_sim.hpp", FIRMWARE / "sfp.h"]:
        key.update(p.read_bytes())
    exe, stamp = build_dir / harness, build_dir / f"{harness}.stamp"
    result = BoardSimBuild(exe, int(clk_hz), divisor, top.timeout_cycles, 0.0)
    if exe.is_file() and stamp.is_file() and stamp.read_text().strip() == key.hexdigest():
        return result
    inc = f"-I{FIRMWARE} -I{FIRMWARE / 'fil'}"
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "--top-module", TOPLEVEL,
           "--prefix", "Vboard", "-o", str(exe), "-Mdir", str(build_dir / f"obj_{harness}"),
           *BUILD_ARGS, "-CFLAGS", f"-O2 {inc}", *map(str, srcs), str(v_path)]
    t0 = time.perf_counter()
    with tool_environment():
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise VerilatorError(f"Verilator build of the {harness} harness failed:\n{tail}")
    atomic_write_text(stamp, key.hexdigest() + "\n")
    return BoardSimBuild(exe, int(clk_hz), divisor, top.timeout_cycles,
                         time.perf_counter() - t0)
