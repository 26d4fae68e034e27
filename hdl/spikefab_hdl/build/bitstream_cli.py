"""``python -m spikefab_hdl build``: a bitstream and its report for one board.

    python -m spikefab_hdl build --board <board> --ir <ir> [--lanes N|L,LxK,…|auto] [--baud B]
        [--in-pack P] [--clock-mhz F] [-o DIR]

writes ``DIR/<board>/spikefab.{bin,bit}``, ``report.json`` and ``build.log``
(``DIR`` defaults to ``build/bitstreams``) and prints one summary line. Bad input (an
unknown board, a corrupt IR) exits 2 with one line ``error: ...`` before any tool runs;
a network that does not fit, a timing failure or a tool failure exits 1 with one line (a
tool's failure names the tool, its exit status, its first error line and ``build.log``).
"""

from __future__ import annotations

import sys

from spikefab.toolchain import ToolchainError

from ..board.definitions import BOARDS
from ..board.top import DEFAULT_BAUD
from ..core.lanes import parse_lanes
from .bitstream import BuildError, build_bitstream

__all__ = ["add_build"]


def add_build(sub) -> None:
    """Register the ``build`` subcommand on an argparse subparsers object."""
    p = sub.add_parser("build", help="build a bitstream and report.json for a board")
    p.add_argument("--board", required=True, help=f"one of {', '.join(sorted(BOARDS))}")
    p.add_argument("--ir", required=True, help="IR file (<stem>.json, <stem>.npz or <stem>)")
    p.add_argument("--lanes", type=parse_lanes, default=None,
                   help="weights read per cycle: N, one L or LxK per layer, or auto (the "
                        "planner, for this board's resources); default: the board's, 2 on "
                        "the iCEBreaker, 4 on ECP5 boards")
    p.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                   help=f"UART baud rate (default {DEFAULT_BAUD})")
    p.add_argument("--in-pack", type=int, default=1, metavar="P",
                   help="direct input values per core input beat (default 1)")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (default 1)")
    p.add_argument("--clock-mhz", type=float, default=None,
                   help="run the design from the FPGA's PLL (iCE40 SB_PLL40, ECP5 EHXPLLL) at "
                        "(at most) this frequency (default: the board clock)")
    p.add_argument("-o", "--out", default="build/bitstreams",
                   help="output root (default build/bitstreams)")
    p.set_defaults(func=_cmd_build)


def _cmd_build(args) -> int:
    try:
        lanes = args.lanes
        if lanes is None:
            lanes = BOARDS[args.board].lanes if args.board in BOARDS else 4
        r = build_bitstream(args.ir, args.board, lanes=lanes, baud=args.baud,
                            out_root=args.out, seed=args.seed, clock_mhz=args.clock_mhz,
                            in_pack=args.in_pack)
    except (BuildError, ToolchainError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    res, clk = r["resources"], r["clock"]
    used = ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in res.items() if v["available"])
    source = "PLL" if r["pll"] else "board"
    print(f"{r['board']} ({r['device']}): {used}; Fmax {clk['fmax_mhz']} MHz "
          f"({source} clock {clk['board_mhz']} MHz); wrote "
          f"{args.out}/{r['board']}/{r['bitstream']} and report.json")
    return 0
