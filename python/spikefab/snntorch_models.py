"""snnTorch networks as users build them (``nn.Sequential`` of ``Linear`` and ``Leaky`` or
``Synaptic`` with ``init_hidden=True``, the form ``export_to_nir`` exports), trained on
digits with snnTorch's own defaults (ATan surrogate, Adam, cross-entropy on spike counts or
summed output), and exported with snnTorch's ``export_to_nir``: the models a user brings,
shared by the conformance tests, sim/ and ``bench/byo.py``. Needs ``snntorch`` (the dev
extra); nothing in spikefab imports this module.
"""

from __future__ import annotations

import numpy as np
import snntorch as snn
import torch
from snntorch import utils as snn_utils

from .data import encode_rate, load_dataset
from .train.threads import torch_threads


def neuron(kind: str, n: int, *, beta: float, alpha: float = 0.8, reset: str = "subtract",
           output: bool = False):
    """One snnTorch neuron layer with per-neuron parameters (a scalar one exports as shape
    (), which nir 1.0.8's type check refuses)."""
    args = dict(beta=torch.full((n,), beta), threshold=torch.ones(n), init_hidden=True,
                reset_mechanism=reset, output=output)
    if kind == "Synaptic":
        return snn.Synaptic(alpha=torch.full((n,), alpha), **args)
    return snn.Leaky(**args)


def build(kind: str, hidden, *, beta: float, alpha: float = 0.8, reset: str = "subtract",
          readout: str = "spikes", n_in: int = 64, n_out: int = 10, seed: int = 0):
    torch.manual_seed(seed)
    layers, a = [], n_in
    for h in hidden:
        layers += [torch.nn.Linear(a, h), neuron(kind, h, beta=beta, alpha=alpha, reset=reset)]
        a = h
    layers.append(torch.nn.Linear(a, n_out))
    if readout == "spikes":
        layers.append(neuron(kind, n_out, beta=beta, alpha=alpha, reset=reset, output=True))
    return torch.nn.Sequential(*layers)


def inputs(x01: np.ndarray, encoding: str, timesteps: int, seed: int) -> torch.Tensor:
    """Direct: the pixels as given ``[N, 64]``; rate: Bernoulli spikes ``[T, N, 64]``."""
    if encoding == "direct":
        return torch.from_numpy(np.asarray(x01, np.float32))
    return torch.from_numpy(encode_rate(x01, timesteps, seed=seed).astype(np.float32))


def train(net, encoding: str, timesteps: int, *, epochs: int, lr: float = 5e-3,
          batch: int = 64, seed: int = 0):
    """Adam on digits' training set (split ``seed``), cross-entropy of the output summed over
    time (spike counts for a spiking output layer); returns the digits dataset."""
    ds = load_dataset("digits", seed=seed)
    y = torch.from_numpy(ds.y_train)
    opt = torch.optim.Adam(net.parameters(), lr)
    gen = torch.Generator().manual_seed(seed)
    with torch_threads(1):
        for epoch in range(epochs):
            x = inputs(ds.x_train, encoding, timesteps, seed=1000 + epoch)
            order = torch.randperm(len(y), generator=gen)
            for i in range(0, len(y), batch):
                idx = order[i:i + batch]
                snn_utils.reset(net)
                outs = []
                for t in range(timesteps):
                    out = net(x[idx] if x.ndim == 2 else x[t, idx])
                    outs.append(out[0] if isinstance(out, tuple) else out)
                loss = torch.nn.functional.cross_entropy(torch.stack(outs).sum(0), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    snn_utils.reset(net)
    return ds


def export(net, x, path):
    """Write ``net``'s NIR graph (snnTorch's ``export_to_nir`` on one sample of ``x``) to
    ``path``; returns the path."""
    from snntorch.export_nir import export_to_nir

    from .nirgraph import write_nir

    sample = x[:1] if x.ndim == 2 else x[0, :1]
    return write_nir(export_to_nir(net, sample, ignore_dims=[0]), path)
