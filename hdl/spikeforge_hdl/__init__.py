"""spikeforge gateware: Amaranth blocks that execute a QuantizedNetwork (never imports torch).

The network core (:class:`~spikeforge_hdl.core.NetworkCore`) and its blocks live in one
module each; ``python -m spikeforge_hdl verilog --ir <file> -o <dir>`` writes the Verilog
and its JSON port description; :func:`spikeforge_hdl.rtlsim.simulate` runs it in
Verilator. Submodules are imported on use so that ``import spikeforge_hdl`` stays cheap.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
