"""The random networks of sim/ (b): specs, lanes, seeds and inputs, all fixed.

The specs cover widths from 2-bit inputs to 24-bit membranes, leaks None / 0 / k, both
resets, lanes 1/2/4/8, both encodings, one and two hidden layers, a readout-only
network, ragged last groups, weights over the full ``w_bits`` range against small
``v_bits`` so that membranes saturate, and first layers whose weight memory is banked.
:data:`MODES` adds every neuron mode the core implements (``decay`` at snnTorch's beta 0.95
and at 3/8, ``gt``, ``delayed-reset``, ``cuba`` with synapses that saturate at both rails)
and the spiking readout, in both encodings (two networks, to keep ``make sim`` short).
:data:`CONV` adds conv networks (``conv2d``): a direct conv first layer with stride and
padding, pooled, into a conv layer and a dense readout, their state in single-port RAM
(:data:`SPRAM`) and packed input (:data:`PACK`); and spike input (packed coordinates)
into a pooled conv layer with neuron modes before a spiking readout. :data:`MASK` adds
per-layer lanes and layers taking spike masks ``K`` wide (``core.lanes``): spike input
through two hidden layers of different lanes, both taking masks (membranes saturating at
both rails), and direct input into a ``cuba`` spiking readout taking whole masks. :data:`DSP`:
a direct layer whose products beyond a DSP budget are shifts and adds; :data:`MAC8X8`: two
products a DSP block (iCE40 SB_MAC16 dual 8x8, ``core.sb_mac16``). :data:`OUTREG`: weight
memories in ECP5 DP16KD instances with their output register (``core.dp16kd``'s model).
"""

from spikefab.spec import LIFSpec, SynapseSpec
from spikefab_hdl.sim.randnet import make_conv_spec, make_spec, random_input, random_network

__all__ = ["CASES", "BANKED", "BATCH", "CONV", "DSP", "MAC8X8", "MASK", "MODES", "OUTREG", "PACK",
           "SPRAM", "random_case"]

CASES = {
    "spikes-2hidden-l1": (dict(sizes=(12, 16, 8, 5), timesteps=4, w_bits=6,
                               neurons=[LIFSpec(8, 20, 2), LIFSpec(6, 10, 0, "zero")]), 1),
    "direct-noleak-zero-l2": (dict(sizes=(16, 20, 6), encoding="direct", in_bits=4,
                                   timesteps=3, neurons=[LIFSpec(10, 90, None, "zero")]), 2),
    "spikes-saturating-l8": (dict(sizes=(20, 30, 10), timesteps=5, w_bits=8,
                                  neurons=[LIFSpec(7, 12, 1)]), 8),
    "direct-2hidden-l4": (dict(sizes=(10, 13, 9, 4), encoding="direct", in_bits=2, timesteps=2,
                               neurons=[LIFSpec(12, 40, 3), LIFSpec(5, 3, 4, "zero")]), 4),
    "spikes-readout-only-l4": (dict(sizes=(8, 3), timesteps=3), 4),
    "direct-wide-l8": (dict(sizes=(24, 40, 12), encoding="direct", in_bits=6, timesteps=6,
                            w_bits=12, b_bits=20, neurons=[LIFSpec(24, 30000, 5)]), 8),
    # layer 0 of 48 x 90 (70 x 64) rows of 8 bits: three banks of 2048 rows (core/weight_memory.py)
    "direct-banked-l1": (dict(sizes=(48, 90, 4), encoding="direct", in_bits=3, timesteps=2,
                              w_bits=8, neurons=[LIFSpec(16, 400, 2)]), 1),
    "spikes-banked-l1": (dict(sizes=(70, 64, 3), timesteps=3, w_bits=8,
                              neurons=[LIFSpec(12, 150, 1)]), 1),
}
#: The cases of the named extensions (semantics v1 + neuron modes, spiking readout).
MODES = {
    "direct-cuba-delayed-l2": (dict(sizes=(10, 12, 4), encoding="direct", in_bits=3, timesteps=3,
                                    neurons=[LIFSpec(9, 60, None, "subtract-delayed", decay=205,
                                                     decay_bits=12,
                                                     synapse=SynapseSpec(8, 1638, 12))]), 2),
    "spikes-readout-spikes-l3": (dict(sizes=(12, 10, 4), timesteps=5, readout="spikes", neurons=[
        LIFSpec(8, 20, 2, "subtract-delayed", threshold="gt"),
        LIFSpec(7, 15, None, "zero", decay=3, decay_bits=3, synapse=SynapseSpec(6, 1, 2))]), 3),
}
CASES.update(MODES)
#: The conv networks (``make_conv_spec`` arguments).
CONV = {
    "direct-conv-conv-l4": (dict(image=(1, 9, 8), convs=[(4, 3, 2, 1, 2), (5, 2, 1, 0)],
                                 dense=[4], encoding="direct", in_bits=4, timesteps=3,
                                 neurons=[LIFSpec(10, 70, 2), LIFSpec(8, 8, None, "zero")]), 4),
    "spikes-conv-modes-l2": (dict(image=(2, 7, 7), convs=[(3, 3, 1, 1, 3)], dense=[6, 3],
                                  timesteps=4, readout="spikes", neurons=[
        LIFSpec(8, 6, None, "subtract-delayed", threshold="gt", decay=3, decay_bits=2,
                synapse=SynapseSpec(6, 1, 1)),
        LIFSpec(8, 6, 1), LIFSpec(7, 4, None, "zero")]), 2),
}
CASES.update(CONV)
#: Per-layer lanes and spike masks (lanes in the ``core.lanes`` list form).
MASK = {
    "spikes-mask-mixed": (dict(sizes=(12, 16, 9, 5), timesteps=4, w_bits=8, neurons=[
        LIFSpec(6, 9, 2), LIFSpec(5, 6, 1, "zero")]), [8, "4x8", "2x2"]),
    "direct-mask-spike-readout": (dict(sizes=(10, 12, 6), encoding="direct", in_bits=3,
                                       timesteps=3, readout="spikes", neurons=[
        LIFSpec(8, 30, 2), LIFSpec(7, 12, None, decay=3, decay_bits=2,
                                   synapse=SynapseSpec(6, 1, 1))]), [16, "8x16"]),
    # pixel chunks: 4 values of a packed beat a cycle into 3 lanes (12 products, 5 on DSPs:
    # DSP), 21 inputs in beats of 8 (a chunk straddles n_in); readout one group of 6
    "direct-chunks-l3": (dict(sizes=(21, 11, 6), encoding="direct", in_bits=4, timesteps=3,
                              w_bits=7, neurons=[LIFSpec(9, 40, 2)]), ["3x4", 6]),
    # 8-bit weights times 8-bit inputs (0 .. 255), 2 values a cycle into 3 lanes: 6 products,
    # 4 on two SB_MAC16s in dual 8x8 mode (MAC8X8), 2 in logic (DSP)
    "direct-mac8x8-l3": (dict(sizes=(12, 7, 4), encoding="direct", in_bits=8, timesteps=3,
                              w_bits=8, neurons=[LIFSpec(18, 20000, 2)]), ["3x2", 4]),
}
CASES.update(MASK)
#: Cases whose conv state memories are in single-port RAM (``NetworkCore``'s ``spram``):
#: two banks with one channel group (bubbles in the walk), and one bank (half rate).
SPRAM = {"direct-conv-conv-l4": {0: {"currents": 2, "membranes": 2},
                                 1: {"currents": 1, "membranes": 2}}}
#: Cases whose direct input comes packed, several values per beat (``NetworkCore``'s
#: ``in_pack``; zeros skipped): a conv input row of 8 in two beats, and 10 inputs in four
#: beats of 3 (the last padded).
PACK = {"direct-conv-conv-l4": 4, "direct-2hidden-l4": 3, "direct-chunks-l3": 8,
        "direct-mac8x8-l3": 2}
#: Cases with fewer DSP blocks than products (``NetworkCore``'s ``dsp``): 3 of 8 lanes
#: multiply, 5 are shifts and adds (12-bit weights, 6-bit inputs).
DSP = {"direct-wide-l8": 3, "direct-chunks-l3": 5, "direct-mac8x8-l3": 2}
#: Cases whose DSP products are two a block, SB_MAC16 instances in dual 8x8 mode
#: (``NetworkCore``'s ``mac8x8``; ``core.sb_mac16``'s model simulated): a dense and a conv
#: first layer (iCE40 board builds of conv networks use it too).
MAC8X8 = ("direct-mac8x8-l3", "direct-conv-conv-l4")
#: Cases built with ``bram_outreg`` (``NetworkCore``'s): layer 0's 4,480 rows in five banks of
#: DP16KD blocks with the output register (latency 4), layer 1's 192 rows in one (latency 3);
#: "always": 8-bit rows would otherwise stay in the denser generic shapes. A direct layer
#: built so registers its products twice (``core.integrator.product_latency``; rows in LUTs,
#: too few for block RAM): the pixel chunks' 12 products (5 on DSPs), and a one-group layer
#: (every event adds into the same row: its read must wait for the last write). A mask layer
#: so built registers its adder tree every 2 levels (``core.adder_tree``): 8-wide masks in two
#: stages (1 + 2 levels).
OUTREG = {"spikes-banked-l1": "always", "direct-chunks-l3": "always",
          "direct-mask-spike-readout": "always", "spikes-mask-mixed": "always"}
#: The cases whose first weight memory is split into banks.
BANKED = ("direct-banked-l1", "spikes-banked-l1")
BATCH = 24


#: Cases added after the others' seeds were fixed: numbered after them, so that the others
#: keep their networks.
LATER = ("direct-mac8x8-l3",)


def random_case(name):
    """``(net, x, lanes, seed)`` of the named case."""
    kwargs, lanes = CASES[name]
    spec = make_conv_spec(**kwargs) if name in CONV else make_spec(**kwargs)
    seed = (sorted(set(CASES) - set(LATER)) + list(LATER)).index(name) + 1
    return random_network(spec, seed), random_input(spec, BATCH, seed), lanes, seed
