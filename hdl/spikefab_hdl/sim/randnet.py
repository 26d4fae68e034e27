"""Seeded random networks and inputs for verifying the core (tests, sim, bench).

:func:`random_network` draws weights over the full ``w_bits`` range and biases over a
part of the ``b_bits`` range, so that small ``v_bits`` saturate the membranes and the
thresholds are crossed often; :func:`random_input` draws a batch in the encoding of the
spec (direct values over the full ``in_bits`` range with some zeros, or spikes with a
given rate).
"""

from __future__ import annotations

import numpy as np
from spikefab.fixed import smax, smin, umax
from spikefab.ir import QuantizedNetwork
from spikefab.spec import LayerSpec, LIFSpec, NetworkSpec

__all__ = ["random_network", "random_input", "make_spec"]


def make_spec(
    sizes,
    *,
    timesteps: int = 4,
    encoding: str = "spikes",
    in_bits: int = 1,
    w_bits: int = 6,
    b_bits: int = 8,
    neurons=None,
) -> NetworkSpec:
    """A spec with layer sizes ``sizes`` (``n_in, h1, ..., n_classes``).

    ``neurons`` is one LIFSpec per hidden layer (default ``LIFSpec(10, 24, 2)``).
    """
    hidden = len(sizes) - 2
    neurons = list(neurons) if neurons is not None else [LIFSpec(10, 24, 2)] * hidden
    if len(neurons) != hidden:
        raise ValueError(
            f"neurons must have {hidden} entries (one per hidden layer), not {len(neurons)}"
        )
    layers = [
        LayerSpec(sizes[i], sizes[i + 1], w_bits, b_bits, neurons[i] if i < hidden else None)
        for i in range(len(sizes) - 1)
    ]
    return NetworkSpec(tuple(layers), timesteps, encoding, in_bits if encoding == "direct" else 1)


def random_network(
    spec: NetworkSpec, seed: int, *, bias_fraction: float = 0.25
) -> QuantizedNetwork:
    """Weights uniform over the full ``w_bits`` range; biases over ``bias_fraction`` of it."""
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for layer in spec.layers:
        shape = (layer.n_out, layer.n_in)
        weights.append(rng.integers(smin(layer.w_bits), smax(layer.w_bits) + 1, shape))
        hi = max(1, int(smax(layer.b_bits) * bias_fraction))
        biases.append(rng.integers(-hi, hi + 1, layer.n_out))
    return QuantizedNetwork(spec, tuple(weights), tuple(biases), {"source": f"random seed {seed}"})


def random_input(spec: NetworkSpec, batch: int, seed: int, *, rate: float = 0.3) -> np.ndarray:
    """A batch in the spec's encoding: ``[B, n_in]`` direct values or ``[T, B, n_in]`` spikes."""
    rng = np.random.default_rng(seed)
    if spec.encoding == "direct":
        x = rng.integers(0, umax(spec.in_bits) + 1, (batch, spec.n_in))
        x[rng.random(x.shape) < 0.3] = 0
        return x
    return (rng.random((spec.timesteps, batch, spec.n_in)) < rate).astype(np.int64)
