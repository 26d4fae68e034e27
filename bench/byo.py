"""Bring your own model: snnTorch networks from NIR file to RTL, from the command line.

For each model a user might bring (snnTorch ``Leaky`` with beta 0.9 and 0.95 and the
default delayed subtract reset, ``reset_mechanism="zero"``, ``Synaptic``, 1 to 3 hidden
layers, direct and rate input, a spiking output layer or a plain ``Linear`` one), the job:

1. builds it as snnTorch users do, trains it with snnTorch on digits (Adam, ATan surrogate,
   cross-entropy on spike counts), exports it with snnTorch's ``export_to_nir`` and records
   its spikes and predictions on the 360 test images (``nirgraph.reference``);
2. runs the path a user runs, as command lines (``spikefab.cli.main``)::

       spikefab nir check model.nir --reference ref.npz --timesteps T --reset R --w-bits 8
       spikefab nir import model.nir --run DIR --timesteps T --reset R [--encoding spikes]
       spikefab run DIR --skip bitstream

   (``run`` does quantize, export, verilog, sim, report; a board adds ``spikefab bitstream DIR
   --board icebreaker``: 4 commands, 3 without hardware);
3. measures: the imported float model against snnTorch, spike for spike (differences
   counted); the integer golden model's agreement with snnTorch's predictions at w8 (the
   run's) and w4; RTL against golden on every spike, membrane and logit of every step of
   every test image (``spikefab_hdl.sim.rtlsim.simulate`` + ``golden.compare_rtl``, what
   the ``sim`` step runs) -- "not yet" with the core's one-line refusal while the gateware
   does not implement a mode; the user's accuracy against the hardware's.

Usage::

    nice -n 10 python bench/byo.py            # all models (~1 min of training on 2 cores)
    python bench/byo.py --quick               # two models, short training
    python bench/byo.py --report-only         # the table from the cached runs

Writes bench/results/byo{,_quick}.{json,md}; runs are cached in build/byo/runs.jsonl under a
hash of the code they ran (``jobcache``), their files under build/byo/<model>/.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

from jobcache import RunCache, add_flags, code_hash, gather, write_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = ROOT / "build" / "byo"

#: name -> (neuron, beta, snnTorch reset_mechanism, hidden, input, readout)
MODELS = {
    "leaky0.9-default": ("Leaky", 0.9, "subtract", [64], "direct", "spikes"),
    "leaky0.95-default": ("Leaky", 0.95, "subtract", [64], "direct", "spikes"),
    "leaky0.9-zero": ("Leaky", 0.9, "zero", [64], "direct", "spikes"),
    "synaptic-default": ("Synaptic", 0.9, "subtract", [64], "direct", "spikes"),
    "leaky0.9-default-3h": ("Leaky", 0.9, "subtract", [64, 48, 32], "direct", "spikes"),
    "leaky0.9-default-rate": ("Leaky", 0.9, "subtract", [64], "rate", "spikes"),
    "synaptic-default-rate-2h": ("Synaptic", 0.95, "subtract", [64, 32], "rate", "spikes"),
    "leaky0.95-default-current": ("Leaky", 0.95, "subtract", [64, 32], "direct", "current"),
}
QUICK = ("leaky0.9-default", "synaptic-default-rate-2h")
ALPHA = 0.8  # Synaptic's synaptic decay


def _cli(argv) -> tuple[int, list[str], str]:
    """``spikefab <argv>`` in this process: (exit status, stdout lines, stderr)."""
    from spikefab.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue().splitlines(), err.getvalue().strip()


def _snntorch_model(job: dict, root: Path):
    """Train the job's snnTorch network, export it and record its reference."""
    from spikefab.nirgraph.reference import record_snntorch, write_reference
    from spikefab.snntorch_models import build, export, inputs, train

    kind, beta, reset, hidden, enc, readout = MODELS[job["model"]]
    T = job["timesteps"]
    net = build(kind, hidden, beta=beta, alpha=ALPHA, reset=reset, readout=readout,
                seed=job["seed"])
    t0 = time.perf_counter()
    ds = train(net, enc, T, epochs=job["epochs"], lr=job["lr"], seed=job["seed"])
    train_seconds = time.perf_counter() - t0
    x_test = inputs(ds.x_test, enc, T, seed=job["seed"])  # = the run's test spikes (run.seed)
    ref = record_snntorch(net, x_test, T, y=ds.y_test)
    graph = export(net, x_test, root / "model.nir")
    return graph, write_reference(root / "ref.npz", ref), ref, train_seconds


def _rtl(run_dir: Path, code: int, err: str) -> dict:
    """What ``spikefab run DIR --skip bitstream`` found for RTL against golden: its ``sim``
    step (``spikefab_hdl.sim.rtlsim.simulate`` + ``golden.compare_rtl``, every spike,
    membrane and logit of every step), or why not yet (the core's one-line refusal)."""
    sim = run_dir / "sim" / "sim.json"
    if code != 0 and "does not implement" in err:
        return {"status": "not yet", "reason": err.removeprefix("error: ")}
    if not sim.is_file():
        return {"status": "failed", "reason": err}
    s = json.loads(sim.read_text())
    return {"status": "ran", "matching": s["matching"], "total": s["total"],
            "trace_compared": s["trace_compared"], "trace_mismatches": s["trace_mismatches"],
            "rtl_acc": s["rtl_acc"], "cycles_mean": s["cycles"]["mean"]}


def run_job(job: dict) -> dict:
    """One model through the whole path (module docstring); a JSON-able result."""
    from spikefab.run.nir_check import check_reference

    root = WORK / job["model"]
    root.mkdir(parents=True, exist_ok=True)
    _, _, _, _, enc, _ = MODELS[job["model"]]
    T = job["timesteps"]
    graph, ref_path, ref, train_seconds = _snntorch_model(job, root)
    reset = "zero" if MODELS[job["model"]][2] == "zero" else "subtract-delayed"
    commands = [
        ["nir", "check", graph, "--reference", ref_path, "--timesteps", T, "--reset", reset,
         "--w-bits", 8, "--w-bits", 4],
        ["nir", "import", graph, "--run", root / "run", "--timesteps", T, "--reset", reset,
         "--force"] + (["--encoding", "spikes"] if enc == "rate" else []),
        ["run", root / "run", "--skip", "bitstream"],
    ]
    logs = []
    for k, argv in enumerate(commands):
        code, out, err = _cli(argv)
        rel = f"{ROOT}/"
        logs.append({"command": ("spikefab " + " ".join(map(str, argv))).replace(rel, ""),
                     "exit": code, "out": [line.replace(rel, "") for line in out[-12:]],
                     "err": err.replace(rel, "")})
        if code != 0 and k < 2:
            return {**job, "error": f"spikefab {argv[0]} {argv[1]}: exit {code}: {err}",
                    "commands": logs}
    if not (root / "run" / "ir" / "golden.npz").is_file():
        return {**job, "error": f"spikefab run: exit {code}: {err}", "commands": logs}
    _, report = check_reference(graph, ref_path, timesteps=T, reset=reset, w_bits=[8, 4])
    flt, w8, w4 = report["models"]
    import numpy as np

    golden = np.load(root / "run" / "ir" / "golden.npz")
    same = bool(np.array_equal(golden["prediction"], w8["prediction"]))
    rtl = _rtl(root / "run", code, err)
    y = ref["y"]

    def model_rec(m):
        return {k: v for k, v in m.items() if k != "prediction"}

    return {
        **job,
        "semantics": report["semantics"],
        "snntorch_acc": float((ref["prediction"] == y).mean()),
        "float": model_rec(flt), "w8": model_rec(w8), "w4": model_rec(w4),
        "run_golden_equals_check_w8": same,
        "golden_acc": float((golden["prediction"] == y).mean()),
        "rtl": rtl,
        "commands": logs,
        # the user's path: check, import, run (quantize .. sim, report), bitstream
        "n_commands": len(commands) + 1,
        "train_seconds": round(train_seconds, 1),
    }


def _code_hash() -> str:
    files = sorted((ROOT / "python" / "spikefab" / "nirgraph").glob("*.py"))
    files += sorted((ROOT / "python" / "spikefab" / "quant").glob("*.py"))
    files += sorted((ROOT / "python" / "spikefab" / "golden").glob("*.py"))
    files += sorted((ROOT / "hdl" / "spikefab_hdl" / "core").glob("*.py"))
    files += [ROOT / "python/spikefab/snn/lif.py", ROOT / "python/spikefab/snn/mlp.py",
              ROOT / "python/spikefab/run/nir_byo.py", ROOT / "python/spikefab/run/nir_check.py",
              ROOT / "python/spikefab/snntorch_models.py",
              HERE / "byo.py"]
    return code_hash(files)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two models, 4 epochs")
    ap.add_argument("--timesteps", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=None, help="snnTorch epochs (default 30)")
    ap.add_argument("--out", default=str(HERE / "results"))
    add_flags(ap)
    args = ap.parse_args(argv)
    import byo_report

    names = QUICK if args.quick else tuple(MODELS)
    epochs = args.epochs or (4 if args.quick else 30)
    jobs = [{"model": n, "timesteps": args.timesteps, "epochs": epochs, "lr": 5e-3, "seed": 0}
            for n in names]
    cache = RunCache(WORK / "runs.jsonl", _code_hash())
    t0 = time.perf_counter()
    results, missing = gather(cache, jobs, run_job, 1, print, args,
                              describe=lambda j: j["model"], done=lambda j, r, i, n: print(
                                  f"  {j['model']}: {r.get('error') or 'done'} ({i}/{n})"))
    stem = Path(args.out) / ("byo_quick" if args.quick else "byo")
    payload = {"timesteps": args.timesteps, "epochs": epochs, "elapsed": time.perf_counter() - t0,
               "code": cache.code, "results": results,
               "missing": [j["model"] for j in missing]}
    markdown = byo_report.markdown(payload)
    write_results(stem, json.loads(json.dumps(payload, default=str)), markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
