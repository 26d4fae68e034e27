"""The datapath: plan, memories, integrator, neuron lanes, layers, spike queues, network core.

Imports only Amaranth and ``spikefab.{fixed,spec,ir}``; never another sub-package of
``spikefab_hdl`` (board, build and sim import core, not the other way).
"""
