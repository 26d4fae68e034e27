"""Record what a user's own snnTorch network computes, as the reference file ``spikefab nir
check --reference`` reads (``run/nir_check.py``, docs/nir.md "The reference file").

``record_snntorch(net, x, timesteps)`` runs an ``nn.Sequential`` of torch layers and
snnTorch neurons built with ``init_hidden=True`` (the form ``export_to_nir`` exports) for
``timesteps`` steps, exactly as snnTorch's tutorials do, and returns::

    x           the inputs as given: [N, n_in] (the same every step) or [T, N, n_in]
    spikes<j>   the spikes of the j-th snnTorch neuron layer, [T, N, n] (0/1)
    prediction  argmax over classes of the output summed over time (spike counts when the
                network ends in a neuron, else the summed output current), ties to the
                lowest index as torch.argmax
    y           the labels, when given

``write_reference(path, ref)`` saves it as ``.npz``, atomically. snnTorch is imported by the
caller's network, not here.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write_bytes

__all__ = ["record_snntorch", "write_reference"]

_NEURONS = ("Leaky", "Synaptic")


def record_snntorch(net, x, timesteps: int | None = None, y=None) -> dict:
    """The reference arrays of ``net`` (an ``nn.Sequential`` with snnTorch neurons) on ``x``
    (module docstring). ``timesteps`` is required for a direct ``x`` ``[N, n_in]``."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if x.ndim == 3:
        timesteps = x.shape[0] if timesteps is None else timesteps
        if timesteps != x.shape[0]:
            raise ValueError(f"timesteps {timesteps} contradicts x with T = {x.shape[0]}")
    elif x.ndim != 2 or timesteps is None:
        raise ValueError("record_snntorch needs x [N, n_in] with timesteps, or x [T, N, n_in]")
    neurons = [m for m in net if type(m).__name__ in _NEURONS]
    if not neurons:
        raise ValueError("record_snntorch: the network has no snnTorch Leaky or Synaptic layer")
    for m in neurons:
        if not getattr(m, "init_hidden", False):
            raise ValueError(f"record_snntorch: {type(m).__name__} layers must be built with "
                             "init_hidden=True (as export_to_nir needs)")
        m.reset_mem()
    seen = [[] for _ in neurons]
    hooks = [m.register_forward_hook(
        lambda mod, i, o, k=k: seen[k].append(o[0] if isinstance(o, tuple) else o))
        for k, m in enumerate(neurons)]
    outs = []
    try:
        with torch.no_grad():
            for t in range(timesteps):
                out = net(x if x.ndim == 2 else x[t])
                outs.append(out[0] if isinstance(out, tuple) else out)
    finally:
        for h in hooks:
            h.remove()
        for m in neurons:
            m.reset_mem()
    ref = {"x": x.numpy()}
    for k, s in enumerate(seen):
        ref[f"spikes{k}"] = torch.stack(s).numpy().astype(np.uint8)
    ref["prediction"] = torch.stack(outs).sum(0).argmax(1).numpy().astype(np.int64)
    if y is not None:
        ref["y"] = np.asarray(y, dtype=np.int64)
    return ref


def write_reference(path, ref: dict) -> Path:
    """Save ``ref`` (``record_snntorch``'s dict) as ``path`` (``.npz``), atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **ref)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path
