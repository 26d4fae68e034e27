"""spikefab gateware: Amaranth blocks that execute a QuantizedNetwork (never imports torch).

The network core (:class:`~spikefab_hdl.core.network.NetworkCore`) and its blocks live in one
module each; ``python -m spikefab_hdl verilog --ir <file> -o <dir>`` writes the Verilog
and its JSON port description; :func:`spikefab_hdl.sim.rtlsim.simulate` runs it in
Verilator. Submodules are imported on use so that ``import spikefab_hdl`` stays cheap.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
