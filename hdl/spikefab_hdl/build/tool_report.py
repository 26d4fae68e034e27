"""Read the tools' own reports into ``report.json``: resources used and available, Fmax.

Sources, all written by the tools during the build:

* nextpnr's ``--report`` JSON: ``utilization`` (used/available per cell type, after
  packing) and ``fmax`` (achieved and constrained MHz per clock);
* nextpnr's log (``<name>.tim``): the same utilisation table, read when placement fails
  and no JSON was written;
* Yosys's log (``<name>.rpt``): cell counts after synthesis (iCE40 flip-flops, which
  nextpnr packs into logic cells and does not count separately).

Names in the report: ``lut`` = logic cells (``ICESTORM_LC`` on iCE40, a LUT4 plus its
flip-flop; ``TRELLIS_COMB`` on ECP5), ``ff``, ``bram`` (``ICESTORM_RAM`` 4 Kbit /
``DP16KD`` 18 Kbit blocks), ``spram`` (``ICESTORM_SPRAM``), ``dsp`` (``ICESTORM_DSP`` /
``MULT18X18D``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from spikefab.toolchain import ToolError

__all__ = [
    "BuildError",
    "FitError",
    "TimingError",
    "CELL_NAMES",
    "parse_nextpnr_log",
    "parse_yosys_cells",
    "resources",
    "check_fit",
    "clock_result",
]

#: Report resource -> nextpnr cell type, per family (None: not on this family).
CELL_NAMES = {
    "ice40": {"lut": "ICESTORM_LC", "ff": None, "bram": "ICESTORM_RAM",
              "spram": "ICESTORM_SPRAM", "dsp": "ICESTORM_DSP"},
    "ecp5": {"lut": "TRELLIS_COMB", "ff": "TRELLIS_FF", "bram": "DP16KD", "spram": None,
             "dsp": "MULT18X18D"},
}
_LABELS = {"lut": "logic cells", "ff": "flip-flops", "bram": "block RAMs", "spram": "SPRAMs",
           "dsp": "DSP multipliers"}


class BuildError(ToolError):
    """A bitstream build failed; the message is one line (a tool's failure names the tool,
    its exit status and its log, ``spikefab.toolchain.ToolError``)."""


class FitError(BuildError):
    """The design does not fit the device."""


class TimingError(BuildError):
    """The design does not reach the board clock."""


_UTIL = re.compile(r"^Info:\s+([A-Z0-9_]+):\s+(\d+)/\s*(\d+)\s+\d+%")


def parse_nextpnr_log(text: str) -> dict:
    """``{cell: {"used", "available"}}`` from the last utilisation table in a nextpnr log."""
    table: dict = {}
    for line in text.splitlines():
        if "Device utilisation:" in line:
            table = {}
            continue
        hit = _UTIL.match(line)
        if hit:
            table[hit[1]] = {"used": int(hit[2]), "available": int(hit[3])}
    return table


def parse_yosys_cells(text: str) -> dict:
    """Cell counts ``{type: n}`` of the last statistics block of a Yosys log."""
    start = max(text.rfind("=== design hierarchy ==="), text.rfind("Printing statistics"))
    cells = {}
    for line in text[start:].splitlines():
        hit = re.match(r"^\s+(\d+)\s+([A-Za-z_$][\w$]*)\s*$", line)
        if hit and not hit[2].startswith("$") and hit[2] not in ("cells", "wires", "ports"):
            cells[hit[2]] = int(hit[1])
    return cells


def resources(family: str, utilization: dict, yosys_cells: dict | None = None) -> dict:
    """The report's ``resources``: ``{name: {used, available, percent}}``."""
    out = {}
    for name, cell in CELL_NAMES[family].items():
        if cell is None and name == "ff":
            used = sum(n for c, n in (yosys_cells or {}).items() if c.startswith("SB_DFF"))
            avail = utilization.get("ICESTORM_LC", {}).get("available", 0)
        elif cell is None:
            used = avail = 0
        else:
            used = utilization.get(cell, {}).get("used", 0)
            avail = utilization.get(cell, {}).get("available", 0)
        pct = round(100.0 * used / avail, 1) if avail else 0.0
        out[name] = {"used": used, "available": avail, "percent": pct}
    return out


def check_fit(board_name: str, device: str, res: dict) -> None:
    """Raise FitError naming the first resource used beyond what the device has."""
    for name, r in res.items():
        if r["used"] > r["available"]:
            raise FitError(
                f"network does not fit {board_name} ({device}): {_LABELS[name]} "
                f"{r['used']} used > {r['available']} available"
            )


def clock_result(nextpnr_report: dict, board_mhz: float) -> dict:
    """``{"board_mhz", "fmax_mhz", "met"}`` from nextpnr's ``fmax`` (the slowest clock)."""
    fmax = nextpnr_report.get("fmax") or {}
    if not fmax:
        raise BuildError("nextpnr reported no clock: the design has no timed path")
    achieved = min(float(v["achieved"]) for v in fmax.values())
    return {"board_mhz": round(board_mhz, 3), "fmax_mhz": round(achieved, 2),
            "met": achieved >= board_mhz}


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
