"""Wire names that stop yosys 0.70's ABC9, and the command every synthesis runs to hide them.

Amaranth names each element of an array-shaped signal like a bit select: beside ``data``
(``lanes × w_bits`` bits) the netlist has wires ``data[0]``, ``data[1]``, ... (one element
each). ABC9 names the bits it cuts at its boundary ``<wire>[<bit>]`` and, reading its
result back (``abc9_ops -reintegrate``), parses the names again: bit 1 of ``x`` and the
2-bit wire ``x[1]`` both become ``x[1]``, and yosys stops with ``Assert
`GetSize(conn.first) == GetSize(conn.second)' failed`` (or ``count_id(wire->name) == 0``).
Which names reach the boundary depends on the netlist (MNIST-5k at lanes 64 aborted after
~10 min of ``synth_ecp5``; lanes 4 did not); ten lines of Verilog reproduce it in a second
(``tests/test_yosys_names.py``: a register ``x``, a register named ``x[1]`` and an adder
between them; ``synth_ice40`` did not stop on it).

:data:`HIDE_BIT_NAMES` makes every wire whose name ends in ``]`` private (its name becomes
``$...``; the logic is unchanged), so ABC9 names those bits after another wire. Every
yosys synthesis we run calls it right after reading the design (board builds through
Amaranth's ``script_after_read``, :mod:`.bitstream`); run it too when synthesising the
core's Verilog (``python -m spikefab_hdl verilog``) with your own script.
"""

from __future__ import annotations

__all__ = ["HIDE_BIT_NAMES", "KEEP_COPIES"]

#: The yosys command that hides wires named like bit selects (``x[1]``).
HIDE_BIT_NAMES = "rename -hide w:*[*]"

#: The yosys command that keeps the flip-flops of registers named ``*_dup_*`` apart: copies
#: of one register that the core makes on purpose (:func:`..core.copies.pixel_copies`,
#: one per few DSPs), which ``opt_merge`` would otherwise merge back into one (same input).
KEEP_COPIES = "setattr -set keep 1 w:*_dup_* %ci1:+$dff[Q]"
