"""snnTorch twins of spikefab's students and the measurement workers of ``train_speed.py``.

The twins use ``snntorch.Leaky`` with the equations of ``spikefab.snn.lif``:
``beta = 1 - 2**-leak_shift``, ``threshold = theta``, the fast-sigmoid surrogate with the same
slope, the same reset mechanism, and ``reset_delay=False`` (snnTorch then resets in the step
that fired: ``mem = beta * mem + I - theta * s``, exactly ours as long as a neuron's
post-reset membrane stays below threshold). They share the spikefab model's layers
(``Linear`` / ``Conv2d`` / ``MaxPool2d``) and, like it, compute the first layer's current once
for a direct (constant) input. ``twin_check`` measures how far the two are apart.

Each worker runs in its own process (``python bench/train_speed.py --worker JSON``) with one
torch thread and prints one JSON line.
"""

from __future__ import annotations

import copy
import ctypes
import gc
import statistics
import time

import numpy as np
import snntorch as snn
import torch
import torch.nn.functional as F
from snntorch import surrogate
from spikefab.data import load_dataset, quantize_input
from spikefab.snn.cnn import SpikingCNN
from spikefab.snn.mlp import SpikingMLP
from spikefab.train.heap import keep_freed_memory
from spikefab.train.optim import adam
from torch import nn

__all__ = ["IMPLS", "build", "run_worker"]

#: Implementations compared: spikefab's three time loops, the snnTorch twin, and
#: ``floor``: the same synaptic layers on the same number of inputs with no neurons at all.
IMPLS = ("snntorch", "loop", "fused", "compiled", "floor")


def _leaky(lif) -> snn.Leaky:
    return snn.Leaky(beta=lif.beta, threshold=lif.theta, reset_mechanism=lif.reset,
                     spike_grad=surrogate.fast_sigmoid(slope=lif.slope), reset_delay=False)


class SnnTorchMLP(nn.Module):
    """``SpikingMLP``'s layers with an ``snntorch.Leaky`` per hidden layer (direct input)."""

    def __init__(self, ours: SpikingMLP):
        super().__init__()
        self.timesteps = ours.timesteps
        self.fcs = copy.deepcopy(ours.fcs)
        self.lifs = nn.ModuleList(_leaky(lif) for lif in ours.lifs)

    def forward(self, x):
        mems = [lif.reset_mem() for lif in self.lifs]
        first = self.fcs[0](x)
        out = []
        for _ in range(self.timesteps):
            cur = first
            for i, lif in enumerate(self.lifs):
                spk, mems[i] = lif(cur, mems[i])
                cur = self.fcs[i + 1](spk)
            out.append(cur)
        return torch.stack(out)


class SnnTorchCNN(nn.Module):
    """``SpikingCNN``'s layers (conv, Leaky, maxpool per stage; linear readout)."""

    def __init__(self, ours: SpikingCNN):
        super().__init__()
        self.timesteps = ours.timesteps
        self.image_shape = ours.image_shape
        self.convs = copy.deepcopy(ours.convs)
        self.readout = copy.deepcopy(ours.readout)
        self.pool = nn.MaxPool2d(2)
        self.lifs = nn.ModuleList(_leaky(lif) for lif in ours.lifs)

    def forward(self, x):
        x = x.view(x.shape[0], *self.image_shape)
        mems = [lif.reset_mem() for lif in self.lifs]
        first = self.convs[0](x)
        out = []
        for _ in range(self.timesteps):
            h = None
            for i, lif in enumerate(self.lifs):
                spk, mems[i] = lif(first if i == 0 else self.convs[i](h), mems[i])
                h = self.pool(spk)
            out.append(self.readout(h.flatten(1)))
        return torch.stack(out)


class Floor(nn.Module):
    """The work every engine shares: the student's synaptic layers without neurons.

    The first layer runs once (direct input), every later layer on ``T x B`` inputs, as
    in both engines; the neurons are left out (identity). A training step of this model
    (same loss, Adam, batches) is what no spiking engine can go below, so
    ``floor / snnTorch`` samples/s bounds the speed-up any engine can reach over snnTorch.
    """

    def __init__(self, ours):
        super().__init__()
        self.ours = ours
        self.cnn = isinstance(ours, SpikingCNN)

    def forward(self, x):
        o, T = self.ours, self.ours.timesteps
        if self.cnn:
            first = o.convs[0](x.view(x.shape[0], *o.image_shape))
            h = F.max_pool2d(first.unsqueeze(0).expand(T, *first.shape).flatten(0, 1), 2)
            for conv in o.convs[1:]:
                h = F.max_pool2d(conv(h), 2)
            out = o.readout(h.flatten(1))
        else:
            first = o.fcs[0](x)
            h = first.unsqueeze(0).expand(T, *first.shape).flatten(0, 1)
            for fc in o.fcs[1:]:
                h = fc(h)
            out = h
        return out.view(T, x.shape[0], -1)


STUDENTS = {
    # name: (dataset, builder(T, engine)); the students of bench/kd.py
    "mlp": ("mnist5k", lambda T, e: SpikingMLP((784, 128, 10), timesteps=T, engine=e)),
    "cnn": ("mnist5k", lambda T, e: SpikingCNN((1, 28, 28), (8, 16), 10, timesteps=T,
                                                 engine=e)),
    "mlp-digits": ("digits", lambda T, e: SpikingMLP((64, 64, 10), timesteps=T, engine=e)),
    "cnn-digits": ("digits", lambda T, e: SpikingCNN((1, 8, 8), (8, 16), 10, timesteps=T,
                                                       engine=e)),
}


def build(student: str, T: int, impl: str, seed: int = 0) -> nn.Module:
    """The student ``student`` with ``T`` steps as ``impl``; same weights for every impl."""
    torch.manual_seed(seed)
    ours = STUDENTS[student][1](T, "fused" if impl in ("snntorch", "floor") else impl)
    if impl == "floor":
        return Floor(ours)
    if impl != "snntorch":
        return ours
    return SnnTorchMLP(ours) if isinstance(ours, SpikingMLP) else SnnTorchCNN(ours)


def _data(student: str, seed: int = 0):
    ds = load_dataset(STUDENTS[student][0], seed=seed)
    x_tr = torch.from_numpy(quantize_input(ds.x_train, 4))
    x_te = torch.from_numpy(quantize_input(ds.x_test, 4))
    return x_tr, torch.from_numpy(ds.y_train), x_te, ds.y_test


def _adam(model, lr, cfg):
    """The same optimiser for every implementation: spikefab's (``train.optim.adam``,
    fused) or, with ``cfg["adam"] == "default"``, ``torch.optim.Adam``'s default kernel."""
    return adam(model.parameters(), lr=lr, fused=cfg.get("adam", "fused") == "fused")


def _step(model, opt, xb, yb):
    loss = F.cross_entropy(model(xb).mean(0), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _batches(x, y, batch, n, seed):
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    for k in range(n):
        idx = order[(k * batch) % (len(y) - batch + 1):][:batch]
        yield x[idx], y[idx]


def twin_check(student: str, T: int, batch: int = 256) -> dict:
    """Logits of the snnTorch twin vs spikefab (fused) on test images, same weights."""
    _, _, x_te, _ = _data(student)
    xb = x_te[:batch]
    with torch.no_grad():
        a = build(student, T, "fused")(xb)
        b = build(student, T, "snntorch")(xb)
    return {"max_abs_logit_diff": float((a - b).abs().max()),
            "pred_agreement": float((a.sum(0).argmax(1) == b.sum(0).argmax(1)).float().mean())}


def _time(cfg):
    x, y, _, _ = _data(cfg["student"])
    models = {i: build(cfg["student"], cfg["T"], i) for i in cfg["impls"]}
    opts = {i: _adam(m, 1e-3, cfg) for i, m in models.items()}
    batch, steps = cfg["batch"], cfg["steps"]
    for i in models:  # warm-up (and torch.compile's compilation)
        for xb, yb in _batches(x, y, batch, 2, 1):
            _step(models[i], opts[i], xb, yb)
    wall = {i: [] for i in models}
    cpu = {i: [] for i in models}
    for r in range(cfg["rounds"]):  # interleaved, so load changes hit every impl alike
        for i in (list(models) if r % 2 == 0 else list(models)[::-1]):
            data = list(_batches(x, y, batch, steps, 100 + r))
            t0, c0 = time.perf_counter(), time.process_time()
            for xb, yb in data:
                _step(models[i], opts[i], xb, yb)
            wall[i].append(batch * steps / (time.perf_counter() - t0))
            cpu[i].append(batch * steps / (time.process_time() - c0))
    return {i: {"samples_s": statistics.median(wall[i]), "samples_s_cpu": statistics.median(cpu[i]),
                "samples_s_rounds": wall[i]} for i in models}


def _saved_bytes(model, xb) -> int:
    """Bytes of the distinct storages autograd saves for the backward of one forward."""
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(xb).mean(0).sum()
    return sum(seen.values())


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def _memory_one(cfg, impl):
    student, T, batch = cfg["student"], cfg["T"], cfg["batch"]
    x, y, _, _ = _data(student)
    if impl == "compiled":  # compile forward and backward outside the measured window
        warm = build(student, T, impl)
        _step(warm, _adam(warm, 1e-3, cfg), *next(_batches(x, y, batch, 1, 1)))
        del warm
    model = build(student, T, impl)
    opt = _adam(model, 1e-3, cfg)
    data = list(_batches(x, y, batch, 3, 1))
    saved = _saved_bytes(model, data[0][0])
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kb("VmRSS")
    for xb, yb in data:
        _step(model, opt, xb, yb)
    return {"peak_mb": (_status_kb("VmHWM") - before) / 1024, "saved_mb": saved / 2**20}


def _memory(cfg):
    """Peak RSS growth over three training steps of each implementation in turn: before
    each, free heap memory goes back to the OS (``malloc_trim``) and the peak is reset
    (``/proc/self/clear_refs``, Linux). A first, discarded run takes torch's one-time lazy
    initialisations out of the first figure. Also the twin check."""
    _memory_one(cfg, cfg["impls"][-1])  # one-time lazy initialisations
    out = {i: _memory_one(cfg, i) for i in cfg["impls"]}
    out["twin"] = twin_check(cfg["student"], cfg["T"])
    return out


def _accuracy(cfg):
    x, y, x_te, y_te = _data(cfg["student"])
    out = {}
    n = len(y)
    per_epoch = -(-n // cfg["batch"])
    for impl in cfg["impls"]:
        accs, secs = [], 0.0
        for seed in cfg["seeds"]:
            model = build(cfg["student"], cfg["T"], impl, seed=seed)
            opt = _adam(model, cfg["lr"], cfg)
            t0 = time.perf_counter()
            for epoch in range(cfg["epochs"]):
                gen = torch.Generator().manual_seed(1000 * seed + epoch)
                order = torch.randperm(n, generator=gen)
                for k in range(per_epoch):
                    idx = order[k * cfg["batch"]:(k + 1) * cfg["batch"]]
                    _step(model, opt, x[idx], y[idx])
            secs += time.perf_counter() - t0
            with torch.no_grad():
                pred = np.concatenate([model(x_te[s:s + 500]).sum(0).argmax(1).numpy()
                                       for s in range(0, len(x_te), 500)])
            accs.append(float((pred == y_te).mean()))
        out[impl] = {"test_acc": statistics.mean(accs), "test_acc_seeds": accs,
                     "train_samples_s": n * cfg["epochs"] * len(cfg["seeds"]) / secs}
    return out


def run_worker(cfg: dict) -> dict:
    """One measurement in this process (one torch thread): ``cfg["kind"]`` is ``"time"``,
    ``"memory"``, ``"accuracy"`` or ``"twin"``."""
    torch.set_num_threads(1)
    if cfg.get("malloc", "keep") == "keep":  # the same allocator policy for every impl
        keep_freed_memory()
    kind = cfg["kind"]
    if kind == "time":
        return _time(cfg)
    if kind == "memory":
        return _memory(cfg)
    if kind == "accuracy":
        return _accuracy(cfg)
    if kind == "twin":
        return twin_check(cfg["student"], cfg["T"])
    raise ValueError(f"worker kind must be 'time', 'memory', 'accuracy' or 'twin', not {kind!r}")
