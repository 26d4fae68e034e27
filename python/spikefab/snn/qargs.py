"""Argument checks of the spiking MLPs (float and QAT): layer sizes, per-layer widths, the QAT
neuron templates and the QAT input.

Each raises a one-line ``ValueError`` naming the owner, the layer and the allowed range.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..fixed import is_int


def _per_layer(owner, name, value, n, check):
    """Broadcast a scalar (or check a sequence) to one value per layer."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != n:
            raise ValueError(f"{owner} {name} must have one entry per layer ({n}), not {value!r}")
        values = list(value)
    else:
        values = [value] * n
    for i, v in enumerate(values):
        check(i, v)
    return [int(v) if is_int(v) else v for v in values]


def _check_sizes(owner, sizes) -> tuple[int, ...]:
    ok = isinstance(sizes, Sequence) and not isinstance(sizes, str) and len(sizes) >= 2
    ok = ok and all(is_int(n) and n >= 1 for n in sizes)
    if not ok:
        raise ValueError(
            f"{owner} sizes must be a sequence of >= 2 positive integers, not {sizes!r}"
        )
    return tuple(int(n) for n in sizes)


def _int_check(owner, name, lo, hi):
    def check(i, v):
        if not is_int(v) or not lo <= v <= hi:
            raise ValueError(
                f"{owner} layer {i}: {name} must be an integer in [{lo}, {hi}], not {v!r}"
            )

    return check


def _neuron_templates(owner, n, *, leak_shift, reset, v_bits, decay, decay_bits, threshold,
                      synapse):
    """One ``LIFSpec`` per spiking layer with a placeholder ``theta = 1`` (the learned
    threshold replaces it): validates the extension fields with ``LIFSpec``'s messages,
    prefixed with the layer."""
    from ..spec import LIFSpec, SynapseSpec

    def any_value(i, v):
        del i, v

    def syn_check(i, v):
        if v is not None and not isinstance(v, SynapseSpec):
            raise TypeError(f"{owner} layer {i}: synapse must be a SynapseSpec or None, not "
                            f"{type(v).__name__}")

    decays = _per_layer(owner, "decay", decay, n, any_value)
    decay_bits = _per_layer(owner, "decay_bits", decay_bits, n, any_value)
    thresholds = _per_layer(owner, "threshold", threshold, n, any_value)
    synapses = _per_layer(owner, "synapse", synapse, n, syn_check)
    out = []
    for i in range(n):
        try:
            out.append(LIFSpec(v_bits=v_bits[i], theta=1, leak_shift=leak_shift[i],
                               reset=reset[i], decay=decays[i], decay_bits=decay_bits[i],
                               threshold=thresholds[i], synapse=synapses[i]))
        except (ValueError, TypeError) as e:
            raise type(e)(f"{owner} layer {i}: {e}".replace("LIFSpec.", "", 1)) from None
    return out


def exact_input(own, x, *, encoding, in_bits, n_in, timesteps):
    """A QAT model's input as float64 integers: direct ``[B, n_in]`` (floats in [0, 1] seen
    as ``round(x * (2**in_bits - 1))``, or unsigned integers), or spikes ``[T, B, n_in]`` of
    0/1; one-line errors naming ``own``."""
    import torch

    from ..fixed import umax
    from .qlif import EXACT_DTYPE

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{own} input must be a torch.Tensor, not {type(x).__name__}")
    T = timesteps
    if encoding == "direct":
        if x.ndim != 2 or x.shape[1] != n_in:
            raise ValueError(
                f"{own} input must have shape [B, {n_in}] (encoding 'direct'), "
                f"not {list(x.shape)}"
            )
        hi = umax(in_bits)
        if x.is_floating_point():
            lo_x, hi_x = (float(x.min()), float(x.max())) if x.numel() else (0.0, 0.0)
            if not (lo_x >= 0.0 and hi_x <= 1.0):
                raise ValueError(
                    f"{own} float input must lie in [0, 1] (x_int / {hi}), "
                    f"not [{lo_x:g}, {hi_x:g}]"
                )
            return torch.round(x.detach().to(EXACT_DTYPE) * hi)
        if x.numel() and (int(x.min()) < 0 or int(x.max()) > hi):
            raise ValueError(
                f"{own} integer input must lie in [0, {hi}], "
                f"not [{int(x.min())}, {int(x.max())}]"
            )
        return x.to(EXACT_DTYPE)
    if x.ndim != 3 or x.shape[0] != T or x.shape[2] != n_in:
        raise ValueError(
            f"{own} input must have shape [{T}, B, {n_in}] (encoding 'spikes'), "
            f"not {list(x.shape)}"
        )
    if x.numel() and not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(f"{own} spike input values must be 0 or 1")
    return x.detach().to(EXACT_DTYPE)
