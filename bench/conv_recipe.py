"""Conv student recipe: what reaches the golden-accuracy targets at a size that fits the UP5K.

Each job trains one float ``SpikingCNN`` with ``spikefab.train.fit`` (the pipeline's code:
direct 4-bit input, Adam 5e-3 cosine, batch 64, images shifted by up to ``shift`` pixels,
fresh offsets every epoch), then for each weight width fine-tunes the integer-exact QAT model
(``quant.qat.finetune_qat``, 16-bit membranes, Adam 1e-3, on the same shifted images) and
scores the exported IR with the golden model on the test split (1,000 MNIST-5k images; 360
digits). QAT's accuracy is checked equal to golden's. The grid varies one thing at a time
from the recipe of ``configs/mnist5k_conv.toml`` (16-32, T=4, 60 epochs, shift 2, w4):
seeds, channels, T, epochs, shifts, weight width.

Usage::

    python bench/conv_recipe.py --quick        # digits, 2 jobs, short (~1 min)
    nice -n 10 python bench/conv_recipe.py     # the grid (~1.5 h on 2 busy cores)

Writes bench/results/conv_recipe{,_quick}.{json,md}; runs are cached in
build/conv_recipe/runs.jsonl (``--reuse``, ``--report-only``: bench/jobcache.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from jobcache import RunCache, add_flags, code_hash, gather, write_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUN_CACHE = ROOT / "build" / "conv_recipe" / "runs.jsonl"
#: The recipe of configs/mnist5k_conv.toml (digits: shift 1).
BASE = {"channels": [16, 32], "T": 4, "epochs": 60, "w_bits": [4], "qat_epochs": 6}


def plan(quick: bool) -> list[dict]:
    if quick:
        return [{"dataset": "digits", **BASE, "channels": [8, 16], "epochs": 6, "shift": 1,
                 "qat_epochs": 1, "seed": s} for s in (0, 1)]
    jobs = []

    def add(ds, **kw):
        jobs.append({"dataset": ds, **BASE, "shift": 2 if ds == "mnist5k" else 1, **kw})

    for s in (0, 1, 2):
        add("mnist5k", seed=s, **({"w_bits": [3, 4, 8]} if s == 0 else {}))
        add("digits", seed=s, **({"w_bits": [3, 4, 8]} if s == 0 else {}))
    add("mnist5k", seed=0, channels=[8, 16])
    add("mnist5k", seed=0, T=2)
    add("mnist5k", seed=0, epochs=30)
    add("mnist5k", seed=0, shift=0)
    add("digits", seed=0, channels=[8, 16])
    add("digits", seed=0, shift=0)
    return jobs


def run_job(job: dict) -> dict:
    """Float training, then QAT + golden at each weight width."""
    import torch
    from spikefab.data import encode_direct
    from spikefab.golden import run_network
    from spikefab.quant.qat import finetune_qat
    from spikefab.quant.qat_export import export_qat
    from spikefab.train import TrainConfig, fit

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    cfg = TrainConfig(dataset=job["dataset"], kind="cnn", channels=tuple(job["channels"]),
                      timesteps=job["T"], epochs=job["epochs"], augment_shift=job["shift"],
                      in_bits=4, seed=job["seed"])
    fr = fit(cfg)
    out = {**job, "float_acc": fr.float_acc, "float_seconds": time.perf_counter() - t0,
           "qat": {}}
    ds = fr.dataset
    x_int = encode_direct(ds.x_test, cfg.in_bits)
    for w in job["w_bits"]:
        t1 = time.perf_counter()
        res = finetune_qat(fr.model, ds, cfg, w_bits=w, v_bits=16, epochs=job["qat_epochs"])
        net = export_qat(res.model)
        golden = float((run_network(net, x_int).prediction == ds.y_test).mean())
        if golden != res.qat_acc:
            raise RuntimeError(f"QAT accuracy {res.qat_acc} differs from golden {golden}")
        bits = int(sum(a.size * la.w_bits for a, la in zip(net.weights, net.spec.layers,
                                                           strict=True)))
        out["qat"][str(w)] = {"calib_acc": res.calib_acc, "golden_acc": golden,
                              "weight_bits": bits, "seconds": time.perf_counter() - t1}
    out["seconds"] = time.perf_counter() - t0
    return out


def _label(job: dict) -> str:
    return (f"{'-'.join(map(str, job['channels']))}, T={job['T']}, {job['epochs']} ep, "
            f"shift {job['shift']}")


def markdown(results: list[dict], elapsed: float, codes: list[str]) -> str:
    lines = ["# Conv student recipe (golden accuracy on the test split)", "",
             "One float SpikingCNN per row (`spikefab.train.fit`, direct 4-bit input), then "
             "QAT to each weight width (16-bit membranes) and the golden model on the exported "
             f"IR. This invocation: {elapsed / 60:.1f} min wall; code {', '.join(codes)}.", "",
             "| dataset | student | seed | float (%) | w_bits | weights (Kbit) | calibrated "
             "(%) | golden after QAT (%) |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (r["dataset"], _label(r), r["seed"])):
        for w, q in r["qat"].items():
            lines.append(f"| {r['dataset']} | {_label(r)} | {r['seed']} | "
                         f"{100 * r['float_acc']:.2f} | {w} | {q['weight_bits'] / 1024:.1f} | "
                         f"{100 * q['calib_acc']:.2f} | {100 * q['golden_acc']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="digits, 2 short jobs")
    ap.add_argument("--workers", type=int, default=1, choices=(1, 2))
    ap.add_argument("--out", default=str(HERE / "results"))
    add_flags(ap)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    files = [HERE / "conv_recipe.py"] + sorted((ROOT / "python" / "spikefab").rglob("*.py"))
    cache = RunCache(RUN_CACHE, code_hash(files))
    jobs = plan(args.quick)
    results, missing = gather(cache, jobs, run_job, args.workers, print, args,
                              describe=lambda j: f"{j['dataset']} {_label(j)} seed {j['seed']}")
    codes = sorted({r.get("code", "unrecorded") for r in results})
    md = markdown(results, time.perf_counter() - t0, codes)
    stem = Path(args.out) / ("conv_recipe_quick" if args.quick else "conv_recipe")
    write_results(stem, {"quick": args.quick, "runs": results, "missing": missing}, md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
