"""How long the proofs of the shipped configs take: one row per config x proof.

    python bench/formal_time.py [--configs digits,mnist5k] [--only queue,board]
                                [--solvers yices,boolector] [--jobs 2] [--timeout 300]
                                [--together]

For each config of configs/ its network's stand-in (:mod:`spikefab_hdl.sim.shipped`:
the student's layers, neuron, encoding, widths and lanes, random weights; no training) gets
every proof ``spikefab formal`` runs (:func:`network_proofs` + :func:`board_proofs`),
``--jobs`` at a time, each with its own solver, or with each of ``--solvers`` in turn (to
find the fastest). ``--only`` keeps the proofs of some kinds (``neuron``, ``integrator``,
``queue``, ``board``). A config's wall clock is that of its whole run; configs whose proofs
are the same (mnist5k_stars' student is mnist5k's) are run once and say so. ``--together``
runs every config's proofs in one pool instead (a proof two configs share runs once; the
wall clock is the whole set's).

Prints the table and writes bench/results/formal_time.json and bench/results/formal_time.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from jobcache import markdown_table, write_results
from spikefab.run.config import load_config
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.formal.network import board_proofs, network_proofs, prove
from spikefab_hdl.sim.shipped import stand_in

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("digits", "digits_conv", "mnist5k", "mnist5k_conv", "stars", "mnist5k_stars")
KINDS = ("neuron", "integrator", "queue", "board")


def kind(name: str) -> str:
    """``layer0.queue-short`` -> ``queue``; ``board.parser`` -> ``board``."""
    if name.startswith("board."):
        return "board"
    return name.split(".", 1)[1].split("-", 1)[0]


def config_proofs(name: str, only):
    cfg = load_config(ROOT / "configs" / f"{name}.toml")
    net, lanes = stand_in(cfg)
    proofs = network_proofs(plan_core(net, lanes=lanes)) + board_proofs(net)
    return [p for p in proofs if kind(p.name) in only], lanes


def together(args, only, rows, totals) -> None:
    """All configs' proofs in one pool of ``--jobs``; a row per proof, one total."""
    proofs = []
    for name in args.configs.split(","):
        found, _ = config_proofs(name, only)
        proofs += [replace(p, name=f"{name}.{p.name}") for p in found]
    with tempfile.TemporaryDirectory(prefix="formal_time_") as tmp:
        t0, cpu0 = time.perf_counter(), _children_cpu()
        results = prove(proofs, work=Path(tmp) / "work", out=tmp, jobs=args.jobs,
                        timeout=args.timeout, report=lambda r: print(r.line(), flush=True))
        wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    for p, r in zip(proofs, results, strict=True):
        config, proof = p.name.split(".", 1)
        rows.append({"config": config, "proof": proof, "mode": f"{r.mode} {r.depth}",
                     "solver": r.solver, "s": f"= {r.same_as.split('.', 1)[0]}"
                     if r.same_as else round(r.seconds, 1), "status": r.status})
    totals.append({"config": "all (" + args.configs + ")", "lanes": "",
                   "proofs": f"{len(proofs)} ({sum(r.same_as is None for r in results)} run)",
                   "wall s": round(wall, 1), "CPU s": round(cpu, 1),
                   "failed": sum(not r.passed for r in results)})


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process (building the harnesses) and of its
    finished children (SymbiYosys, yosys, smtbmc, the solvers): load-independent, unlike
    the wall clock."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--only", default=",".join(KINDS))
    ap.add_argument("--solvers", default="", help="each proof with each of these solvers")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--label", default="", help="names the measurement (before/after)")
    ap.add_argument("--out", default="formal_time", help="stem under bench/results/")
    ap.add_argument("--together", action="store_true",
                    help="every config's proofs in one run (`prove` runs identical ones once)")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    solvers = [s for s in args.solvers.split(",") if s] or [None]
    rows, totals, seen = [], [], {}
    start = os.getloadavg()
    if args.together:
        together(args, only, rows, totals)
    for name in args.configs.split(",") if not args.together else []:
        proofs, lanes = config_proofs(name, only)
        key = tuple((p.what, p.name, p.mode, p.depth) for p in proofs)
        if key in seen:
            totals.append({"config": name, "lanes": lanes, "proofs": len(proofs),
                           "wall s": f"= {seen[key]}", "CPU s": "", "failed": ""})
            print(f"{name}: the same proofs as {seen[key]}")
            continue
        seen[key] = name
        for solver in solvers:
            with tempfile.TemporaryDirectory(prefix="formal_time_") as tmp:
                t0, cpu0 = time.perf_counter(), _children_cpu()
                results = prove(proofs, work=Path(tmp) / "work", out=tmp, jobs=args.jobs,
                                solver=solver, timeout=args.timeout,
                                report=lambda r, n=name: print(f"{n}: {r.line()}", flush=True))
                wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
            for p, r in zip(proofs, results, strict=True):
                rows.append({"config": name, "proof": p.name, "mode": f"{r.mode} {r.depth}",
                             "solver": r.solver, "s": round(r.seconds, 1), "status": r.status})
            totals.append({"config": name + (f" ({solver})" if solver else ""), "lanes": lanes,
                           "proofs": len(proofs), "wall s": round(wall, 1),
                           "CPU s": round(cpu, 1), "failed": sum(not r.passed for r in results)})
    load = os.getloadavg()
    payload = {"label": args.label, "jobs": args.jobs, "timeout": args.timeout,
               "cpus": os.cpu_count(), "load": [round(x, 1) for x in load],
               "load_start": [round(x, 1) for x in start],
               "machine": platform.platform(), "proofs": rows, "configs": totals}
    md = [f"# Proof time of the shipped configs{f' ({args.label})' if args.label else ''}", "",
          f"`python bench/formal_time.py --only {args.only} --jobs {args.jobs}"
          f"{' --solvers ' + args.solvers if args.solvers else ''}"
          f"{' --together' if args.together else ''}`; {os.cpu_count()} CPUs, load average "
          f"at the start {start[0]:.1f}, at the end {load[0]:.1f} (1 min), {load[1]:.1f} "
          f"(5 min); a proof past {args.timeout} s is TIMEOUT.",
          "", "## Per config (wall clock of its whole run)", "",
          *markdown_table(totals, [(k, k) for k in ("config", "lanes", "proofs", "wall s",
                                                      "CPU s", "failed")]), "",
          "## Per proof", "",
          *markdown_table(rows, [(k, k) for k in ("config", "proof", "mode", "solver", "s",
                                                    "status")]), ""]
    text = "\n".join(md)
    print(text)
    write_results(ROOT / "bench" / "results" / args.out, payload, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
