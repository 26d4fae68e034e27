"""Simulation: amaranth.sim and Verilator/Icarus runners (one Verilator build), cocotb
helpers, the board-model bridge, stream-beat packing, the cycle bound and random networks.
Imports ``core``, ``board`` and ``build``; nothing in ``spikefab_hdl`` imports it."""
