"""Verilator: the one place a design is compiled, and cocotb runs on a compiled design.

:func:`build` compiles a Verilog design in one of two ways and caches the result:

* for cocotb (``harness=None``): through ``cocotb_tools.runner`` (cocotb's VPI main),
  binary ``<build_dir>/<toplevel>``, stamp ``build.stamp``, log ``build.log``;
* with a C++ harness of ours (:class:`Harness`: its own ``main``, e.g. the raw-throughput
  harness of :mod:`.native` or the board model of :mod:`.board_bridge`):
  ``verilator --cc --exe --build``, binary ``<build_dir>/<name>``, stamp
  ``<name>.stamp``, log ``<name>.log``.

A stamp holds the SHA-256 of the Verilog, the harness sources and every build option;
an identical build already there is reused. A missing or broken Verilator raises
:class:`VerilatorError` naming the log that holds the tool's output; there is no
fallback and nothing is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner
from spikefab.atomic import atomic_write_text
from spikefab.toolchain import verilator_env

__all__ = ["BUILD_ARGS", "TIMESCALE", "Harness", "VerilatorError", "build", "log_tail",
           "run_test", "tool_environment"]

#: Amaranth's Verilog trips Verilator lint warnings (widths, unused bits): not fatal.
BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-O2")
TIMESCALE = ("1ns", "1ps")


class VerilatorError(RuntimeError):
    """Verilator failed to build a design, or a cocotb run failed."""


@dataclass(frozen=True)
class Harness:
    """A C++ ``main`` compiled with the model instead of cocotb's.

    Parameters
    ----------
    name : str
        The executable's name in the build folder (also names its stamp, log, objects).
    sources : tuple of Path
        C/C++ sources compiled with the model.
    prefix : str
        The model's C++ class name (``--prefix``).
    cflags : str
        Extra compiler flags (``-CFLAGS``), after ``-O2``.
    deps : tuple of Path
        Headers and other files whose contents the build depends on (hashed, not passed).
    """

    name: str
    sources: tuple[Path, ...]
    prefix: str
    cflags: str = ""
    deps: tuple[Path, ...] = field(default_factory=tuple)


def log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a tool's log (``(no log)`` when it cannot be read)."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _key(verilog: Path, toplevel: str, harness: Harness | None) -> str:
    h = hashlib.sha256(verilog.read_bytes())
    h.update(json.dumps([toplevel, BUILD_ARGS, TIMESCALE, _versions()]).encode())
    if harness is not None:
        h.update(json.dumps([harness.name, harness.prefix, harness.cflags]).encode())
        for p in (*harness.sources, *harness.deps):
            h.update(Path(p).read_bytes())
    return h.hexdigest()


def build(verilog, *, toplevel: str, build_dir, harness: Harness | None = None,
          force: bool = False) -> float:
    """Compile ``verilog`` into ``build_dir`` unless an identical build is already there.

    Returns
    -------
    float
        Seconds spent building (0.0 when the cached build was reused).

    Raises
    ------
    VerilatorError
        When Verilator or the C++ compiler fails (the message names the log and ends with
        its tail).
    """
    verilog, build_dir = Path(verilog).resolve(), Path(build_dir).resolve()
    key = _key(verilog, toplevel, harness)
    name = toplevel if harness is None else harness.name
    stamp = build_dir / ("build.stamp" if harness is None else f"{harness.name}.stamp")
    if not force and (build_dir / name).is_file() and stamp.is_file():
        if stamp.read_text().strip() == key:
            return 0.0
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / ("build.log" if harness is None else f"{harness.name}.log")
    what = verilog.name if harness is None else f"{harness.name} ({verilog.name})"
    t0 = time.perf_counter()
    with tool_environment():
        if harness is None:
            _build_cocotb(verilog, toplevel, build_dir, log, what)
        else:
            _build_harness(verilog, toplevel, build_dir, log, harness, what)
    atomic_write_text(stamp, key + "\n")
    return time.perf_counter() - t0


def _build_cocotb(verilog: Path, toplevel: str, build_dir: Path, log: Path, what: str) -> None:
    try:
        get_runner("verilator").build(
            sources=[verilog], hdl_toplevel=toplevel, build_dir=build_dir,
            build_args=list(BUILD_ARGS), timescale=TIMESCALE, always=True, log_file=log,
        )
    except (RuntimeError, SystemExit) as e:
        raise VerilatorError(
            f"verilator build of {what} failed ({e}); log {log}:\n{log_tail(log)}"
        ) from None


def _build_harness(verilog: Path, toplevel: str, build_dir: Path, log: Path, harness: Harness,
                   what: str) -> None:
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "--top-module", toplevel,
           "--prefix", harness.prefix, "-o", str(build_dir / harness.name),
           "-Mdir", str(build_dir / f"obj_{harness.name}"), *BUILD_ARGS,
           "-CFLAGS", f"-O2 {harness.cflags}".strip(), *map(str, harness.sources), str(verilog)]
    try:
        with open(log, "w") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    except OSError as e:
        raise VerilatorError(f"verilator build of {what} could not start ({e})") from None
    if proc.returncode != 0:
        raise VerilatorError(
            f"verilator build of {what} failed (exit {proc.returncode}); log {log}:\n"
            f"{log_tail(log, 20)}"
        )


def run_test(
    build_dir,
    *,
    toplevel: str,
    test_module: str,
    extra_env: dict | None = None,
    test_dir=None,
    seed: int = 1,
) -> None:
    """Run the cocotb tests of ``test_module`` on the design built in ``build_dir``.

    Raises
    ------
    VerilatorError
        When the simulator fails or any cocotb test fails (under pytest cocotb's runner
        itself exits with a failure first).
    """
    build_dir = Path(build_dir).resolve()
    test_dir = Path(test_dir).resolve() if test_dir is not None else build_dir
    log = test_dir / f"{test_module.rsplit('.', 1)[-1]}.log"
    try:
        with tool_environment():
            results = get_runner("verilator").test(
                hdl_toplevel=toplevel,
                hdl_toplevel_lang="verilog",
                test_module=test_module,
                build_dir=build_dir,
                test_dir=test_dir,
                extra_env=dict(extra_env or {}),
                seed=seed,
                log_file=log,
            )
    except (RuntimeError, SystemExit) as e:
        raise VerilatorError(
            f"cocotb run of {test_module} failed ({e}); log {log}:\n{log_tail(log)}"
        ) from None
    n_tests, n_failed = get_results(results)
    if n_tests == 0 or n_failed:
        raise VerilatorError(
            f"cocotb run of {test_module}: {n_failed} of {n_tests} tests failed; log {log}:\n"
            f"{log_tail(log)}"
        )


@contextlib.contextmanager
def tool_environment():
    """Apply ``spikefab.toolchain.verilator_env`` to ``os.environ`` (cocotb's runner reads
    it there) for the duration of the block, then restore the previous environment."""
    saved = dict(os.environ)
    env = verilator_env(saved)
    try:
        os.environ.clear()
        os.environ.update(env)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _versions() -> list[str]:
    import cocotb
    import verilator

    return [cocotb.__version__, verilator.__version__]
