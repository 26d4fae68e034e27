"""Which state memories of a network's conv layers live in single-port RAM (SPRAM).

Pure Python. A placement is ``{layer: {memory: banks}}``: the conv layer ``layer``'s
``memory`` (one of :data:`SPRAM_MEMORIES`, the memories that need no initial value) in
``banks`` single-port banks (:mod:`.spram`). The board build chooses one for the UP5K
(:mod:`spikefab_hdl.build.bitstream`); :func:`check_spram` checks it against the network.
"""

from __future__ import annotations

from spikefab.ir import QuantizedNetwork

__all__ = ["SPRAM_MEMORIES", "check_spram"]

#: The state memories of a conv layer that may live in SPRAM (no initial value needed).
SPRAM_MEMORIES = ("currents", "membranes", "synapses")


def check_spram(net: QuantizedNetwork, spram) -> dict[int, tuple]:
    """``spram`` (``{layer: {memory: banks}}`` or None) checked against ``net``; returns
    ``{layer: ((memory, banks), ...)}``. One-line ``ValueError`` otherwise."""
    if spram is None:
        return {}
    if not isinstance(spram, dict):
        raise ValueError(f"spram must be a dict {{layer: {{memory: banks}}}}, not {spram!r}")
    layers = net.spec.layers
    out = {}
    for index, mems in spram.items():
        if not isinstance(index, int) or not 0 <= index < len(layers) or \
                layers[index].conv is None:
            convs = [i for i, layer in enumerate(layers) if layer.conv is not None]
            raise ValueError(f"spram layer must be a conv layer ({convs}), not {index!r}")
        syn = layers[index].neuron.synapse is not None
        names = [n for n in SPRAM_MEMORIES if syn or n != "synapses"]
        if not isinstance(mems, dict):
            raise ValueError(f"spram[{index}] must be a dict {{memory: banks}}, not {mems!r}")
        for name, banks in mems.items():
            if name not in names:
                raise ValueError(f"spram[{index}] memory must be one of {', '.join(names)}, "
                                 f"not {name!r}")
            if banks not in (1, 2) or isinstance(banks, bool):
                raise ValueError(f"spram[{index}][{name!r}] banks must be 1 or 2, not {banks!r}")
        out[index] = tuple(sorted(mems.items()))
    return out
