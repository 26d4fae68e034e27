"""Fast LIF time loop: the whole ``T``-step recurrence as one autograd node.

The float model (``snn.lif``) runs, per step ``t`` and per neuron::

    v = beta * v + I[t];   s = spike(v - theta);   v = v - theta * s  (or v * (1 - s))

A feed-forward spiking network couples layers only within a step, so the same numbers come
out when it runs *layer by layer* instead of *step by step*: one matmul / convolution over all
``T * B`` rows of a layer, then the layer's LIF recurrence over ``T`` (``lif_sequence``), then
the next layer (``mlp_forward``; the conv student's ``snn.fused_cnn.cnn_forward``).
``lif_sequence`` is a custom ``torch.autograd.Function``: its forward runs the recurrence
without building a graph and its backward runs the reverse-time recurrence of the surrogate
gradient, so autograd sees one node per layer instead of about eight per step.
Two kernels compute it:

- ``"fused"``: for float32 CPU tensors the C loop of ``snn.native`` (one call per direction,
  the same floating-point operations); otherwise eager PyTorch, in-place ops into
  preallocated ``[T, ...]`` buffers;
- ``"compiled"``: the same recurrence through ``torch.compile`` (Inductor writes one C++ loop
  per direction). Faster per step, but the first call in a process costs seconds of
  compilation (minutes with a cold cache) and it needs a C++ compiler.

Exactness: each kernel performs the floating-point operations of ``lif_step_float`` and of
autograd's backward through it, in the same order (no fused multiply-add; division by the
squared surrogate denominator; a constant current's gradient summed from ``t = T-1`` down to
0), so spikes, membranes and the gradient with respect to the current equal the per-step loop
bit for bit. A whole model calls its synaptic layers once over ``T * B`` rows instead of ``T``
times over ``B``; BLAS may sum those in another order (1 ulp), so its logits equal the loop's
bit for bit where the synaptic sums are exact (``tests/dyadic.py``) and to rounding otherwise;
parameter gradients differ in summation order, see ``tests/test_fused.py``. Memory: the saved
state is ``v - theta`` per step (and ``v`` for ``reset="zero"``), linear in ``T``.
"""

from __future__ import annotations

import torch

from ..fixed import is_int
from ..spec import V1_RESETS
from . import native
from .surrogate import SLOPE

__all__ = ["ENGINES", "KERNELS", "check_engine", "check_sequence_args", "lif_sequence",
           "mlp_forward"]

#: Time-loop implementations of the spiking models: the two kernels of ``lif_sequence`` in
#: layer-major order, and ``"loop"``, the plain per-step reference.
ENGINES = ("fused", "compiled", "loop")
#: Kernels of ``lif_sequence``.
KERNELS = ("fused", "compiled")


def check_engine(owner: str, engine) -> str:
    """Validate a model's ``engine`` argument; return it."""
    if engine not in ENGINES:
        allowed = ", ".join(repr(e) for e in ENGINES)
        raise ValueError(f"{owner} engine must be one of {allowed}, not {engine!r}")
    return engine


# ---------------------------------------------------------------- eager kernels (in place)


def _forward_eager(cur, steps, beta, theta, zero, const):
    shape = cur.shape if const else cur.shape[1:]
    spk = cur.new_empty((steps, *shape))
    xs = cur.new_empty((steps, *shape))  # v - theta
    vs = cur.new_empty((steps, *shape)) if zero else None  # v before the reset
    v = cur.new_empty(shape)
    for t in range(steps):
        c = cur if const else cur[t]
        vt = vs[t] if zero else v
        if t == 0:  # beta * 0 + I == I
            if zero:
                vt.copy_(c)
            else:
                vt = c  # read only; v is first written by this step's reset
        elif zero:
            torch.mul(v, beta, out=vt).add_(c)
        else:
            (vt.mul_(beta) if beta != 1.0 else vt).add_(c)
        x = torch.sub(vt, theta, out=xs[t])
        s = torch.ge(x, 0, out=spk[t])
        if t == steps - 1:
            break  # the last reset is never read
        if zero:
            torch.mul(vt, torch.rsub(s, 1.0), out=v)  # v * (1 - s)
        else:  # theta * s is exact (s is 0 or 1): one rounding, as v - theta*s
            torch.sub(vt, s, alpha=theta, out=v)
    return spk, xs, vs


def _backward_eager(grad_s, xs, vs, beta, theta, slope, const):
    """Reverse-time surrogate gradient, one step at a time into reused step-sized buffers
    (big ``[T, ...]`` temporaries cost more in page faults than in arithmetic)."""
    steps = xs.shape[0]
    shape = xs.shape[1:]
    den = xs.new_empty(shape)  # (1 + slope |x|) ** 2, computed as a product like torch's pow
    gx = xs.new_empty(shape)
    keep = None if vs is None else xs.new_empty(shape)  # 1 - s
    gvp = xs.new_empty(shape)  # gradient reaching v after step t's reset, from step t + 1
    grad_i = None if const else torch.empty_like(xs)
    gv = xs.new_empty(shape) if const else None
    total = xs.new_empty(shape) if const else None
    for t in range(steps - 1, -1, -1):
        x = xs[t]
        torch.abs(x, out=den).mul_(slope).add_(1.0)
        den.mul_(den)
        if const:  # the last step's gradient starts the sum in place
            out = total if t == steps - 1 else gv
        else:
            out = grad_i[t]
        if t == steps - 1:
            torch.div(grad_s[t], den, out=out)
        elif vs is None:
            if theta != 1.0:
                torch.mul(gvp, theta, out=gx)
                torch.sub(grad_s[t], gx, out=gx)
            else:
                torch.sub(grad_s[t], gvp, out=gx)
            gx.div_(den)
            torch.add(gvp, gx, out=out)
        else:
            torch.mul(gvp, vs[t], out=gx)
            torch.sub(grad_s[t], gx, out=gx).div_(den)
            torch.lt(x, 0, out=keep)
            torch.mul(gvp, keep, out=out).add_(gx)
        if const and t < steps - 1:
            total.add_(gv)
        if t:
            if beta != 1.0:
                torch.mul(out, beta, out=gvp)
            else:
                gvp.copy_(out)
    return total if const else grad_i


# ------------------------------------------------------- pure kernels (for torch.compile)


def _forward_pure(cur, steps: int, beta: float, theta: float, zero: bool, const: bool):
    v = None
    spk, xs, vs = [], [], []
    for t in range(steps):
        c = cur if const else cur[t]
        v = c if v is None else v * beta + c
        x = v - theta
        s = (x >= 0).to(cur.dtype)
        spk.append(s)
        xs.append(x)
        if zero:
            vs.append(v)
            v = v * (1.0 - s)
        else:
            v = v - theta * s
    return torch.stack(spk), torch.stack(xs), (torch.stack(vs) if zero else None)


def _backward_pure(grad_s, xs, vs, beta: float, theta: float, slope: float, const: bool):
    steps = xs.shape[0]
    denom = (1.0 + slope * xs.abs()) ** 2
    keep = None if vs is None else 1.0 - (xs >= 0).to(xs.dtype)
    total, grads, gvp = None, [], None
    for t in range(steps - 1, -1, -1):
        if gvp is None:
            gv = grad_s[t] / denom[t]
        elif vs is None:
            gv = gvp + (grad_s[t] - gvp * theta) / denom[t]
        else:
            gv = gvp * keep[t] + (grad_s[t] - gvp * vs[t]) / denom[t]
        if const:
            total = gv if total is None else total + gv
        else:
            grads.append(gv)
        gvp = gv * beta
    return total if const else torch.stack(grads[::-1])


_COMPILED: dict = {}


def _compiled(name, fn):
    if name not in _COMPILED:
        _COMPILED[name] = torch.compile(fn, dynamic=True, fullgraph=True)
    return _COMPILED[name]


def _flat(t, lead):
    return t.reshape(*t.shape[:lead], -1)


class _LIFSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, current, timesteps, beta, theta, reset, slope, kernel):
        const = timesteps is not None
        steps = timesteps if const else current.shape[0]
        zero = reset == "zero"
        if kernel == "compiled":
            shape = (steps, *(current.shape if const else current.shape[1:]))
            fwd = _compiled("forward", _forward_pure)
            spk, xs, vs = fwd(_flat(current, 0 if const else 1), steps, beta, theta, zero, const)
            spk = spk.view(shape)
        elif native.usable(current):
            kernel = "native"
            spk, xs, vs = native.forward(current, steps, beta, theta, zero, const)
        else:
            spk, xs, vs = _forward_eager(current, steps, beta, theta, zero, const)
        ctx.save_for_backward(xs, vs)
        ctx.args = (beta, theta, slope, const, kernel, current.shape)
        return spk

    @staticmethod
    def backward(ctx, grad_s):
        xs, vs = ctx.saved_tensors
        beta, theta, slope, const, kernel, shape = ctx.args
        if kernel == "compiled":
            bwd = _compiled("backward", _backward_pure)
            grad = bwd(_flat(grad_s, 1), xs, vs, beta, theta, slope, const).view(shape)
        elif kernel == "native":
            grad = native.backward(grad_s, xs, vs, beta, theta, slope, const)
        else:
            grad = _backward_eager(grad_s, xs, vs, beta, theta, slope, const)
        return grad, None, None, None, None, None, None


def check_sequence_args(owner: str, current, reset, kernel, timesteps) -> None:
    """One-line errors for the arguments ``lif_sequence`` and ``lif_pool_sequence`` share."""
    if not isinstance(current, torch.Tensor) or not current.is_floating_point():
        what = current.dtype if isinstance(current, torch.Tensor) else type(current).__name__
        raise TypeError(f"{owner} current must be a floating-point tensor, not {what}")
    if reset not in V1_RESETS:
        allowed = ", ".join(repr(r) for r in V1_RESETS)
        raise ValueError(f"{owner} reset must be one of {allowed}, not {reset!r}")
    if kernel not in KERNELS:
        allowed = ", ".join(repr(k) for k in KERNELS)
        raise ValueError(f"{owner} kernel must be one of {allowed}, not {kernel!r}")
    if timesteps is not None and (not is_int(timesteps) or timesteps < 1):
        raise ValueError(
            f"{owner} timesteps must be None or an integer >= 1, not {timesteps!r}"
        )
    if timesteps is None and (current.ndim < 1 or current.shape[0] < 1):
        raise ValueError(
            f"{owner} current must have a leading time axis of length >= 1 "
            f"when timesteps is None, not shape {list(current.shape)}"
        )


def lif_sequence(
    current: torch.Tensor,
    *,
    beta: float,
    theta: float,
    reset: str,
    slope: float = SLOPE,
    timesteps: int | None = None,
    kernel: str = "fused",
) -> torch.Tensor:
    """Spikes ``[T, ...]`` of float LIF neurons driven by ``current``, membrane starting at 0.

    Equal, bit for bit and in gradient, to calling ``lif_step_float`` ``T`` times.

    Parameters
    ----------
    current : torch.Tensor
        ``[T, ...]`` input current per step, or ``[...]`` applied at every step when
        ``timesteps`` is given (direct encoding: the first layer's current is constant).
    beta, theta, reset, slope :
        As ``lif_step_float``.
    timesteps : int, optional
        Number of steps for a constant ``current``.
    kernel : str
        ``"fused"`` (eager) or ``"compiled"`` (``torch.compile``); same numbers.
    """
    check_sequence_args("lif_sequence", current, reset, kernel, timesteps)
    return _LIFSequence.apply(
        current, timesteps, float(beta), float(theta), reset, float(slope), kernel
    )


def _lif(lif, current, timesteps, kernel):
    return lif_sequence(current, beta=lif.beta, theta=lif.theta, reset=lif.reset,
                        slope=lif.slope, timesteps=timesteps, kernel=kernel)


def mlp_forward(model, x: torch.Tensor, return_hidden: bool = False):
    """Layer-major forward of a ``SpikingMLP`` on a checked ``x``; its loop's outputs (exactly
where the synaptic layers give the same currents for ``T * B`` rows as per step). Every
neuron stage must be ``LIF.v1`` (threshold ``ge``, reset subtract or zero, no synapse).

    Uses ``model.engine`` (``"fused"`` or ``"compiled"``) as the ``lif_sequence`` kernel.
    """
    steps, kernel = model.timesteps, model.engine
    cur = model.fcs[0](x)
    const = x.ndim == 2
    hidden = []
    for i, lif in enumerate(model.lifs):
        h = _lif(lif, cur, steps if const else None, kernel)
        hidden.append(h)
        cur = model.fcs[i + 1](h)
        const = False
    if getattr(model, "readout_lif", None) is not None:  # spike readout: its spikes
        out = _lif(model.readout_lif, cur, steps if const else None, kernel)
    else:
        out = torch.stack([cur] * steps) if const else cur
    return (out, hidden) if return_hidden else out
