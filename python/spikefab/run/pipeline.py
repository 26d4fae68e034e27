"""The step registry and the runner: resume from the last completed step.

Each :class:`Step` names the config keys it reads and the steps whose outputs it reads;
its fingerprint hashes both (``rundir.fingerprint``). ``run_pipeline`` walks the steps in
order and skips every step already done with its current fingerprint, so an interrupted
run resumes where it stopped and a changed key re-runs exactly the steps downstream of
it. ``run_one`` runs a single step after checking that the steps it reads are done.
``report`` is cheap and always runs.

Each step also names its output files; a step recorded done whose outputs are gone or
altered is not done (``RunDir.not_done``) and runs again, saying why. A step's record is
dropped before it starts, so a step that fails or is interrupted (Ctrl-C:
:class:`StepInterrupted`) is left not done, whatever it had written. A tool's failure in a
step becomes :class:`StepFailed` naming the step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..toolchain import ToolchainError, ToolError
from .config import BOARDS
from .rundir import RunDir, fingerprint
from .steps_hw import StepFailed, run_bitstream_board, run_sim, run_verilog, sim_lines
from .steps_quant import run_export, run_quantize
from .steps_train import run_distill, run_train_teacher

__all__ = ["STEP_NAMES", "Context", "Step", "StepFailed", "StepInterrupted", "is_done",
           "not_done", "plan", "run_one", "run_pipeline"]

_TEACHER_METHODS = ("hinton", "tser", "seal", "nld", "ckdsnn", "stars")


class StepInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped step ``step``; it is left not done."""

    def __init__(self, step: str):
        super().__init__(step)
        self.step = step


def _print(line: str) -> None:
    print(line, flush=True)  # a step's header is out before the step runs, even piped


@dataclass
class Context:
    """What a step gets: the effective config, the run directory and an output function."""

    cfg: dict
    run: RunDir
    out: Callable[[str], None] = _print
    fps: dict = field(default_factory=dict)

    def say(self, line: str) -> None:
        self.out(f"      {line}")


def _no_outputs(cfg: dict, summary: dict) -> tuple:
    return ()


@dataclass(frozen=True)
class Step:
    """One pipeline step: ``func(ctx) -> summary dict``; ``outputs(cfg, summary)`` are the
    files it writes (paths in the run directory)."""

    name: str
    title: str
    func: Callable
    keys: tuple
    after: Callable[[dict], tuple]
    outputs: Callable[[dict, dict], tuple] = _no_outputs


def _files(folder: str, *names: str) -> Callable[[dict, dict], tuple]:
    return lambda cfg, summary: tuple(f"{folder}/{n}" for n in names)


def _report(ctx) -> dict:
    from ..report import write_report

    path = write_report(ctx.run, ctx.cfg)
    ctx.say(f"report -> {path}")
    return {"report": str(path)}


def _board_step(board: str) -> Step:
    def outputs(cfg, summary):
        files = ("report.json", *([summary["bitstream"]] if summary.get("bitstream") else []))
        return tuple(f"bitstreams/{board}/{n}" for n in files)

    return Step(f"bitstream:{board}", f"bitstream for {board}",
                lambda ctx: run_bitstream_board(ctx, board),
                ("hardware.lanes", "hardware.in_pack", "hardware.baud"),
                lambda cfg: ("export",), outputs)


def _teacher_files(cfg: dict, summary: dict) -> tuple:
    return () if cfg["teacher"]["kind"] == "none" else ("teacher/teacher.pt",
                                                         "teacher/teacher.json")


_STEPS = (
    Step("train-teacher", "train the ANN teacher", run_train_teacher,
         ("run.seed", "data", "teacher", "student.encoding", "student.in_bits"),
         lambda cfg: (), _teacher_files),
    Step("distill", "train the float spiking student", run_distill,
         ("run.seed", "data", "student", "distill", "distill.stars"),
         lambda cfg: ("train-teacher",) if cfg["distill"]["method"] in _TEACHER_METHODS
         else (), _files("student", "student.pt", "student.json", "float_pred.npy")),
    Step("quantize", "quantize (integer widths)", run_quantize, ("quantize",),
         lambda cfg: ("distill",), _files("quant", "net.json", "net.npz", "quant.json")),
    Step("export", "export the IR and run the golden model", run_export,
         ("report.raster_sample",), lambda cfg: ("quantize",),
         _files("ir", "net.json", "net.npz", "test_inputs.npy", "golden.npz", "golden.json")),
    Step("verilog", "generate Verilog", run_verilog, ("hardware.lanes", "hardware.in_pack"),
         lambda cfg: ("export",), _files("rtl", "spikefab_core.v", "spikefab_core.json")),
    Step("sim", "simulate the RTL in Verilator and compare with golden", run_sim,
         ("hardware.lanes", "hardware.in_pack", "hardware.sim_samples", "hardware.trace"),
         lambda cfg: ("export",), _files("sim", "results.npz", "sim.json")),
)
_REPORT = Step("report", "write the report", _report, (), lambda cfg: ())
#: Subcommand names of the steps, in pipeline order.
STEP_NAMES = tuple(s.name for s in _STEPS) + ("bitstream", "report")


def plan(cfg: dict, boards=None) -> list[Step]:
    """The steps of a whole run: ``boards`` (default ``hardware.boards``) get one each."""
    boards = cfg["hardware"]["boards"] if boards is None else boards
    return [*_STEPS, *(_board_step(b) for b in boards), _REPORT]


def _step(name: str) -> Step:
    for s in _STEPS:
        if s.name == name:
            return s
    if name.startswith("bitstream:"):
        return _board_step(name.split(":", 1)[1])
    if name == "report":
        return _REPORT
    raise ValueError(f"step must be one of {', '.join(STEP_NAMES)}, not {name!r}")


def step_fingerprint(cfg: dict, name: str, memo: dict | None = None) -> str:
    """The fingerprint of step ``name`` under ``cfg`` (its keys and its upstream steps)."""
    memo = {} if memo is None else memo
    if name not in memo:
        s = _step(name)
        up = [step_fingerprint(cfg, u, memo) for u in s.after(cfg)]
        memo[name] = fingerprint(cfg, s.keys, [name, *up])
    return memo[name]


def _execute(ctx: Context, s: Step, index: int, total: int, why: str | None = None) -> dict:
    if s.name != "report":
        ctx.run.forget(s.name)  # not done until it finishes, whatever it writes meanwhile
    try:
        ctx.out(f"[{index}/{total}] {s.name}: {s.title} ...")
        if why is not None and why.startswith("output "):
            ctx.say(f"{why}: running the step again")
        t0 = time.perf_counter()
        summary = s.func(ctx)
    except KeyboardInterrupt:
        raise StepInterrupted(s.name) from None
    except StepFailed as e:
        e.step = e.step or s.name
        raise
    except (ToolError, ToolchainError) as e:
        raise StepFailed(str(e), step=s.name) from None
    seconds = time.perf_counter() - t0
    if s.name != "report":
        ctx.run.mark_done(s.name, step_fingerprint(ctx.cfg, s.name, ctx.fps), seconds, summary,
                          s.after(ctx.cfg), s.outputs(ctx.cfg, summary))
    ctx.say(f"done in {seconds:.1f} s")
    return summary


def not_done(ctx: Context, name: str) -> str | None:
    """Why step ``name`` is not done with the current config on its inputs' current outputs
    (``RunDir.not_done``), or None when it is done."""
    s = _step(name)
    rec = ctx.run.step(name)
    outputs = s.outputs(ctx.cfg, rec.get("summary") or {}) if rec else ()
    return ctx.run.not_done(name, step_fingerprint(ctx.cfg, name, ctx.fps), s.after(ctx.cfg),
                            outputs)


def is_done(ctx: Context, name: str) -> bool:
    """Step ``name`` is done with the current config on its inputs' current outputs."""
    return not_done(ctx, name) is None


def _check_upstream(ctx: Context, s: Step) -> None:
    for u in s.after(ctx.cfg):
        why = not_done(ctx, u)
        if why is None:
            continue
        if why.startswith("output "):
            state = f"not done ({why})"
        elif why.startswith("out of date"):
            state = "out of date (the config or an earlier step changed)"
        else:
            state = "not done"
        raise ValueError(f"step {s.name!r} needs step {u!r}, which is {state} in "
                         f"{ctx.run.root}: run `spikefab {u} ...` or `spikefab run ...`")


def run_one(ctx: Context, name: str, *, force: bool = False) -> dict | None:
    """Run step ``name`` (``bitstream:<board>`` for a board) if it is not done already."""
    s = _step(name)
    if s.name.startswith("bitstream:") and s.name.split(":", 1)[1] not in BOARDS:
        raise ValueError(f"board must be one of {', '.join(BOARDS)}, not "
                         f"{s.name.split(':', 1)[1]!r}")
    why = None if s.name == "report" or force else not_done(ctx, s.name)
    if s.name != "report" and not force and why is None:
        ctx.out(f"{s.name}: already done with this config in {ctx.run.root} "
                f"(--force runs it again)")
        return None
    _check_upstream(ctx, s)
    return _execute(ctx, s, 1, 1, why)


def run_pipeline(ctx: Context, *, until: str | None = None, skip=(), force: bool = False,
                 boards=None) -> dict:
    """Run every step not yet done, in order; returns ``{step: summary or "skipped"}``.

    Parameters
    ----------
    until : str, optional
        The last step to run (a name of :data:`STEP_NAMES`).
    skip : sequence of str
        Steps not to run (``bitstream`` skips every board).
    force : bool
        Run every step again, done or not.
    """
    for name in (*skip, *([until] if until else [])):
        if name not in STEP_NAMES:
            raise ValueError(f"step must be one of {', '.join(STEP_NAMES)}, not {name!r}")
    steps = plan(ctx.cfg, boards)
    if until is not None:
        hits = [i for i, s in enumerate(steps) if s.name.split(":")[0] == until]
        if not hits:
            raise ValueError(f"--until {until!r}: no such step in this run "
                             f"(hardware.boards is empty)")
        steps = steps[: hits[-1] + 1]
    steps = [s for s in steps if s.name.split(":")[0] not in skip]
    results = {}
    for i, s in enumerate(steps, 1):
        why = None if s.name == "report" or force else not_done(ctx, s.name)
        if s.name != "report" and not force and why is None:
            rec = ctx.run.step(s.name)
            ctx.out(f"[{i}/{len(steps)}] {s.name}: done {rec['finished']} (resumed; skipped)")
            if s.name == "sim":  # what `make demo` prints, from the stored result
                for line in sim_lines(rec["summary"]):
                    ctx.say(line)
            results[s.name] = "skipped"
            continue
        _check_upstream(ctx, s)
        results[s.name] = _execute(ctx, s, i, len(steps), why)
    return results
