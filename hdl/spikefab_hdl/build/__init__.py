"""From gateware to files: the Verilog writer, bitstream builds with the YoWASP tools, the
tools' reports, and the ``python -m spikefab_hdl`` commands. Imports ``core`` and ``board``;
never ``sim``."""
