"""A build script run under a wall-clock limit, with nothing of it left running after it.

The bitstream build runs ``sh build_spikefab.sh``, which starts yosys, nextpnr and the
packer as its children. Killing only the ``sh`` on a timeout (what ``subprocess.run``'s
``timeout`` does) leaves the running tool orphaned, working on for up to an hour.
:func:`run_in_group` starts the command as the leader of a process group (and session) of
its own and stops the whole group (``SIGTERM``, then ``SIGKILL`` to whatever is left after
``grace_s`` seconds) on a timeout, when the caller is interrupted (Ctrl-C, which no longer
reaches a group of its own from the terminal) and when the caller gets ``SIGTERM`` (a
``kill``, a cancelled job, ``timeout``: none of them reaches the group either); after
stopping the group, ``SIGTERM`` does what it did before (by default: ends the process).
Only the main thread can take a signal; elsewhere only the first two apply.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

__all__ = ["kill_group", "run_in_group", "stop_group"]

#: Seconds a group has to end after ``SIGTERM`` before ``SIGKILL``.
GRACE_S = 5.0


def _live_members(pgid: int) -> list[int]:
    """The processes of group ``pgid`` that have not ended (zombies left out)."""
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(p.name))
    return pids


def stop_group(pgid: int, grace_s: float = GRACE_S) -> None:
    """``SIGTERM`` to process group ``pgid``, up to ``grace_s`` seconds for its members to
    end, then ``SIGKILL`` to those left. Reaps nothing (safe in a signal handler)."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while _live_members(pgid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            return
        time.sleep(0.05)


def kill_group(proc: subprocess.Popen, grace_s: float = GRACE_S) -> None:
    """Stop every process of ``proc``'s group (``proc`` started with
    ``start_new_session=True``, :func:`stop_group`), then reap ``proc``. Until then its
    pid, the group's id, cannot be reused."""
    stop_group(proc.pid, grace_s)
    proc.wait()


def run_in_group(cmd, *, timeout_s: float, grace_s: float = GRACE_S,
                 **popen_kwargs) -> subprocess.CompletedProcess:
    """Run ``cmd`` (``subprocess.Popen`` arguments: ``cwd``, ``env``, ``stdout``...) in a
    process group of its own and wait for it.

    Raises
    ------
    subprocess.TimeoutExpired
        ``cmd`` ran past ``timeout_s`` seconds; its whole group has been stopped
        (:func:`kill_group`).
    """
    proc = subprocess.Popen(cmd, start_new_session=True, **popen_kwargs)
    main = threading.current_thread() is threading.main_thread()
    old = None

    def on_term(signum, frame):
        stop_group(proc.pid, grace_s)
        # then the signal does what it did before (by default: the process ends)
        signal.signal(signum, old if old is not None else signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    if main:
        old = signal.signal(signal.SIGTERM, on_term)
    try:
        returncode = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(proc, grace_s)
        raise subprocess.TimeoutExpired(cmd, timeout_s) from None
    finally:
        if main:
            signal.signal(signal.SIGTERM, old if old is not None else signal.SIG_DFL)
        if proc.poll() is None:  # interrupted (Ctrl-C)
            kill_group(proc, grace_s)
    return subprocess.CompletedProcess(cmd, returncode)
