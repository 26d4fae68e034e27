"""QSpikingMLP: a quantization-aware spiking network whose forward pass IS the golden model
(semantics v1 and every named extension: the neuron modes, the spike readout and conv2d;
docs/semantics.md).

Layer ``l`` keeps float weights ``w``, bias ``b`` and a positive scale ``S_l`` (membrane
LSBs per float unit). Every forward pass puts them on the integer grids of DESIGN §2::

    w_int = sat(round(w * S_l / x_max_l), w_bits)     x_max_l: 2**in_bits - 1 for a direct
    b_int = sat(round(b * S_l), b_bits)                 first layer, else 1 (spikes)
    theta_int = clamp(round(theta * S_l), 1, 2**(v_bits-1) - 1)

and runs the integer equations (``qlif_step``, ``qsynapse_step``) on float64 tensors holding
integers, so ``w_int``, ``b_int``, ``theta_int``, every membrane, synaptic current, spike and
readout value are exactly what ``spikefab.golden.run_network`` computes for the exported
network. With ``convs`` a layer is a convolution (``snn.qconv``: ``F.conv2d`` on the integer
grid, then a window's OR for pooling), so the same model is the QAT conv student. The
neuron modes (``decay``, ``threshold``, ``reset``, ``synapse``) are integer choices fixed
at construction, one per spiking layer; with ``readout="spikes"`` the last layer is a
spiking layer too and its spikes are the logits. Rounding, flooring and saturation pass
gradients straight through; the spike uses the surrogate of ``snn.surrogate`` on
``(v - theta_int) / S_l``.

Scales: ``scale_mode="learned"`` (default) trains ``log S_l`` (LSQ-style; the gradient
comes through the straight-through roundings), ``"fixed"`` keeps them where calibration
(or the caller) put them. For a hidden layer, ``S_l`` is capped so that
``theta * S_l <= (2**(v_bits-1) - 1) / headroom``: the membrane holds ``headroom`` times the
threshold before it saturates.

``forward(x)`` returns float32 logits ``[T, B, C]`` = readout current / ``D`` with
``D = 2**round(log2 S_L)``: a power of two, so the division is exact and argmax over the
time sum equals the integer prediction whenever ``|acc| < 2**24``; ``forward_int`` and
``predict_int`` give the integers themselves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..fixed import is_int, is_number, smax, smin, umax
from ..golden.network import RunResult
from ..ir import QuantizedNetwork
from ..spec import (
    B_BITS_RANGE,
    ENCODINGS,
    IN_BITS_RANGE,
    READOUTS,
    V_BITS_RANGE,
    W_BITS_RANGE,
    ConvSpec,
)
from .lif import check_neuron_args, check_timesteps
from .qargs import _check_sizes, _int_check, _neuron_templates, _per_layer, exact_input
from .qconv import check_convs, layer_current, make_layer, n_neurons, pass_on
from .qlif import EXACT_DTYPE, EXTENSIONS, qlif_step, qsynapse_step, round_ste
from .surrogate import SLOPE

__all__ = ["SCALE_MODES", "QSpikingMLP"]

SCALE_MODES = ("learned", "fixed")


class QSpikingMLP(nn.Module):
    """Integer-exact spiking network ``sizes[0] -> ... -> sizes[-1]`` (a SpikingMLP drop-in;
    with ``convs`` a conv network, the QAT form of a ``SpikingCNN``).

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, classes last: what each layer reads (flat, channel-major
        for images), a conv layer's entry after it being its pooled output (``n_next``).
    timesteps : int
        Steps ``T``.
    leak_shift, theta, reset, v_bits : scalar or one per spiking layer
        Neuron stage (``LIFSpec``); ``theta`` is the float threshold (1.0 as in
        ``SpikingMLP``), ``v_bits`` in [2, 32]. The spiking layers are the hidden ones, and
        the last with ``readout="spikes"``.
    decay, decay_bits, threshold, synapse : scalar or one per spiking layer
        The integer neuron extensions of ``LIFSpec`` (``decay`` needs ``leak_shift=None``;
        ``synapse`` a ``SynapseSpec``: its current shares the layer's scale).
    w_bits, b_bits : int or one per layer (readout included)
        Weight width in [2, 16], bias width in [2, 32].
    encoding : str
        ``"direct"`` (``x`` is ``[B, n_in]`` in [0, 1], seen as ``encode_direct(x,
        in_bits)``, or unsigned integer tensors) or ``"spikes"`` (``[T, B, n_in]`` of 0/1).
    in_bits : int
        Direct input width in [1, 16]; must be 1 for spikes.
    scale_mode : str
        ``"learned"`` or ``"fixed"``.
    scales : sequence of float, optional
        Initial ``S_l`` per layer (default 1.0; ``spikefab.quant.qat.qat_from_float``
        calibrates them). A hidden layer's scale must put ``theta`` inside its ``v_bits`` membrane.
    headroom : float
        Learned scales keep ``theta_int <= smax(v_bits) / headroom`` (>= 1).
    slope : float
        Surrogate slope.
    readout : str
        ``"current"`` (v1) or ``"spikes"`` (the last layer spikes; logits are its spikes).
    convs : sequence of ConvSpec or None, optional
        One per layer: a ``ConvSpec`` makes the layer a convolution (extension ``conv2d``;
        its float weights ``[C_out, C_in, k, k]`` live in an ``nn.Conv2d``), None keeps it
        dense; the last layer is dense. Default: every layer dense.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        timesteps: int = 4,
        leak_shift=3,
        theta=1.0,
        reset="subtract",
        v_bits=16,
        w_bits=8,
        b_bits=16,
        encoding: str = "direct",
        in_bits: int = 4,
        scale_mode: str = "learned",
        scales: Sequence[float] | None = None,
        headroom: float = 2.0,
        slope: float = SLOPE,
        decay=None,
        decay_bits=12,
        threshold="ge",
        synapse=None,
        readout: str = "current",
        convs: Sequence[ConvSpec | None] | None = None,
    ):
        super().__init__()
        own = "QSpikingMLP"
        self.sizes = _check_sizes(own, sizes)
        self.convs = check_convs(own, convs, self.sizes)
        self.timesteps = check_timesteps(own, timesteps)
        if readout not in READOUTS:
            allowed = ", ".join(repr(r) for r in READOUTS)
            raise ValueError(f"{own} readout must be one of {allowed}, not {readout!r}")
        self.readout = readout
        # nh: the spiking layers (the hidden ones, and the last with readout "spikes")
        n = len(self.sizes) - 1
        nh = n if readout == "spikes" else n - 1

        def neuron(name):
            def check(i, v):
                kw = {"theta": 1.0, "reset": "subtract", name: v}
                check_neuron_args(f"{own} layer {i}:", **kw)

            return check

        self.leak_shift = _per_layer(own, "leak_shift", leak_shift, nh, neuron("leak_shift"))
        self.theta = [float(t) for t in _per_layer(own, "theta", theta, nh, neuron("theta"))]
        self.reset = _per_layer(own, "reset", reset, nh, neuron("reset"))
        self.v_bits = _per_layer(own, "v_bits", v_bits, nh, _int_check(own, "v_bits",
                                                                      *V_BITS_RANGE))
        for i, (k, vb) in enumerate(zip(self.leak_shift, self.v_bits, strict=True)):
            if k is not None and k >= vb:
                raise ValueError(f"{own} layer {i}: leak_shift must be below v_bits={vb}, not {k}")
        self.neurons = _neuron_templates(
            own, nh, leak_shift=self.leak_shift, reset=self.reset, v_bits=self.v_bits,
            decay=decay, decay_bits=decay_bits, threshold=threshold, synapse=synapse)
        self.w_bits = _per_layer(own, "w_bits", w_bits, n, _int_check(own, "w_bits",
                                                                      *W_BITS_RANGE))
        self.b_bits = _per_layer(own, "b_bits", b_bits, n, _int_check(own, "b_bits",
                                                                      *B_BITS_RANGE))
        if encoding not in ENCODINGS:
            allowed = ", ".join(repr(e) for e in ENCODINGS)
            raise ValueError(f"{own} encoding must be one of {allowed}, not {encoding!r}")
        lo, hi = (1, 1) if encoding == "spikes" else IN_BITS_RANGE
        if not is_int(in_bits) or not lo <= in_bits <= hi:
            raise ValueError(
                f"{own} in_bits must be an integer in [{lo}, {hi}] for encoding "
                f"{encoding!r}, not {in_bits!r}"
            )
        if scale_mode not in SCALE_MODES:
            allowed = ", ".join(repr(m) for m in SCALE_MODES)
            raise ValueError(f"{own} scale_mode must be one of {allowed}, not {scale_mode!r}")
        if not is_number(headroom) or not headroom >= 1:
            raise ValueError(f"{own} headroom must be a number >= 1, not {headroom!r}")
        in_bits = int(in_bits)
        self.encoding, self.in_bits = encoding, in_bits
        self.scale_mode, self.headroom = scale_mode, float(headroom)
        self.slope = float(slope)
        self.x_max = [umax(in_bits) if (i == 0 and encoding == "direct") else 1 for i in range(n)]
        self.caps = []
        for i in range(nh):
            cap = self._theta_top(i) / (self.headroom * self.theta[i])
            if round(cap * self.theta[i]) < 1:
                raise ValueError(
                    f"{own} layer {i}: v_bits={self.v_bits[i]} with headroom {self.headroom:g} "
                    f"leaves no integer threshold (theta would be 0 LSBs); raise v_bits"
                )
            self.caps.append(cap)
        self.caps += [math.inf] * (n - nh)
        self.fcs = nn.ModuleList(
            make_layer(a, b, c)
            for a, b, c in zip(self.sizes[:-1], self.sizes[1:], self.convs, strict=True)
        )
        scales = _per_layer(own, "scales", 1.0 if scales is None else scales, n, self._check_scale)
        self.log_scale = nn.Parameter(
            torch.tensor([math.log(s) for s in scales], dtype=EXACT_DTYPE),
            requires_grad=scale_mode == "learned",
        )

    # --- construction helpers -------------------------------------------------------------
    def _theta_top(self, i) -> int:
        """Largest integer threshold of spiking layer ``i`` (one less with ``"gt"``)."""
        return smax(self.v_bits[i]) - (self.neurons[i].threshold == "gt")

    def _check_scale(self, i, s):
        own = "QSpikingMLP"
        if isinstance(s, bool) or not isinstance(s, int | float) or not 0 < s < math.inf:
            raise ValueError(f"{own} layer {i}: scale must be a positive finite number, not {s!r}")
        if i < len(self.v_bits):
            top = self._theta_top(i)
            th = round(self.theta[i] * s)
            if not 1 <= th <= top:
                raise ValueError(
                    f"{own} layer {i}: scale {s:g} puts theta at {th} LSBs, outside [1, {top}] "
                    f"for v_bits={self.v_bits[i]}; lower the scale or raise v_bits"
                )

    @classmethod
    def from_ir(cls, net: QuantizedNetwork, *, scale_mode: str = "fixed") -> QSpikingMLP:
        """A QAT model whose integer parameters are exactly ``net``'s.

        Spiking layer ``l`` gets ``theta = 1.0`` and ``S_l = theta_int``, a summing readout
        ``S = 1``; the float weights are ``w_int * x_max / S`` (float64), which round back
        to ``w_int`` exactly. Used to check the QAT forward against golden on any IR, and
        to fine-tune an existing network.
        """
        if not isinstance(net, QuantizedNetwork):
            raise TypeError(f"from_ir net must be a QuantizedNetwork, not {type(net).__name__}")
        spec = net.spec
        spec.require("QSpikingMLP", EXTENSIONS)
        neurons = [layer.neuron for layer in spec.spiking]
        scales = [float(nr.theta) for nr in neurons] + [1.0] * (len(spec.layers) - len(neurons))
        q = cls(
            [spec.n_in] + [layer.n_next for layer in spec.layers],
            timesteps=spec.timesteps,
            leak_shift=[nr.leak_shift for nr in neurons],
            theta=1.0,
            reset=[nr.reset for nr in neurons],
            v_bits=[nr.v_bits for nr in neurons],
            decay=[nr.decay for nr in neurons],
            decay_bits=[nr.decay_bits for nr in neurons],
            threshold=[nr.threshold for nr in neurons],
            synapse=[nr.synapse for nr in neurons],
            readout=spec.readout,
            w_bits=[layer.w_bits for layer in spec.layers],
            b_bits=[layer.b_bits for layer in spec.layers],
            encoding=spec.encoding,
            in_bits=spec.in_bits,
            scale_mode=scale_mode,
            scales=scales,
            headroom=1.0,
            convs=[layer.conv for layer in spec.layers],
        )
        with torch.no_grad():
            for i, fc in enumerate(q.fcs):
                w = torch.from_numpy(net.weights[i].astype(np.float64))
                b = torch.from_numpy(net.biases[i].astype(np.float64))
                fc.weight.copy_(w * q.x_max[i] / scales[i])
                fc.bias.copy_(b / scales[i])
        return q

    # --- the integer parameters -------------------------------------------------------------
    def scales(self) -> torch.Tensor:
        """The per-layer scales ``S_l`` in use (learned ones capped for ``v_bits``)."""
        s = torch.exp(self.log_scale)
        if self.scale_mode == "fixed":
            return s
        return torch.minimum(s, torch.tensor(self.caps, dtype=EXACT_DTYPE))

    def integer_params(self):
        """Per layer ``(w_int, b_int, theta_int or None, S)`` as float64 tensors of integers.

        These exact tensors drive ``forward``; ``export_qat`` copies them.
        """
        out = []
        s_all = self.scales()
        nh = len(self.v_bits)
        for i, fc in enumerate(self.fcs):
            s = s_all[i]
            wb, bb = self.w_bits[i], self.b_bits[i]
            w = torch.clamp(round_ste(fc.weight * (s / self.x_max[i])), smin(wb), smax(wb))
            b = torch.clamp(round_ste(fc.bias * s), smin(bb), smax(bb))
            th = None
            if i < nh:
                th = torch.clamp(round_ste(self.theta[i] * s), 1.0, float(self._theta_top(i)))
            out.append((w, b, th, s))
        return out

    # --- forward ------------------------------------------------------------------------
    def _input(self, x) -> torch.Tensor:
        return exact_input("QSpikingMLP", x, encoding=self.encoding, in_bits=self.in_bits,
                           n_in=self.sizes[0], timesteps=self.timesteps)

    def run(self, x):
        """The integer forward pass with gradients.

        Returns ``(logits [T,B,C], spikes, membranes, params, synapses)``: float64 tensors of
        integers (readout currents, or the readout's spikes; per spiking layer ``[T,B,n]``
        spikes, exposed membranes, and synaptic currents or None) and ``integer_params()``.
        """
        xs = self._input(x)
        params = self.integer_params()
        batch = xs.shape[0] if self.encoding == "direct" else xs.shape[1]
        ns = len(self.neurons)
        vs = [xs.new_zeros(batch, n_neurons(n, c))
              for n, c in zip(self.sizes[1:1 + ns], self.convs, strict=False)]
        cs = [None if nr.synapse is None else v.clone() for nr, v in zip(self.neurons, vs,
                                                                           strict=True)]
        spikes, mems, syns = ([[] for _ in vs] for _ in range(3))
        logits = []
        w0, b0 = params[0][0], params[0][1]
        c0 = self.convs[0]
        first = layer_current(c0, xs, w0, b0) if self.encoding == "direct" else None
        for t in range(self.timesteps):
            cur = first if first is not None else layer_current(c0, xs[t], w0, b0)
            for i, nr in enumerate(self.neurons):
                _, _, th, s = params[i]
                if nr.synapse is not None:
                    syn = nr.synapse
                    cs[i] = qsynapse_step(cur, cs[i], i_bits=syn.i_bits, decay=syn.decay,
                                          decay_bits=syn.decay_bits)
                    cur = cs[i]
                    syns[i].append(cs[i])
                h, vs[i] = qlif_step(cur, vs[i], theta=th, v_bits=nr.v_bits,
                                     leak_shift=nr.leak_shift, reset=nr.reset, scale=s,
                                     slope=self.slope, decay=nr.decay,
                                     decay_bits=nr.decay_bits, threshold=nr.threshold)
                spikes[i].append(h)
                mems[i].append(vs[i])
                if i + 1 < len(params):
                    w, b = params[i + 1][0], params[i + 1][1]
                    cur = layer_current(self.convs[i + 1], pass_on(self.convs[i], h), w, b)
                else:
                    cur = h  # spike readout: the logits are the spikes
            logits.append(cur)
        stack = torch.stack
        return (stack(logits), [stack(s) for s in spikes], [stack(m) for m in mems], params,
                [stack(c) if c else None for c in syns])

    def logit_divisor(self) -> float:
        """``D = 2**round(log2 S_readout)``: ``forward`` returns readout currents / D (1 for
        the spike readout: its logits are spikes)."""
        if self.readout == "spikes":
            return 1.0
        return float(2.0 ** round(math.log2(float(self.scales()[-1].detach()))))

    def forward(self, x: torch.Tensor, return_hidden: bool = False):
        """Run ``T`` steps; float32 logits ``[T, B, C]`` (and the hidden spikes each layer
        passes on: ``[T, B, n]``, or a conv layer's pooled ``[T, B, C, H, W]`` as
        ``SpikingCNN``'s)."""
        logits, spikes, _, _, _ = self.run(x)
        dtype = torch.get_default_dtype()
        out = (logits / self.logit_divisor()).to(dtype)
        if return_hidden:
            hidden = []
            for s, c in zip(spikes[:len(self.sizes) - 2], self.convs, strict=False):
                h = pass_on(c, s.flatten(0, 1)).unflatten(0, s.shape[:2])
                if c is not None:
                    h = h.unflatten(2, (c.out_channels, *c.pooled_hw))
                hidden.append(h.to(dtype))
            return out, hidden
        return out

    def forward_int(self, x) -> RunResult:
        """The integer run as a ``golden.RunResult`` (NumPy int64 / uint8, no gradient)."""
        with torch.no_grad():
            logits, spikes, mems, _, syns = self.run(x)
        lg = logits.numpy().astype(np.int64)
        acc = lg.sum(axis=0)
        return RunResult(
            spikes=[s.numpy().astype(np.uint8) for s in spikes],
            membranes=[m.numpy().astype(np.int64) for m in mems],
            logits=lg,
            acc=acc,
            prediction=np.argmax(acc, axis=1).astype(np.int64),
            synapses=[None if c is None else c.numpy().astype(np.int64) for c in syns],
        )

    def predict_int(self, x) -> np.ndarray:
        """Integer prediction ``argmax(acc)``, ties to the lowest index, ``[B]`` int64."""
        return self.forward_int(x).prediction

    def extra_repr(self) -> str:
        return (
            f"sizes={self.sizes}, T={self.timesteps}, w_bits={self.w_bits}, "
            f"v_bits={self.v_bits}, encoding={self.encoding!r}, scale_mode={self.scale_mode!r}"
            + (f", readout={self.readout!r}" if self.readout != "current" else "")
            + (f", convs={[c.to_dict() for c in self.convs if c]}" if any(self.convs) else "")
        )
