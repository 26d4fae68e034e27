"""``python -m spikefab_hdl <command>``: gateware from the command line.

Commands
--------
verilog
    ``python -m spikefab_hdl verilog --ir <ir> -o <dir> [--lanes N|L,LxK,…|auto]
    [--board B] [--trace] [--name M]`` writes ``<dir>/<M>.v`` and ``<dir>/<M>.json`` (ports
    and parameters) for the IR. ``--lanes`` per layer (``LxK``: lanes ``L``, ``K`` spike
    events a cycle, ``core.lanes``); ``auto`` plans for ``--board``'s resources (default the
    ULX3S-25F's).
build
    ``python -m spikefab_hdl build --board <board> --ir <ir>``: bitstream + report.json
    under ``build/bitstreams/<board>/`` (see ``bitstream_cli.py``).

Errors print one line ``error: ...`` on stderr: bad input (a missing or corrupt IR, bad
options) exits 2; a tool that fails (Yosys, nextpnr, a pack tool) or is missing, a design
that does not fit or misses timing exits 1, the line naming the tool and the log file that
holds its output; Ctrl-C exits 130 with one line ``interrupted: ...``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from amaranth.back.verilog import YosysError
from spikefab.atomic import atomic_write_text
from spikefab.ir import IRError, QuantizedNetwork
from spikefab.toolchain import ToolchainError, ToolError, error_line

from ..board.definitions import BOARDS
from ..core.lanes import MAX_LANES, parse_lanes, resolve_lanes
from .verilog import MODULE_NAME, write_verilog

__all__ = ["main"]


def _lanes(text: str):
    value = parse_lanes(text)
    if isinstance(value, int) and not 1 <= value <= MAX_LANES:
        raise argparse.ArgumentTypeError(
            f"lanes must be an integer in [1, {MAX_LANES}], not {text!r}"
        )
    return value


def board_budget(name: str) -> dict:
    """The resources ``--lanes auto`` plans for: board ``name``'s capacity and family."""
    if name not in BOARDS:
        raise ValueError(f"--board must be one of {', '.join(sorted(BOARDS))}, not {name!r}")
    board = BOARDS[name]
    return {"family": board.family, **board.capacity}


def _add_verilog(sub) -> None:
    p = sub.add_parser("verilog", help="write the core's Verilog and its JSON port description")
    p.add_argument("--ir", required=True, help="IR file (<stem>.json, <stem>.npz or <stem>)")
    p.add_argument("-o", "--out", default="build/rtl", help="output folder (default build/rtl)")
    p.add_argument("--lanes", type=_lanes, default=4,
                   help="weights read per cycle: N, one L or LxK per layer (L lanes, K spike "
                        "events a cycle: 64,16x64), or auto (default 4)")
    p.add_argument("--board", default="ulx3s-25f",
                   help="the board whose resources --lanes auto plans for (default ulx3s-25f)")
    p.add_argument("--trace", action="store_true", help="add the trace ports (verification)")
    p.add_argument("--in-pack", type=int, default=1, metavar="P",
                   help="direct input values per input beat, zeros skipped (default 1)")
    p.add_argument("--name", default=MODULE_NAME, help=f"module name (default {MODULE_NAME})")
    p.set_defaults(func=_cmd_verilog)


def _cmd_verilog(args) -> int:
    budget = board_budget(args.board)
    net = QuantizedNetwork.load(args.ir)
    log = Path(args.out) / f"{args.name}.yosys.log"
    lanes = resolve_lanes(net, args.lanes, budget=budget, in_pack=args.in_pack)
    try:
        v_path, j_path = write_verilog(
            net, args.out, lanes=lanes, trace=args.trace, name=args.name,
            in_pack=args.in_pack,
        )
    except YosysError as e:  # Amaranth runs Yosys to write the Verilog
        text = str(e).strip() or "(no output)"
        atomic_write_text(log, text + "\n")
        raise ToolError("yosys", "Verilog conversion", log=log,
                        detail=error_line(text) or text.splitlines()[0][:200]) from None
    log.unlink(missing_ok=True)
    print(f"wrote {v_path}")
    print(f"wrote {j_path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m spikefab_hdl", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_verilog(sub)
    from .bitstream_cli import add_build  # bitstreams (docs in bitstream_cli.py)

    add_build(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ToolError, ToolchainError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (IRError, ValueError, TypeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: {args.command} stopped; its output is not complete",
              file=sys.stderr)
        return 130

