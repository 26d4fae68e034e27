"""Simulation models of the vendor primitives the core instantiates by hand (DP16KD,
SB_MAC16, MULT18X18D): each module's ``with_model`` appends its Verilog model once."""

from __future__ import annotations

__all__ = ["append_model"]


def append_model(verilog_text: str, cell: str, model: str) -> str:
    """``verilog_text`` with ``model`` appended when it instantiates ``cell`` and does not
    define it already."""
    if f"{cell} " not in verilog_text or f"module {cell}" in verilog_text:
        return verilog_text
    return verilog_text + model
