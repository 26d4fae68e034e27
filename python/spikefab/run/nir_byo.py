"""``spikefab nir import MODEL.nir --run DIR``: bring your own model into a run directory.

The graph (snnTorch's ``export_to_nir``, Norse's ``to_nir``, any tool writing the supported
nodes) is imported under the modes the command line names (``nir_io.resolve_modes``) as a
float ``SpikingMLP`` (``nirgraph.to_student``: any ``beta``, ``gt``, the delayed reset,
cuba synapses, a spiking last layer as the spike readout). The run directory then holds
what the ``distill`` step would have written, with that step marked done:

    config.json          a config describing the imported student (teacher.kind "none",
                         distill.method "none", data.dataset, the quantize widths given)
    student/student.pt   the float student checkpoint (its extra records the source graph,
                         the modes and the node names)
    student/student.json method "nir", float accuracy on the dataset's test set, residuals
    student/float_pred.npy  the float student's predictions on that test set
    nir/source.nir       a copy of the imported graph
    state.json           step "distill" done

so ``quantize``, ``export``, ``verilog``, ``sim``, ``bitstream`` and ``report`` (or ``run``)
work on it unchanged. Before anything is written, every decay and threshold is checked
against the chosen widths (``representable``): one that cannot be represented is refused
naming the node and the nearest value allowed. The directory is built next to its place and
renamed in whole; an existing run directory is replaced only with ``force``.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes
from ..fixed import decay_beta, decay_of, round_half_even, smax, umax
from ..spec import V_BITS_RANGE
from .nir_io import layer_lines, resolve_modes
from .rundir import RunDir, write_json

__all__ = ["DATASET_INPUTS", "import_to_run", "representable"]

#: Inputs of each dataset a run can use: how an imported graph's dataset is told.
DATASET_INPUTS = {"digits": 64, "mnist5k": 784}


def _leak_check(name: str, what: str, value: float, bits: int) -> str | None:
    """Refuse a decay factor that rounds to no decay (0) or a total one (2**bits) though
    it is neither; returns the note on its residual."""
    from ..nirgraph.modes import GAIN_RTOL

    d = decay_of(value, bits)
    if 0 < d < 1 << bits or abs(value - decay_beta(d, bits)) <= GAIN_RTOL:
        beta = decay_beta(d, bits)
        return (f"{name}: {what} {value:.6g} -> decay {d}/{1 << bits} = {beta:.6g} "
                f"(residual {abs(value - beta):.2g})")
    nearest = decay_beta(1 if d == 0 else (1 << bits) - 1, bits)
    raise ValueError(f"{name}: {what} {value:.6g} cannot be represented with decay_bits "
                     f"{bits} (it rounds to {decay_beta(d, bits):g}); the nearest values "
                     f"allowed are {decay_beta(d, bits):g} and {nearest:.6g}; pass "
                     f"--decay-bits {min(16, bits + 4)} or change the model")


def representable(model, names, *, w_bits: int, v_bits, decay_bits: int, in_bits: int,
                  encoding: str) -> list[str]:
    """Check the student's decays and thresholds at these widths (PTQ's scale rule); one-line
    errors name the node (``names``: one per spiking layer, e.g. ``"LIF node '1'"``) and the
    nearest value allowed. Returns notes on the residuals."""
    from ..quant.neurons import integer_leak
    from ..quant.ptq import ptq_scale

    notes = []
    for i, (lif, name) in enumerate(zip(model.spiking_lifs, names, strict=True)):
        if integer_leak(lif, decay_bits)[1] is not None:
            notes.append(_leak_check(name, "beta", lif.beta, decay_bits))
        if lif.alpha is not None:
            notes.append(_leak_check(name, "alpha", lif.alpha, decay_bits))
        fc = model.fcs[i] if hasattr(model, "fcs") else model.convs[i]
        x_max = umax(in_bits) if (i == 0 and encoding == "direct") else 1
        scale = ptq_scale(fc.weight.detach().double().numpy() / x_max, w_bits)
        if scale == 0.0:
            continue  # export_ptq names the layer with all-zero weights
        top = smax(V_BITS_RANGE[1] if v_bits == "auto" else v_bits) - (lif.threshold == "gt")
        theta = int(round_half_even(np.float64(lif.theta * scale)))
        if not 1 <= theta <= top:
            near = (1 if theta < 1 else top) / scale
            raise ValueError(f"{name}: threshold {lif.theta:g} is {lif.theta * scale:.3g} LSBs "
                             f"at w_bits {w_bits} (layer scale {scale:.6g}), outside [1, {top}]; "
                             f"the nearest threshold allowed is {near:.6g}; pass another "
                             "--w-bits")
    return [n for n in notes if n]


def _dataset(name, n_in: int) -> str:
    if name is None:
        hits = [d for d, n in DATASET_INPUTS.items() if n == n_in]
        if not hits:
            known = ", ".join(f"{d} ({n})" for d, n in DATASET_INPUTS.items())
            raise ValueError(f"the graph takes {n_in} inputs, which no dataset of spikefab "
                             f"has ({known}); spikefab runs on those datasets")
        return hits[0]
    if DATASET_INPUTS.get(name) != n_in:
        raise ValueError(f"--dataset {name} has {DATASET_INPUTS.get(name)} inputs but the "
                         f"graph takes {n_in}")
    return name


def _config(run: Path, model, *, dataset: str, encoding: str, in_bits: int, quantize: dict):
    from .config import check_config

    if hasattr(model, "channels"):  # a SpikingCNN (a conv graph of its form)
        lif = model.lifs[0]
        st = {"kind": "cnn", "channels": list(model.channels), "timesteps": model.timesteps,
              "leak_shift": "none" if lif.leak_shift is None else lif.leak_shift,
              "theta": lif.theta, "reset": lif.reset, "encoding": encoding,
              "in_bits": in_bits}
    else:
        st = {"hidden": list(model.sizes[1:-1]), "timesteps": model.timesteps,
              "leak_shift": "none" if model.leak_shift is None else model.leak_shift,
              "theta": model.theta, "reset": model.reset, "encoding": encoding,
              "in_bits": in_bits, "beta": "none" if model.beta is None else model.beta,
              "threshold": model.threshold,
              "alpha": "none" if model.alpha is None else model.alpha,
              "readout": model.readout}
    if not st.get("hidden", st.get("channels")):
        raise ValueError("the graph has no hidden layer; a spikefab run needs at least one")
    doc = {"run": {"name": run.name, "dir": str(run.parent)}, "data": {"dataset": dataset},
           "teacher": {"kind": "none"}, "student": st, "distill": {"method": "none"},
           "quantize": quantize}
    return check_config(doc)


def _float_run(cfg, model):
    from ..train import encode_inputs, evaluate, predict
    from .config import student_train_config
    from .steps_train import dataset

    tc = student_train_config(cfg)
    ds = dataset(cfg)
    spikes = tc.encoding == "spikes"
    x = encode_inputs(tc, ds.x_test, seed=tc.seed)
    return predict(model, x, spikes=spikes), evaluate(model, x, ds.y_test, spikes=spikes), ds


def import_to_run(path, run_dir, *, timesteps: int, reset=None, dt=None, profile=None,
                  encoding: str = "direct", in_bits: int | None = None, dataset=None,
                  w_bits: int = 8, decay_bits: int = 12, drop_output_neuron: bool = False,
                  force: bool = False) -> list[str]:
    """Import the graph at ``path`` into the run directory ``run_dir`` (module docstring);
    returns the lines to print."""
    from ..nirgraph import import_nir, read_nir, to_student
    from ..train import save_checkpoint
    from .config import student_train_config
    from .pipeline import step_fingerprint
    from .steps_train import student_sizes

    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    if (run_dir / "config.json").exists() and not force:
        raise ValueError(f"run directory {run_dir} exists; pass --force to replace it")
    if run_dir.exists() and not (run_dir / "config.json").exists() and any(run_dir.iterdir()):
        raise ValueError(f"{run_dir} exists and is not a run directory; choose another --run")
    if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 1:
        raise ValueError(f"--timesteps must be an integer >= 1, not {timesteps!r}")
    in_bits = (8 if encoding == "direct" else 1) if in_bits is None else in_bits
    graph = read_nir(path)
    modes, notes = resolve_modes(graph, path, profile=profile, reset=reset, dt=dt)
    net = import_nir(graph, modes)
    model = to_student(net, timesteps=timesteps, drop_output_neuron=drop_output_neuron)
    spiking = [la for la in net.layers if la.spiking][:len(model.spiking_lifs)]
    names = [f"{la.kind} node {la.neuron!r}" for la in spiking]
    name = _dataset(dataset, model.n_in)
    quantize = {"w_bits": w_bits, "decay_bits": decay_bits}
    cfg = _config(run_dir, model, dataset=name, encoding=encoding, in_bits=in_bits,
                  quantize=quantize)
    notes += representable(model, names, w_bits=w_bits, v_bits=cfg["quantize"]["v_bits"],
                           decay_bits=decay_bits, in_bits=in_bits, encoding=encoding)
    pred, acc, ds = _float_run(cfg, model)
    nodes = [la.neuron for la in spiking]
    summary = {"method": "nir", "source": str(path), "modes": net.modes.to_dict(),
               "float_acc": acc, "n_test": int(len(ds.y_test)), "sizes": student_sizes(model),
               "timesteps": timesteps, "train_seconds": 0.0, "nodes": nodes, "notes": notes}
    parent = run_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=parent))
    try:
        run = RunDir(tmp)
        run.save_config(cfg)
        save_checkpoint(run.path("student", "student.pt"), model,
                        config=student_train_config(cfg),
                        extra={"method": "nir", "source": str(path),
                               "modes": net.modes.to_dict(), "nodes": nodes})
        buf = io.BytesIO()
        np.save(buf, pred.astype(np.int64))
        atomic_write_bytes(run.path("student", "float_pred.npy"), buf.getvalue())
        write_json(run.path("student", "student.json"), summary)
        atomic_write_bytes(run.path("nir", "source.nir"), Path(path).read_bytes())
        run.mark_done("distill", step_fingerprint(cfg, "distill"),
                      time.perf_counter() - t0, summary, ())
        _replace(tmp, run_dir.resolve())
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    right = int((pred == ds.y_test).sum())
    return layer_lines(net) + notes + [
        f"float student ({name} test set, {encoding} input"
        + (f", {in_bits} bits" if encoding == "direct" else "")
        + f"): {100 * acc:.2f}% ({right}/{len(ds.y_test)})",
        f"wrote {run_dir} (step distill done); next: spikefab run {run_dir} --skip bitstream",
    ]


def _replace(tmp: Path, dest: Path) -> None:
    """Put the finished directory ``tmp`` at ``dest`` (an old one is removed after)."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{time.time_ns():x}")
        dest.rename(old)
    tmp.rename(dest)
    if old is not None:
        shutil.rmtree(old)
