"""The ``spikefab`` command: one config from dataset to bitstream (``docs/cli.md``).

Every step command takes a TARGET: a config file (``configs/digits.toml``) or a run
directory (``build/runs/digits``) whose stored config is used. Steps already done with the
current config are skipped (``--force`` runs them again); ``run`` runs every step in order
and resumes from the last completed one.

Exit status: 0 success; 1 a step ran and failed (RTL disagrees with golden; Verilator,
the C++ compiler, Yosys, nextpnr or a pack tool failed or is missing; a bitstream does not
fit or misses timing); 2 bad input (config, arguments, a missing earlier step, a corrupt run
file); 3 the run directory is in use by another command; 130 interrupted (Ctrl-C). Each
failure is one line on stderr: ``error: <step>: <what failed>; log: <file>`` or
``interrupted: ...``. Commands that write a run hold its lock (``run/lock.py``); ``status``
and ``check`` never write.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import warnings
from pathlib import Path

__all__ = ["build_parser", "main"]

_STEP_HELP = {
    "train-teacher": "train the ANN teacher ([teacher])",
    "distill": "train the float spiking student, with or without a teacher ([student], "
               "[distill])",
    "quantize": "PTQ or QAT to integer widths ([quantize])",
    "export": "write the IR and the golden model's results on the test set",
    "verilog": "generate the core's Verilog (python -m spikefab_hdl verilog)",
    "sim": "simulate the test set in Verilator and compare with golden exactly",
    "bitstream": "build a bitstream and its resource/Fmax report for a board",
    "report": "write report.md and PNG plots into <run>/report/",
}


def _target(p) -> None:
    p.add_argument("target", help="config file (.toml) or run directory")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="spikefab", description=__doc__.split("\n")[0])
    ap.add_argument("--runs", metavar="DIR", default=None,
                    help="parent folder of run directories (overrides run.dir)")
    sub = ap.add_subparsers(dest="command", required=True, metavar="command")
    for name, text in _STEP_HELP.items():
        p = sub.add_parser(name, help=text, description=text)
        _target(p)
        if name != "report":
            p.add_argument("--force", action="store_true", help="run even if already done")
        if name == "distill":
            p.add_argument("--method", help="distillation method (overrides distill.method)")
        if name == "bitstream":
            p.add_argument("--board", action="append",
                           help="board (repeatable; default hardware.boards)")
        if name == "sim":
            p.add_argument("--waves", nargs="?", const="", default=None, metavar="N",
                           help="write sample N's Verilator run as a VCD to "
                                "<run>/sim/waves/sampleN.vcd (no N: the first sample on "
                                "which RTL and golden disagree)")
    p = sub.add_parser("run", help="run every step not done yet, in order (resumes)",
                       description="run every step not done yet, in order (resumes)")
    _target(p)
    p.add_argument("--until", metavar="STEP", help="stop after this step")
    p.add_argument("--skip", metavar="STEP", action="append", default=[],
                   help="leave this step out (repeatable; e.g. --skip bitstream)")
    p.add_argument("--force", action="store_true", help="run every step again")
    p = sub.add_parser("status", help="list the steps of a run and whether each is done")
    _target(p)
    p = sub.add_parser("formal", help="prove the run's gateware computes docs/semantics.md "
                                      "(SymbiYosys; docs/verification.md)")
    _target(p)
    p.add_argument("--jobs", type=int, default=2, help="proofs run at a time (default 2)")
    p.add_argument("--solver", choices=("boolector", "yices", "z3"), default=None,
                   help="SMT solver for every proof (default: the fastest measured for each kind)")
    p.add_argument("--timeout", type=int, default=None, metavar="S",
                   help="seconds per proof; past them it fails as not proven")
    p = sub.add_parser("check", help="validate a config file and print it with its defaults")
    p.add_argument("config", help="config file (.toml)")
    p = sub.add_parser("nir", help="NIR graphs: export a run, import or check a graph "
                                   "(docs/nir.md)")
    nsub = p.add_subparsers(dest="nir_command", required=True, metavar="nir-command")
    q = nsub.add_parser("export", help="<run>/nir/net.nir (IR) and student.nir (float)")
    _target(q)
    q = nsub.add_parser("import", help="read a NIR graph; -o saves it as an IR or a student")
    q.add_argument("file", help=".nir file")
    q.add_argument("--profile", choices=("snntorch", "norse", "norse-dev"), default=None,
                   help="import modes (dt, reset, threshold); omit only for spikefab graphs")
    q.add_argument("--timesteps", type=int, default=None,
                   help="T of the student saved with -o (required for graphs spikefab "
                        "did not write: NIR does not record T)")
    q.add_argument("--drop-output-neuron", action="store_true",
                   help="with -o: drop a neuron on the last layer (snnTorch classifiers end "
                        "in a Leaky); its input current becomes the readout")
    q.add_argument("-o", "--out", default=None, help="output path stem")
    _byo_flags(q)
    q.add_argument("--run", metavar="DIR", default=None,
                   help="create the run directory DIR holding the imported float student "
                        "(step distill done): quantize, export, verilog, sim, bitstream, "
                        "report and run work on it")
    q.add_argument("--encoding", choices=("direct", "spikes"), default="direct",
                   help="with --run: the input coding the model was trained with")
    q.add_argument("--dataset", choices=("digits", "mnist5k"), default=None,
                   help="with --run: the dataset (default: the one with the graph's inputs)")
    q.add_argument("--force", action="store_true", help="with --run: replace DIR")
    q = nsub.add_parser("check", help="compare the imported model, float and integer, with "
                                      "your own recorded spikes and predictions")
    q.add_argument("file", help=".nir file")
    q.add_argument("--reference", required=True, metavar="REF.npz",
                   help="x, and optionally spikes0.., prediction, y (docs/nir.md)")
    q.add_argument("--profile", choices=("snntorch", "norse", "norse-dev"), default=None,
                   help="import modes preset")
    q.add_argument("--timesteps", type=int, default=None,
                   help="T (required for a direct input x [N, n_in])")
    q.add_argument("--drop-output-neuron", action="store_true",
                   help="read out the last layer's input current instead of its spikes")
    _byo_flags(q, repeat_w_bits=True)
    return ap


def _byo_flags(q, repeat_w_bits: bool = False) -> None:
    """The import-mode and width flags ``nir import`` and ``nir check`` share."""
    q.add_argument("--reset", choices=("zero", "subtract", "subtract-delayed"), default=None,
                   help="how the neurons reset (NIR does not record it): subtract-delayed is "
                        "snnTorch's default")
    q.add_argument("--dt", type=float, default=None,
                   help="Euler time step (default: what the graph tells, or the profile's)")
    q.add_argument("--in-bits", type=int, default=None,
                   help="direct input width of the integer model (default 8)")
    if repeat_w_bits:
        q.add_argument("--w-bits", type=int, action="append", default=None,
                       help="weight width of the integer model (repeatable; default 8)")
    else:
        q.add_argument("--w-bits", type=int, default=8, help="with --run: quantize.w_bits")
    q.add_argument("--decay-bits", type=int, default=12,
                   help="fraction bits of a decay that is not 1 - 2**-k (default 12)")


def _resolve(args):
    """``(config, RunDir, TOML text or None)`` for the target, with CLI overrides applied."""
    from .run import RunDir, check_config, load_config
    from .run.config import config_text

    target = Path(args.target)
    if target.is_dir():
        run = RunDir(target)
        cfg = run.load_config()
        source = None
    else:
        cfg = load_config(target)
        if args.runs is not None:
            cfg["run"]["dir"] = args.runs
        run = RunDir.for_config(cfg)
        source = config_text(target)
    method = getattr(args, "method", None)
    if method is not None:
        doc = {k: v for k, v in cfg.items()}
        doc["distill"] = dict(cfg["distill"], method=method)
        cfg = check_config(doc)
    return cfg, run, source


def _differences(args, cfg, run, stored) -> str | None:
    """One line naming the keys in which the given config differs from the run's."""
    from .run.rundir import config_differences

    if stored is None or Path(args.target).is_dir():
        return None
    diff = config_differences(cfg, stored)
    if not diff:
        return None
    more = f" and {len(diff) - 6} more" if len(diff) > 6 else ""
    return (f"{args.target} differs from {run.path('config.json')} in "
            f"{', '.join(diff[:6])}{more}")


def _status(args) -> int:
    """List the steps; reads the run directory and writes nothing."""
    from .run import Context
    from .run.lock import writer
    from .run.pipeline import not_done, plan

    cfg, run, _ = _resolve(args)
    stored = run.stored_config()
    ctx = Context(cfg, run)
    for s in plan(cfg):
        if s.name == "report":
            continue
        why = not_done(ctx, s.name)
        if why is None:
            rec = run.step(s.name)
            state = f"done {rec['finished']} ({rec['seconds']:.1f} s)"
        elif why.startswith("output "):
            state = f"not done: {why} (it runs again)"
        elif why.startswith("out of date") and not why.startswith("out of date (step"):
            state = "out of date (the config or an earlier step changed)"
        else:
            state = why
        print(f"{s.name:24s} {state}")
    if not run.path("config.json").is_file():
        print(f"note: no run at {run.root} yet")
    busy = writer(run.root)
    if busy is not None:
        print(f"note: {busy} is writing this run now")
    line = _differences(args, cfg, run, stored)
    if line is not None:
        print(f"note: {line}; the steps above are for {args.target} (status writes nothing)")
    return 0


def _writer(args) -> int:
    """Every command that writes the run directory: under its lock."""
    from .run import Context, run_one, run_pipeline
    from .run.lock import run_lock

    cfg, run, source = _resolve(args)
    with run_lock(run.root, f"spikefab {shlex.join(args.argv)}"):
        try:
            stored = run.stored_config()
        except ValueError:  # a corrupt config.json: the one given replaces it
            stored = None
        line = _differences(args, cfg, run, stored)
        run.save_config(cfg, source)
        ctx = Context(cfg, run)
        if line is not None:
            ctx.out(f"note: {line}; the new values are stored")
        if args.command == "nir":
            from .run.nir_io import export_run

            for path in export_run(ctx.run):
                print(f"wrote {path}")
        elif args.command == "run":
            run_pipeline(ctx, until=args.until, skip=tuple(args.skip), force=args.force)
        elif args.command == "bitstream":
            boards = args.board or cfg["hardware"]["boards"]
            if not boards:
                raise ValueError("bitstream needs a board: --board <board> or hardware.boards")
            for b in boards:
                run_one(ctx, f"bitstream:{b}", force=args.force)
        elif args.command == "sim" and args.waves is not None:
            from .run.waves import run_waves

            run_waves(ctx, args.waves or None, force=args.force)
        else:
            run_one(ctx, args.command, force=getattr(args, "force", False))
    return 0


def _dispatch(args) -> int:
    if args.command == "check":
        import json

        from .run import load_config

        print(json.dumps(load_config(args.config), indent=2))
        return 0
    if args.command == "nir" and args.nir_command == "check":
        from .run.nir_check import check_reference

        lines, _ = check_reference(
            args.file, args.reference, timesteps=args.timesteps, reset=args.reset, dt=args.dt,
            profile=args.profile, in_bits=args.in_bits or 8, w_bits=args.w_bits or [8],
            decay_bits=args.decay_bits, drop_output_neuron=args.drop_output_neuron)
        print("\n".join(lines))
        return 0
    if args.command == "nir" and args.nir_command == "import" and args.run is not None:
        from .run.nir_byo import import_to_run

        if args.timesteps is None:
            raise ValueError("nir import --run needs --timesteps T (NIR does not record T)")
        print("\n".join(import_to_run(
            args.file, args.run, timesteps=args.timesteps, reset=args.reset, dt=args.dt,
            profile=args.profile, encoding=args.encoding, in_bits=args.in_bits,
            dataset=args.dataset, w_bits=args.w_bits, decay_bits=args.decay_bits,
            drop_output_neuron=args.drop_output_neuron, force=args.force)))
        return 0
    if args.command == "nir" and args.nir_command == "import":
        from .run.nir_io import import_file

        lines, written = import_file(args.file, args.profile, args.out,
                                     timesteps=args.timesteps,
                                     drop_output_neuron=args.drop_output_neuron,
                                     reset=args.reset, dt=args.dt)
        print("\n".join(lines))
        if written is not None:
            print(f"wrote {written}")
        return 0
    if args.command == "status":
        return _status(args)
    if args.command == "formal":
        return _formal(args)
    return _writer(args)


def _formal(args) -> int:
    """Prove the run's core; writes only ``<run>/formal/``, under the run's lock."""
    from .run.formal import run_formal
    from .run.lock import run_lock

    cfg, run, _ = _resolve(args)
    if not run.path("ir", "net.json").is_file():
        raise ValueError(f"{run.path('ir', 'net.json')} not found: formal proves the run's IR; "
                         f"run the export step first (spikefab export {run.root})")
    with run_lock(run.root, f"spikefab {shlex.join(args.argv)}"):
        run_formal(run, cfg, jobs=args.jobs, solver=args.solver, timeout=args.timeout)
    return 0


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)


@contextlib.contextmanager
def _one_line_warnings():
    saved = warnings.showwarning
    warnings.showwarning = _one_line_warning
    try:
        yield
    finally:
        warnings.showwarning = saved


def main(argv=None) -> int:
    """Entry point of the ``spikefab`` script."""
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with _one_line_warnings():
            return _run(args)
    except KeyboardInterrupt as e:  # Ctrl-C: in a step (StepInterrupted) or between steps
        step = getattr(e, "step", None)
        if step is not None:
            print(f"interrupted: step {step!r} stopped and is left not done; run the command "
                  f"again to resume", file=sys.stderr)
        else:
            print(f"interrupted: spikefab {args.command} stopped while no step was running",
                  file=sys.stderr)
        return 130


def _run(args) -> int:
    from .ir import IRError
    from .run import StepFailed
    from .run.lock import RunLocked
    from .toolchain import ToolchainError, ToolError

    try:
        return _dispatch(args)
    except StepFailed as e:
        print(f"error: {e.step}: {e}" if e.step else f"error: {e}", file=sys.stderr)
        return 1
    except (ToolError, ToolchainError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except RunLocked as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except (ValueError, TypeError, IRError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
