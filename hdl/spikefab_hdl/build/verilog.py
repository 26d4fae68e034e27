"""Write a core as Verilog plus a JSON description of its ports and parameters.

The JSON (``<name>.json`` beside ``<name>.v``) is what testbenches and host tools read
instead of importing Amaranth: the module name, every port with its direction and
width, the bit fields of every struct payload, the core's plan (widths, lanes, groups)
and the IR's spec and hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from amaranth import Shape
from amaranth.back import verilog
from amaranth.lib import data, wiring
from spikefab.atomic import atomic_write_files
from spikefab.ir import QuantizedNetwork

from ..core import dp16kd, mult18x18d, sb_mac16
from ..core.network import NetworkCore

__all__ = [
    "DESCRIPTION_FORMAT",
    "layout_fields",
    "describe_ports",
    "describe_core",
    "write_verilog",
]

DESCRIPTION_FORMAT = "spikefab-core"
DESCRIPTION_VERSION = 1
MODULE_NAME = "spikefab_core"


def layout_fields(layout: data.StructLayout) -> dict:
    out = {}
    for name, field in layout:
        shape = field.shape
        if isinstance(shape, data.ArrayLayout):
            elem = Shape.cast(shape.elem_shape)
            out[name] = {
                "offset": field.offset,
                "width": elem.width,
                "signed": elem.signed,
                "count": shape.length,
            }
        else:
            s = Shape.cast(shape)
            out[name] = {"offset": field.offset, "width": s.width, "signed": s.signed}
    return out


def describe_ports(component: wiring.Component) -> dict:
    """``{verilog_port_name: {dir, width, signed[, fields]}}`` for every member, plus clk/rst."""
    ports = {
        "clk": {"dir": "in", "width": 1, "signed": False},
        "rst": {"dir": "in", "width": 1, "signed": False},
    }
    for path, member, _value in component.signature.flatten(component):
        shape = member.shape
        cast = Shape.cast(shape)
        entry = {
            "dir": "in" if member.flow == wiring.In else "out",
            "width": cast.width,
            "signed": cast.signed,
        }
        if isinstance(shape, data.StructLayout):
            entry["fields"] = layout_fields(shape)
        ports["__".join(map(str, path))] = entry
    return ports


def describe_core(core: NetworkCore, *, module: str = MODULE_NAME) -> dict:
    """The JSON description of ``core`` (see the module docstring)."""
    net = core.net
    pairs = zip(net.weights, net.biases, strict=True)
    arrays = b"".join(a.tobytes() for pair in pairs for a in pair)
    return {
        "format": DESCRIPTION_FORMAT,
        "version": DESCRIPTION_VERSION,
        "module": module,
        "trace": core.with_trace,
        "plan": core.plan.to_dict(),
        "spec": net.spec.to_dict(),
        "arrays_sha256": hashlib.sha256(arrays).hexdigest(),
        "ports": describe_ports(core),
    }


def write_verilog(
    net: QuantizedNetwork, out_dir, *, lanes: int = 4, trace: bool = False,
    name: str = MODULE_NAME, spram=None, in_pack: int = 1, dsp: int | None = None,
    mac8x8: bool = False, bram_outreg: bool | str = False,
) -> tuple[Path, Path]:
    """Write ``<out_dir>/<name>.v`` and ``<out_dir>/<name>.json`` atomically (``spram``: the
    core's placement of state memories in single-port RAM; ``in_pack``: direct input values
    per beat; ``dsp``: products in DSP blocks at most, the rest in logic; ``mac8x8``: two a
    block, SB_MAC16 instances; ``bram_outreg``: DP16KD weight memories with their output
    register; all ``NetworkCore``'s). The Verilog of a core with DP16KD or SB_MAC16
    instances ends with the primitives' simulation models (``core.dp16kd.MODEL``,
    ``core.sb_mac16.MODEL``) for Verilator and Icarus.

    Returns
    -------
    (Path, Path)
        The Verilog and JSON paths.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a Verilog identifier, not {name!r}")
    core = NetworkCore(net=net, lanes=lanes, trace=trace, spram=spram, in_pack=in_pack,
                       dsp=dsp, mac8x8=mac8x8, bram_outreg=bram_outreg)
    text = verilog.convert(core, name=name, emit_src=False)
    text = mult18x18d.with_model(sb_mac16.with_model(dp16kd.with_model(text)))
    out = Path(out_dir)
    v_path, j_path = out / f"{name}.v", out / f"{name}.json"
    desc = json.dumps(describe_core(core, module=name), indent=2) + "\n"
    atomic_write_files({v_path: text.encode(), j_path: desc.encode()})  # a pair, whole or not
    return v_path, j_path
