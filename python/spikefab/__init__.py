"""spikefab: spiking networks from training to bit-exact FPGA gateware."""

__version__ = "0.1.0"
