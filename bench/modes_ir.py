"""IRs of the digits-shaped network with neuron modes, for board builds of the modes.

    python bench/modes_ir.py [--ir build/runs/digits/ir/net.json]
    python -m spikefab_hdl build --board <board> --ir build/modes/<name>/net.json

The weights and biases of a trained digits model (64-128-10, direct 4-bit input, T = 4;
by default the IR ``make demo`` writes) under other neurons: ``all`` (the hidden
layer ``decay`` beta 0.9 + ``gt`` + ``delayed-reset`` + ``cuba`` alpha 0.8, and a spiking
readout with the same modes), ``decay`` (beta 0.9 only) and ``spikeout`` (``gt`` +
``delayed-reset`` hidden layer, a v1 spiking readout). The weights were not trained for
these neurons: the IRs measure resources and timing, not accuracy. Writes
build/modes/<name>/net.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spikefab.ir import QuantizedNetwork
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec, SynapseSpec

ROOT = Path(__file__).resolve().parent.parent
HIDDEN_ALL = LIFSpec(17, 1610, None, "subtract-delayed", decay=410, threshold="gt",
                     synapse=SynapseSpec(17, 819))
OUT_ALL = LIFSpec(14, 1000, None, "subtract-delayed", decay=410, threshold="gt",
                  synapse=SynapseSpec(14, 819))
VARIANTS = {
    "all": (HIDDEN_ALL, OUT_ALL),
    "decay": (LIFSpec(17, 1610, None, decay=410), None),
    "spikeout": (LIFSpec(17, 1610, 3, "subtract-delayed", threshold="gt"), LIFSpec(14, 1000, 3)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ir", default=str(ROOT / "build/runs/digits/ir/net.json"),
                        help="the v1 digits IR whose weights to use (default: make demo's)")
    net = QuantizedNetwork.load(parser.parse_args().ir)
    (l0, l1), spec = net.spec.layers, net.spec
    for name, (hidden, out) in VARIANTS.items():
        layers = (LayerSpec(l0.n_in, l0.n_out, l0.w_bits, l0.b_bits, hidden),
                  LayerSpec(l1.n_in, l1.n_out, l1.w_bits, l1.b_bits, out))
        modes = NetworkSpec(layers, spec.timesteps, spec.encoding, spec.in_bits,
                            readout="spikes" if out is not None else "current")
        path = QuantizedNetwork(modes, net.weights, net.biases,
                                {"source": f"digits weights, neurons {name}"}).save(
            ROOT / "build" / "modes" / name / "net")
        print(f"{path}: {modes.semantics}")


if __name__ == "__main__":
    main()
