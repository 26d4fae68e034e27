"""A build script run under a wall-clock limit, with nothing of it left running after it.

The bitstream build runs ``sh build_spikefab.sh``, which starts yosys, nextpnr and the
packer as its children. Killing only the ``sh`` on a timeout (what ``subprocess.run``'s
``timeout`` does) leaves the running tool orphaned, working on for up to an hour.
:func:`run_in_group` starts the command as the leader of a process group (and session) of
its own and, on a timeout or when the caller is interrupted (Ctrl-C), stops the whole
group: ``SIGTERM``, then ``SIGKILL`` to whatever is left after ``grace_s`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

__all__ = ["kill_group", "run_in_group"]

#: Seconds a group has to end after ``SIGTERM`` before ``SIGKILL``.
GRACE_S = 5.0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_group(proc: subprocess.Popen, grace_s: float = GRACE_S) -> None:
    """Stop every process of ``proc``'s group (``proc`` started with
    ``start_new_session=True``): ``SIGTERM``, up to ``grace_s`` seconds for them to end,
    then ``SIGKILL`` to those left; ``proc`` itself is reaped."""
    pgid = proc.pid  # the leader's pid: not reused while a member of its group lives
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        proc.wait()
        return
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid):
        proc.poll()  # reap the leader: then only live members keep the group
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            break
        time.sleep(0.05)
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
    try:
        returncode = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(proc, grace_s)
        raise subprocess.TimeoutExpired(cmd, timeout_s) from None
    finally:
        if proc.poll() is None:  # interrupted (Ctrl-C does not reach a group of its own)
            kill_group(proc, grace_s)
    return subprocess.CompletedProcess(cmd, returncode)
