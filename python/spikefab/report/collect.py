"""Gather what a run directory holds into one JSON-able dict (``collect(run, cfg)``).

Missing parts (a step not run yet) are ``None``; the report says which steps are missing
instead of failing. The sweeps and the operation counts are computed here from the saved
IR, test inputs, golden results and student checkpoint.
"""

from __future__ import annotations

import numpy as np

from ..ir import QuantizedNetwork
from .energy import ENERGY_SOURCE, PJ, energy_estimate, synaptic_ops

__all__ = ["accuracy_rows", "collect"]


def accuracy_rows(data: dict) -> list:
    """``(stage, accuracy, note)`` rows: teacher, float student, QAT/PTQ, golden, RTL."""
    rows = []
    t = data["teacher"]
    if t and t.get("kind") != "none":
        rows.append((f"teacher ({t['kind']} ANN)", t["test_acc"], f"{t['n_test']} test images"))
    s = data["student"]
    if s:
        rows.append(("float student", s["float_acc"], f"distill.method = {s['method']}"))
    q = data["quant"]
    if q and q["method"] == "qat":
        rows.append(("QAT (integer forward)", q["qat_acc"],
                     f"calibrated before fine-tuning {100 * q['calib_acc']:.2f}%"))
    g = data["golden"]
    if g:
        rows.append(("golden (NumPy integers)", g["golden_acc"], f"{g['right']}/{g['n_test']}"))
    r = data["sim"]
    if r:
        rows.append(("RTL (Verilator)", r["rtl_acc"],
                     f"{r['n']} images; agreement {r['matching']}/{r['total']}"))
    return rows


def _boards(run) -> list:
    root = run.path("bitstreams")
    out = []
    if root.is_dir():
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            rep = run.read_json("bitstreams", d.name, "report.json")
            if rep is not None:
                out.append(rep)
    return out


def collect(run, cfg: dict) -> dict:
    """Everything the report shows, from the files of ``run`` (a ``RunDir``)."""
    data = {
        "name": cfg["run"]["name"], "root": str(run.root), "config": cfg,
        "state": run.state()["steps"],
        "teacher": run.read_json("teacher", "teacher.json"),
        "student": run.read_json("student", "student.json"),
        "quant": run.read_json("quant", "quant.json"),
        "golden": run.read_json("ir", "golden.json"),
        "sim": run.read_json("sim", "sim.json"),
        "boards": _boards(run),
        "sweep_T": None, "sweep_bits": None, "ops": None, "energy": None, "firing": None,
        "raster": None, "image_shape": None,
        "energy_constants": {"source": ENERGY_SOURCE, "pj": PJ},
    }
    if data["golden"] is None:
        return data
    net = QuantizedNetwork.load(run.path("ir", "net"))
    spec = net.spec
    x = np.load(run.path("ir", "test_inputs.npy"))
    with np.load(run.path("ir", "golden.npz")) as z:
        g = {k: z[k] for k in z.files}
    counts = [g[f"spike_count{i}"] for i in range(len(spec.hidden))]
    data["firing"] = [(c / spec.timesteps).mean(axis=0).tolist() for c in counts]
    passed = [g.get(f"passed_count{i}", c) for i, c in enumerate(counts)]
    data["ops"] = synaptic_ops(spec, x, passed)
    data["energy"] = energy_estimate(data["ops"], spec)
    k = int(g["sample"])
    data["raster"] = {
        "sample": k, "label": int(g["y"][k]), "prediction": int(g["prediction"][k]),
        "acc": g["acc"][k].tolist(),
        "x": (x[k] if spec.encoding == "direct" else x[:, k]).tolist(),
        "spikes": [g[f"spikes_sample{i}"].tolist() for i in range(len(spec.hidden))],
    }
    data["sweep_T"], data["sweep_bits"] = _sweeps(run, cfg, net, g["y"], data)
    return data


def _sweeps(run, cfg, net, y, data):
    from ..train import load_checkpoint
    from .sweep import sweep_bits, sweep_timesteps

    ckpt = run.path("student", "student.pt")
    model = load_checkpoint(ckpt)[0] if ckpt.is_file() else None
    from ..data import load_dataset

    ds = load_dataset(cfg["data"]["dataset"], seed=cfg["run"]["seed"])
    data["image_shape"] = ds.meta["image_shape"]
    rep, seed = cfg["report"], cfg["run"]["seed"]
    t_rows = sweep_timesteps(net, model, ds.x_test, y, rep["sweep_timesteps"], seed=seed)
    bit_rows = None
    if model is not None:
        bit_rows = sweep_bits(model, net.spec, ds.x_test, y, rep["sweep_bits"],
                              b_bits=cfg["quantize"]["b_bits"], seed=seed)
    return t_rows, bit_rows
