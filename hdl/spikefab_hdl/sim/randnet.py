"""Seeded random networks and inputs for verifying the core (tests, sim, bench).

:func:`random_network` draws weights over the full ``w_bits`` range and biases over a
part of the ``b_bits`` range, so that small ``v_bits`` saturate the membranes and the
thresholds are crossed often; :func:`random_input` draws a batch in the encoding of the
spec (direct values over the full ``in_bits`` range with some zeros, or spikes with a
given rate); :func:`random_neuron` draws a LIFSpec with the named neuron modes
(``decay``, ``gt``, ``delayed-reset``, ``cuba``) and v1's choices for the rest;
:func:`make_conv_spec` chains conv layers (``conv2d``: kernel, stride, padding, pooling)
and dense ones.
"""

from __future__ import annotations

import numpy as np
from spikefab.fixed import smax, smin, umax
from spikefab.ir import QuantizedNetwork
from spikefab.spec import ConvSpec, LayerSpec, LIFSpec, NetworkSpec, SynapseSpec

__all__ = ["NEURON_MODES", "random_network", "random_input", "random_neuron", "make_spec",
           "make_conv_spec"]

#: The neuron modes :func:`random_neuron` draws (the named extensions of ``LIFSpec``).
NEURON_MODES = ("cuba", "decay", "delayed-reset", "gt")


def _neurons(neurons, spiking: int) -> list:
    """One LIFSpec per spiking layer: ``neurons`` checked, or ``LIFSpec(10, 24, 2)`` each."""
    neurons = list(neurons) if neurons is not None else [LIFSpec(10, 24, 2)] * spiking
    if len(neurons) != spiking:
        raise ValueError(
            f"neurons must have {spiking} entries (one per spiking layer), not {len(neurons)}"
        )
    return neurons


def make_spec(
    sizes,
    *,
    timesteps: int = 4,
    encoding: str = "spikes",
    in_bits: int = 1,
    w_bits: int = 6,
    b_bits: int = 8,
    neurons=None,
    readout: str = "current",
) -> NetworkSpec:
    """A spec with layer sizes ``sizes`` (``n_in, h1, ..., n_classes``).

    ``neurons`` is one LIFSpec per spiking layer: every hidden layer, and the last one too
    with ``readout="spikes"`` (default ``LIFSpec(10, 24, 2)`` each).
    """
    spiking = len(sizes) - 2 + (readout == "spikes")
    neurons = _neurons(neurons, spiking)
    neurons += [None] * (len(sizes) - 1 - spiking)
    layers = [
        LayerSpec(sizes[i], sizes[i + 1], w_bits, b_bits, neurons[i])
        for i in range(len(sizes) - 1)
    ]
    return NetworkSpec(tuple(layers), timesteps, encoding,
                       in_bits if encoding == "direct" else 1, readout=readout)


def make_conv_spec(
    image,
    convs,
    dense,
    *,
    timesteps: int = 3,
    encoding: str = "spikes",
    in_bits: int = 1,
    w_bits: int = 6,
    b_bits: int = 8,
    neurons=None,
    readout: str = "current",
) -> NetworkSpec:
    """Conv layers on an ``image`` ``(C, H, W)``, then dense layers.

    ``convs`` is one ``(out_channels, kernel[, stride[, padding[, pool]]])`` per conv layer;
    ``dense`` the sizes of the dense layers after them (the last is the readout's
    ``n_classes``). ``neurons``: one LIFSpec per spiking layer (default ``LIFSpec(10, 24, 2)``).
    """
    c, h, w = image
    layers, shapes = [], []
    for args in convs:
        conv = ConvSpec(c, h, w, *args)
        shapes.append(conv)
        c, (h, w) = conv.out_channels, conv.pooled_hw
    n_dense = len(dense)
    spiking = len(convs) + n_dense - 1 + (readout == "spikes")
    neurons = _neurons(neurons, spiking)
    neurons += [None]
    for i, conv in enumerate(shapes):
        layers.append(LayerSpec(conv.n_in, conv.n_out, w_bits, b_bits, neurons[i], conv))
    n = c * h * w
    for j, size in enumerate(dense):
        layers.append(LayerSpec(n, size, w_bits, b_bits, neurons[len(shapes) + j]))
        n = size
    return NetworkSpec(tuple(layers), timesteps, encoding,
                       in_bits if encoding == "direct" else 1, readout=readout)


def random_neuron(rng, *, modes=(), v_bits: int | None = None,
                  theta_max: int | None = None) -> LIFSpec:
    """A LIFSpec using exactly the neuron ``modes`` (a subset of :data:`NEURON_MODES`).

    ``rng`` is a ``numpy.random.Generator`` or a seed. Widths, threshold (at most
    ``theta_max``, default ``smax(v_bits) // 4``), leak, decays and reset are drawn;
    ``decay``'s ``d`` and ``cuba``'s ``d_i`` include the extremes 0 and ``2**q``.
    """
    unknown = sorted(set(modes) - set(NEURON_MODES))
    if unknown:
        raise ValueError(f"modes must be among {', '.join(NEURON_MODES)}, not {unknown[0]!r}")
    rng = np.random.default_rng(rng)
    v_bits = int(v_bits if v_bits is not None else rng.integers(5, 17))
    top = smax(v_bits) - ("gt" in modes)
    theta = int(rng.integers(1, max(1, min(top, theta_max or smax(v_bits) // 4)) + 1))

    def decay_pair():
        q = int(rng.integers(1, 13))
        d = int(rng.choice([0, 1 << q, int(rng.integers(0, (1 << q) + 1))], p=[0.1, 0.1, 0.8]))
        return d, q

    kw = {"v_bits": v_bits, "theta": theta, "threshold": "gt" if "gt" in modes else "ge"}
    if "decay" in modes:
        kw["leak_shift"] = None
        kw["decay"], kw["decay_bits"] = decay_pair()
    else:
        kw["leak_shift"] = rng.choice([None, *range(v_bits)])
        kw["leak_shift"] = None if kw["leak_shift"] is None else int(kw["leak_shift"])
    kw["reset"] = ("subtract-delayed" if "delayed-reset" in modes
                   else str(rng.choice(["subtract", "zero"])))
    if "cuba" in modes:
        d, q = decay_pair()
        kw["synapse"] = SynapseSpec(int(rng.integers(4, v_bits + 5)), d, q)
    return LIFSpec(**kw)


def random_network(
    spec: NetworkSpec, seed: int, *, bias_fraction: float = 0.25
) -> QuantizedNetwork:
    """Weights uniform over the full ``w_bits`` range; biases over ``bias_fraction`` of it."""
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for layer in spec.layers:
        shape = layer.weight_shape
        weights.append(rng.integers(smin(layer.w_bits), smax(layer.w_bits) + 1, shape))
        hi = max(1, int(smax(layer.b_bits) * bias_fraction))
        biases.append(rng.integers(-hi, hi + 1, layer.bias_shape))
    return QuantizedNetwork(spec, tuple(weights), tuple(biases), {"source": f"random seed {seed}"})


def random_input(spec: NetworkSpec, batch: int, seed: int, *, rate: float = 0.3) -> np.ndarray:
    """A batch in the spec's encoding: ``[B, n_in]`` direct values or ``[T, B, n_in]`` spikes."""
    rng = np.random.default_rng(seed)
    if spec.encoding == "direct":
        x = rng.integers(0, umax(spec.in_bits) + 1, (batch, spec.n_in))
        x[rng.random(x.shape) < 0.3] = 0
        return x
    return (rng.random((spec.timesteps, batch, spec.n_in)) < rate).astype(np.int64)
