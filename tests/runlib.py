"""Tiny run configs shared by the run, CLI and report tests (seconds, not minutes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

TINY = """\
[run]
name = "{name}"
dir = "{root}"

[teacher]
hidden = [16]
epochs = 1

[student]
hidden = [8]
epochs = 2

[distill]
method = "{method}"

[quantize]
w_bits = {w_bits}

[hardware]
sim_samples = {sim_samples}

[report]
sweep_timesteps = [2, 4]
sweep_bits = [4, 8]
"""


def tiny_config(root: Path, name: str = "tiny", *, method: str = "hinton", w_bits: int = 8,
                sim_samples: int = 8) -> Path:
    """Write a tiny digits config under ``root`` whose runs go to ``root/runs``."""
    path = Path(root) / f"{name}.toml"
    path.write_text(TINY.format(name=name, root=Path(root) / "runs", method=method,
                                w_bits=w_bits, sim_samples=sim_samples))
    return path


def slow_teacher(path: Path) -> Path:
    """Make the config at ``path`` train its teacher for ages (a step to stop or to hold)."""
    text = Path(path).read_text()
    Path(path).write_text(text.replace("hidden = [16]\nepochs = 1\n",
                                       "hidden = [256, 256]\nepochs = 100000\n", 1))
    return Path(path)


def _ctrl_c_as_in_a_terminal() -> None:
    # A shell without job control starts background commands with SIGINT ignored, and a
    # child inherits that (`make test &`): give the command a terminal's default Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def start_cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    """``python -m spikefab <args>`` in a process group of its own, as a terminal runs it
    (Ctrl-C there is SIGINT to the whole group, handled as by default), stdout and stderr
    piped."""
    return subprocess.Popen([sys.executable, "-m", "spikefab", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_ctrl_c_as_in_a_terminal,
                            env=None if env is None else {**os.environ, **env})


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 300) -> list[str]:
    """Read ``proc``'s stdout up to the first line holding ``text`` (the lines read)."""
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if text in line:
                return lines
    finally:
        watchdog.cancel()
    raise AssertionError(f"no line with {text!r}; stdout {lines}, stderr {proc.stderr.read()}")


def interrupt(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    """Ctrl-C: SIGINT to ``proc``'s process group; ``(exit status, stderr)``."""
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err
