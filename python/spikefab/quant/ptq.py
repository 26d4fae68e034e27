"""Post-training quantisation: a trained float ``SpikingMLP`` or ``SpikingCNN`` ->
``QuantizedNetwork`` (a ``SpikingCNN``'s stages become conv layers, extension ``conv2d``).

This is the one place floats become integers (DESIGN §1). Per layer ``l``:

* the layer's float input unit is 1 (spikes) or ``1 / (2**in_bits - 1)`` for a direct
  first layer (the float model sees ``x_int / (2**in_bits - 1)``), so the weights seen by
  the integer input are ``W_eff = W / (2**in_bits - 1)`` there and ``W`` elsewhere;
* the scale ``s_l = (2**(w_bits-1) - 1) / max|W_eff|`` makes the largest weight use the
  whole ``w_bits`` range; ``W_int = quantize(W_eff, s_l, w_bits)``,
  ``b_int = quantize(b, s_l, b_bits)`` (round half to even, then saturate: a saturated
  bias is counted in ``meta["bias_clipped"]``);
* membrane, threshold and bias share the scale, so ``v_int ~ s_l * v_float`` and
  ``theta_l = round(theta * s_l)``; the leak ``k`` is copied (``beta = 1 - 2**-k``), another
  float ``beta`` becomes the ``decay`` extension (``quant.neurons``: the residual
  ``|beta - (1 - d / 2**decay_bits)|`` goes into ``meta["decay_residual"]``); threshold
  ``gt``, ``subtract-delayed`` and the spike readout are copied; a cuba synapse's current
  shares the scale too, its decay is ``round((1 - alpha) * 2**decay_bits)``;
* ``v_bits`` must hold every membrane value the layer can reach in ``T`` steps for any
  input (interval bound over the exact integer current range, ``membrane_bounds``; for a
  conv layer the range of a whole kernel's sum, ``QuantizedNetwork.current_bounds``):
  otherwise a one-line ``ValueError`` names the layer, the range and the width it needs.
  A cuba layer's ``i_bits`` is sized the same way (``i_bits=None``) or checked.

The readout's scale is free (argmax ignores a positive factor) and uses the same rule.
With ``calib_x`` (and ``calib_y``) the float model and the golden model are both run and
their agreement (and accuracies) is recorded in ``meta``: the honest price of rounding.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.encode import decode_direct, encode_direct
from ..fixed import dense_bounds, quantize, round_half_even, signed_width, smax, umax
from ..golden import run_network
from ..golden.layers import pass_on
from ..ir import QuantizedNetwork
from ..spec import (
    B_BITS_RANGE,
    DECAY_BITS_RANGE,
    ENCODINGS,
    I_BITS_RANGE,
    IN_BITS_RANGE,
    V_BITS_RANGE,
    W_BITS_RANGE,
    LayerSpec,
    LIFSpec,
    NetworkSpec,
)
from .float_net import float_layers
from .neurons import integer_leak, integer_synapse, leak_residual, membrane_bounds, state_bounds

__all__ = ["export_ptq", "membrane_bounds", "ptq_scale"]


def _check_bits(name: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"export_ptq {name} must be an integer in [{lo}, {hi}], not {value!r}")


def ptq_scale(w_eff: np.ndarray, w_bits: int) -> float:
    """The layer scale ``(2**(w_bits-1) - 1) / max|W_eff|`` (0.0 for all-zero weights)."""
    peak = float(np.abs(w_eff).max(initial=0.0))
    return 0.0 if peak == 0.0 else smax(w_bits) / peak


def _float_layers(modules):
    ws, bs = [], []
    for i, fc in enumerate(modules):
        w = fc.weight.detach().to(torch.float64).cpu().numpy()
        b = (
            fc.bias.detach().to(torch.float64).cpu().numpy()
            if fc.bias is not None
            else np.zeros(w.shape[0])
        )
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ValueError(f"export_ptq layer {i} has non-finite weights or biases")
        ws.append(w)
        bs.append(b)
    return ws, bs


def _calibrate(model, net: QuantizedNetwork, calib_x, calib_y) -> dict:
    spec = net.spec
    x = np.asarray(calib_x)
    if spec.encoding == "direct":
        if x.ndim != 2 or x.shape[1] != spec.n_in:
            raise ValueError(
                f"export_ptq calib_x must have shape [N, {spec.n_in}], not {list(x.shape)}"
            )
        x_int = encode_direct(x, spec.in_bits)
        x_float = torch.from_numpy(decode_direct(x_int, spec.in_bits))
    else:
        want = f"[{spec.timesteps}, N, {spec.n_in}]"
        if x.ndim != 3 or x.shape[0] != spec.timesteps or x.shape[2] != spec.n_in:
            raise ValueError(f"export_ptq calib_x must have shape {want}, not {list(x.shape)}")
        if x.size and not np.isin(x, (0, 1)).all():
            raise ValueError("export_ptq calib_x spikes must be 0 or 1")
        x_int = x.astype(np.int64)
        x_float = torch.from_numpy(x.astype(np.float32))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits, hidden = model(x_float, return_hidden=True)
    model.train(was_training)
    float_pred = logits.sum(0).argmax(1).numpy().astype(np.int64)
    golden = run_network(net, x_int)
    n = len(float_pred)
    out = {
        "n_calib": n,
        "agreement": float((float_pred == golden.prediction).mean()) if n else 1.0,
        "spike_rate_float": [float(h.mean()) for h in hidden],
        "spike_rate_golden": [float(pass_on(layer, s.reshape(-1, s.shape[-1])).mean())
                              for layer, s in zip(spec.layers, golden.spikes, strict=False)],
    }
    if calib_y is not None:
        y = np.asarray(calib_y)
        if y.shape != (n,) or y.dtype.kind not in "iu":
            raise ValueError(
                f"export_ptq calib_y must be [{n}] integer labels, not {list(y.shape)}"
            )
        out["float_acc"] = float((float_pred == y).mean()) if n else 0.0
        out["golden_acc"] = float((golden.prediction == y).mean()) if n else 0.0
    return out


def export_ptq(
    model,
    *,
    w_bits: int = 8,
    b_bits: int = 16,
    v_bits: int | None = 16,
    in_bits: int | None = None,
    encoding: str = "direct",
    calib_x=None,
    calib_y=None,
    meta: dict | None = None,
    allow_saturation: bool = False,
    decay_bits: int = 12,
    i_bits: int | None = None,
) -> QuantizedNetwork:
    """Quantise a trained ``SpikingMLP`` after training (see the module docstring).

    Parameters
    ----------
    model : SpikingMLP or SpikingCNN
    w_bits, b_bits : int
        Signed widths of weights [2, 16] and biases [2, 32] (all layers).
    v_bits : int or None
        Signed membrane width [2, 32] of every hidden layer; ``None`` gives each layer the
        smallest width that holds its ``membrane_bounds`` (so it can never saturate).
    in_bits : int, optional
        Direct-input width [1, 16]; default 4 for ``"direct"``, and 1 (the only choice)
        for ``"spikes"``.
    encoding : str
        ``"direct"`` (model fed ``x_int / (2**in_bits - 1)``) or ``"spikes"`` (0/1).
    calib_x : array, optional
        Direct: floats in [0, 1] ``[N, n_in]`` (encoded with ``encode_direct``); spikes:
        0/1 ``[T, N, n_in]``. Runs float and golden models and records their agreement.
    calib_y : array, optional
        Labels for ``calib_x``: records ``float_acc`` and ``golden_acc`` too.
    meta : dict, optional
        Extra JSON-able metadata merged into the IR's ``meta``.
    allow_saturation : bool
        Accept a ``v_bits`` smaller than the membrane bound (the integer model then
        saturates where the float model does not; the bound is still in ``meta``).
    decay_bits : int
        Fraction bits [1, 16] of a ``decay`` leak and of a synapse's decay.
    i_bits : int or None
        Synaptic current width [2, 32] of a cuba layer; ``None``: the smallest that holds its
        bound.
    """
    fnet = float_layers(model, "export_ptq")
    _check_bits("w_bits", w_bits, *W_BITS_RANGE)
    _check_bits("b_bits", b_bits, *B_BITS_RANGE)
    if v_bits is not None:
        _check_bits("v_bits", v_bits, *V_BITS_RANGE)
    if encoding not in ENCODINGS:
        allowed = ", ".join(repr(e) for e in ENCODINGS)
        raise ValueError(f"export_ptq encoding must be one of {allowed}, not {encoding!r}")
    if in_bits is None:
        in_bits = 4 if encoding == "direct" else 1
    if encoding == "spikes" and in_bits != 1:
        raise ValueError(f"export_ptq in_bits must be 1 when encoding is 'spikes', not {in_bits!r}")
    _check_bits("in_bits", in_bits, *IN_BITS_RANGE)
    _check_bits("decay_bits", decay_bits, *DECAY_BITS_RANGE)
    if i_bits is not None:
        _check_bits("i_bits", i_bits, *I_BITS_RANGE)
    if calib_y is not None and calib_x is None:
        raise ValueError("export_ptq calib_y needs calib_x")

    T = fnet.timesteps
    ws, bs = _float_layers(fnet.modules)
    lifs = fnet.lifs
    layers, w_ints, b_ints = [], [], []
    scales, clipped = [], []
    rec = {"thetas": [], "membrane_bounds": [], "v_bits_needed": []}
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        x_max = umax(in_bits) if (i == 0 and encoding == "direct") else 1
        w_eff = w / x_max
        scale = ptq_scale(w_eff, w_bits)
        if scale == 0.0:
            raise ValueError(f"export_ptq layer {i} has all-zero weights; no scale can be chosen")
        w_int = quantize(w_eff, scale, w_bits)
        b_raw = round_half_even(b * scale)
        b_int = quantize(b, scale, b_bits)
        clipped.append(int((b_raw != b_int).sum()))
        neuron = None
        if i < len(lifs):
            lo, hi = dense_bounds(w_int.reshape(w_int.shape[0], -1), b_int, x_max)
            neuron = _neuron(i, lifs[i], scale, (lo, hi), T, rec, v_bits=v_bits,
                             decay_bits=decay_bits, i_bits=i_bits,
                             allow_saturation=allow_saturation)
        conv = fnet.convs[i]
        layers.append(LayerSpec(n_in=fnet.sizes[i], n_out=w.shape[0] if conv is None else
                                conv.n_out, w_bits=w_bits, b_bits=b_bits, neuron=neuron,
                                conv=conv))
        w_ints.append(w_int)
        b_ints.append(b_int)
        scales.append(scale)

    spec = NetworkSpec(layers=tuple(layers), timesteps=T, encoding=encoding, in_bits=in_bits,
                       readout=fnet.readout)
    info = {
        "exporter": "export_ptq",
        "scales": scales,
        "theta_float": lifs[0].theta if lifs else None,
        **rec,
        "bias_clipped": clipped,
    }
    info.update(meta or {})
    net = QuantizedNetwork(spec, tuple(w_ints), tuple(b_ints), info)
    if calib_x is not None:
        info.update(_calibrate(model, net, calib_x, calib_y))
        net = QuantizedNetwork(spec, net.weights, net.biases, info)
    return net


def _width(i, what, lo, hi, T, given, allow_saturation, floor=V_BITS_RANGE[0], hold=None):
    """The width ``[lo, hi]`` (and ``hold``, e.g. the threshold) needs; an error if it is
    more than the largest width, or than ``given`` without ``allow_saturation``."""
    need = max(signed_width(lo, max(hi, hi if hold is None else hold)), floor)
    top = V_BITS_RANGE[1]
    name = "v_bits" if what == "membrane" else "i_bits"
    if given is None and need > top:
        raise ValueError(f"export_ptq layer {i} {what} can reach [{lo}, {hi}] in {T} steps,"
                         f" which needs {need} bits, more than the largest {name} {top}")
    if given is not None and need > given and not allow_saturation:
        raise ValueError(f"export_ptq layer {i} {what} can reach [{lo}, {hi}] in {T} steps,"
                         f" which needs {name} >= {need}, not {given} (raise {name} or lower "
                         "w_bits)")
    return need


def _neuron(i, lif, scale, current, T, rec, *, v_bits, decay_bits, i_bits, allow_saturation):
    """The ``LIFSpec`` of spiking layer ``i`` (float neurons ``lif``, layer scale ``scale``,
    integer current range ``current``); appends its record to ``rec``."""
    theta = int(round_half_even(np.float64(lif.theta * scale)))
    top = smax(V_BITS_RANGE[1] if v_bits is None else v_bits) - (lif.threshold == "gt")
    if not 1 <= theta <= top:
        raise ValueError(
            f"export_ptq layer {i} threshold round({lif.theta} * {scale:.6g}) = {theta}"
            f" does not fit v_bits={v_bits} (allowed [1, {top}])"
        )
    leak_shift, decay = integer_leak(lif, decay_bits, V_BITS_RANGE[1] if v_bits is None
                                     else v_bits)
    modes = {"reset": lif.reset, "decay": decay, "decay_bits": decay_bits,
             "threshold": lif.threshold}
    syn = None if lif.alpha is None else integer_synapse(lif.alpha, decay_bits,
                                                          I_BITS_RANGE[1])
    probe = LIFSpec(v_bits=V_BITS_RANGE[1], theta=theta, leak_shift=leak_shift, synapse=syn,
                    **modes)
    bounds = state_bounds(*current, probe, T)
    m_lo, m_hi = bounds.membrane
    need = _width(i, "membrane", m_lo, m_hi, T, v_bits, allow_saturation,
                  hold=theta + (lif.threshold == "gt"))
    if v_bits is None and leak_shift is not None:
        need = max(need, leak_shift + 1)
    if syn is not None:
        s_lo, s_hi = bounds.synapse
        i_need = _width(i, "synaptic current", s_lo, s_hi, T, i_bits, allow_saturation,
                        I_BITS_RANGE[0])
        syn = integer_synapse(lif.alpha, decay_bits, i_need if i_bits is None else i_bits)
        rec.setdefault("synapse_bounds", []).append([s_lo, s_hi])
        rec.setdefault("i_bits_needed", []).append(i_need)
    neuron = LIFSpec(v_bits=need if v_bits is None else v_bits, theta=theta,
                     leak_shift=leak_shift, synapse=syn, **modes)
    rec["membrane_bounds"].append([m_lo, m_hi])
    rec["v_bits_needed"].append(need)
    rec["thetas"].append(theta)
    if neuron.decay is not None:
        rec.setdefault("decay_residual", []).append(leak_residual(lif, neuron))
    return neuron
