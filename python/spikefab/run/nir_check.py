"""``spikefab nir check MODEL.nir --reference REF.npz``: does spikefab compute what your model
computed, before any hardware is built?

``REF.npz`` holds what the user's own framework did (docs/nir.md, "The reference file"):

    x           required: the inputs, floats [N, n_in] given at every step (direct), or 0/1
                [T, N, n_in] (spikes; T is its first axis)
    spikes0 ... optional: the spikes of spiking layer 0, 1, ... as 0/1 [T, N, n] (the
                output layer last when it spikes), e.g. snnTorch's spk_rec
    prediction  optional: the predicted class per sample [N] (e.g. spk_rec.sum(0).argmax(1))
    y           optional: labels [N]

The graph is imported exactly as ``nir import`` does (same modes flags) and run twice: the
float student (``to_student``) on ``x`` as given, and the integer model ``export_ptq`` makes
of it at each ``w_bits`` (``v_bits`` auto, direct inputs encoded with ``in_bits``) in the
golden model. For each: spikes equal per layer (and differing), prediction agreement with
``prediction``, accuracy against ``y``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .nir_io import layer_lines, resolve_modes

__all__ = ["check_reference", "load_reference"]


def load_reference(path) -> dict:
    """The arrays of ``REF.npz``, checked: one-line errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"reference {path} not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            ref = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"reference {path} is not a readable .npz file ({e})") from None
    if "x" not in ref:
        raise ValueError(f"reference {path} has no array 'x' (the inputs); it has "
                         f"{sorted(ref) or 'none'}")
    x = ref["x"]
    if x.ndim not in (2, 3) or x.dtype.kind not in "fiub":
        raise ValueError(f"reference {path}: x must be numbers [N, n_in] (direct) or "
                         f"[T, N, n_in] (spikes), not {x.dtype} {list(x.shape)}")
    n = x.shape[-2]
    if x.ndim == 3 and x.size and not np.isin(x, (0, 1)).all():
        raise ValueError(f"reference {path}: spike inputs x [T, N, n_in] must be 0 or 1")
    for key in ("prediction", "y"):
        if key in ref and (ref[key].shape != (n,) or ref[key].dtype.kind not in "iu"):
            raise ValueError(f"reference {path}: {key} must be {n} integers [N], not "
                             f"{ref[key].dtype} {list(ref[key].shape)}")
    j = 0
    while f"spikes{j}" in ref:
        s = ref[f"spikes{j}"]
        if s.ndim != 3 or s.shape[1] != n or (s.size and not np.isin(s, (0, 1)).all()):
            raise ValueError(f"reference {path}: spikes{j} must be 0/1 [T, {n}, n], not "
                             f"{s.dtype} {list(s.shape)}")
        j += 1
    extra = sorted(set(ref) - {"x", "prediction", "y"} - {f"spikes{i}" for i in range(j)})
    if extra:
        raise ValueError(f"reference {path} has unknown arrays {extra}; allowed: x, "
                         "spikes0, spikes1, ... (in order), prediction, y")
    ref["n_spikes"] = j
    return ref


def _compare(name: str, spikes: list, pred: np.ndarray, ref: dict) -> tuple[dict, str]:
    rec, parts = {"model": name, "layers": []}, []
    for j in range(min(ref["n_spikes"], len(spikes))):
        want = ref[f"spikes{j}"].astype(np.uint8)
        got = np.asarray(spikes[j]).astype(np.uint8)
        if got.shape != want.shape:
            raise ValueError(f"reference spikes{j} has shape {list(want.shape)} but layer {j} "
                             f"gives {list(got.shape)}")
        differ = int((got != want).sum())
        rec["layers"].append({"equal": int(want.size - differ), "total": int(want.size),
                              "differ": differ,
                              "samples_differ": int((got != want).any(axis=(0, 2)).sum())})
        parts.append(f"spikes{j} {want.size - differ}/{want.size} equal ({differ} differ)")
    rec["prediction"] = pred
    if "prediction" in ref:
        agree = int((pred == ref["prediction"]).sum())
        rec["agreement"] = agree / len(pred) if len(pred) else 1.0
        parts.append(f"prediction {agree}/{len(pred)} ({100 * rec['agreement']:.2f}%)")
    if "y" in ref:
        rec["accuracy"] = float((pred == ref["y"]).mean()) if len(pred) else 0.0
        parts.append(f"accuracy {100 * rec['accuracy']:.2f}%")
    return rec, f"{name}: " + ("; ".join(parts) or "nothing to compare (no spikes, no "
                               "prediction, no y in the reference)")


def check_reference(path, reference, *, timesteps: int | None = None, reset=None, dt=None,
                    profile=None, in_bits: int = 8, w_bits=(8,), decay_bits: int = 12,
                    drop_output_neuron: bool = False) -> tuple[list[str], dict]:
    """Compare the imported float model and its integer models with ``reference`` (module
    docstring); returns (lines to print, the report as a dict)."""
    from ..data import encode_direct
    from ..golden import run_network
    from ..nirgraph import import_nir, read_nir, to_student
    from ..quant.ptq import export_ptq

    ref = load_reference(reference)
    x = ref["x"]
    spikes_in = x.ndim == 3
    if spikes_in:
        if timesteps not in (None, x.shape[0]):
            raise ValueError(f"--timesteps {timesteps} contradicts the reference's spike "
                             f"input x with T = {x.shape[0]}")
        timesteps = x.shape[0]
    elif timesteps is None:
        raise ValueError("--timesteps is required: the reference's direct input x [N, n_in] "
                         "does not say T (NIR does not record it either)")
    graph = read_nir(path)
    modes, notes = resolve_modes(graph, path, profile=profile, reset=reset, dt=dt)
    net = import_nir(graph, modes)
    model = to_student(net, timesteps=timesteps, drop_output_neuron=drop_output_neuron)
    if x.shape[-1] != model.n_in:
        raise ValueError(f"reference x has {x.shape[-1]} inputs but the graph takes "
                         f"{model.n_in}")
    with torch.no_grad():
        logits, hidden = model(torch.from_numpy(np.asarray(x, np.float32)), return_hidden=True)
    spikes = [h.numpy() for h in hidden] + ([logits.numpy()] if model.readout == "spikes"
                                            else [])
    pred = logits.sum(0).argmax(1).numpy().astype(np.int64)
    report = {"modes": net.modes.to_dict(), "timesteps": timesteps, "n": int(x.shape[-2]),
              "semantics": None, "models": []}
    rec, line = _compare("float model", spikes, pred, ref)
    report["models"].append(rec)
    lines = layer_lines(net) + notes + [line]
    if spikes_in:
        x_int, encoding, bits = x.astype(np.int64), "spikes", 1
    else:
        if x.size and (x.min() < 0 or x.max() > 1):
            raise ValueError(f"reference x lies in [{float(x.min()):g}, {float(x.max()):g}]; "
                             "the integer model's direct input is x in [0, 1] quantised to "
                             "--in-bits bits")
        x_int, encoding, bits = encode_direct(x, in_bits), "direct", in_bits
    for wb in w_bits:
        q = export_ptq(model, w_bits=wb, v_bits=None, in_bits=bits, encoding=encoding,
                       decay_bits=decay_bits)
        report["semantics"] = q.spec.semantics
        res = run_network(q, x_int)
        what = f"integer model (w{wb}, v auto" + (f", in {bits} bits" if not spikes_in else "")
        rec, line = _compare(what + ")", res.spikes, res.prediction, ref)
        rec["w_bits"] = wb
        report["models"].append(rec)
        lines.append(line)
    lines.append(f"semantics of the integer model: {report['semantics']}")
    return lines, report
