"""Stand-ins of the shipped configs' networks for their proofs, without training.

The proofs of a network depend on its shapes, neuron, widths and lanes, not on its weights
(the integrator's proof covers every weight memory, docs/verification.md), except for the
widths the export derives from the weights (``v_bits = "auto"``, the currents' widths). So
:func:`stand_in` builds, from a checked config (``spikefab.run.config.load_config``), the
network its student exports to — the same layers, neuron, encoding and widths — with random
weights over the whole ``w_bits`` range (the widest currents the layer can have) and
``v_bits`` :data:`AUTO_V_BITS` where the config says ``auto`` (what the digits model's
export chose). ``make test`` and ``bench/formal_time.py`` prove these.
"""

from __future__ import annotations

from spikefab.spec import ConvSpec, LIFSpec

from .randnet import make_conv_spec, make_spec, random_network

__all__ = ["AUTO_V_BITS", "IMAGES", "stand_in"]

#: ``v_bits`` of a stand-in whose config says ``auto``: the digits model's (v17).
AUTO_V_BITS = 17
#: The input image ``(C, H, W)`` of each dataset of the shipped configs.
IMAGES = {"digits": (1, 8, 8), "mnist5k": (1, 28, 28)}
CLASSES = 10


def stand_in(cfg: dict, *, seed: int = 0):
    """The network the student of ``cfg`` exports to, with random weights (see the module
    docstring); returns ``(network, lanes)``."""
    st, qz = cfg["student"], cfg["quantize"]
    dataset = cfg["data"]["dataset"]
    if dataset not in IMAGES:
        raise ValueError(f"data.dataset must be one of {', '.join(IMAGES)} for a stand-in, "
                         f"not {dataset!r}")
    image = IMAGES[dataset]
    v_bits = AUTO_V_BITS if qz["v_bits"] == "auto" else int(qz["v_bits"])
    neuron = LIFSpec(v_bits, 1 << (v_bits // 2), st["leak_shift"], reset=st["reset"],
                     threshold=st.get("threshold", "ge"))
    kw = {"timesteps": st["timesteps"], "encoding": st["encoding"],
          "in_bits": st["in_bits"], "w_bits": qz["w_bits"], "b_bits": qz["b_bits"]}
    channels = st.get("channels") or []
    if channels:
        convs = [(c, 3, 1, 1, 2) for c in channels]  # snn/cnn.py: 3x3, stride 1, pad 1, pool 2
        dense = [*(st.get("hidden") or []), CLASSES]
        n_spiking = len(convs) + len(dense) - 1
        spec = make_conv_spec(image, convs, dense, neurons=[neuron] * n_spiking, **kw)
        assert all(isinstance(layer.conv, ConvSpec) for layer in spec.layers[:len(convs)])
    else:
        c, h, w = image
        sizes = (c * h * w, *st["hidden"], CLASSES)
        spec = make_spec(sizes, neurons=[neuron] * (len(sizes) - 2), **kw)
    return random_network(spec, seed), cfg["hardware"]["lanes"]
