"""One writer per run directory: ``<run>/.lock``, held with ``fcntl.flock`` while a command
writes the run.

A command that writes (every step, ``run``, ``report``, ``nir export``) takes the lock
before it stores the config; a second one on the same run directory is refused at once
with :class:`RunLocked`, whose one line names the holder (pid, host, command, start time)
from the lock file. The kernel drops an ``flock`` when its process ends, however it ends
(``kill -9`` included), so a lock left by a killed process is recovered by the next
command, which overwrites the stale holder line and removes the temporaries the killed
writer left (``atomic.remove_stale_temps``). ``status`` and the other read-only
commands take no lock and write nothing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from ..atomic import remove_stale_temps

__all__ = ["LOCK_NAME", "RunLocked", "holder", "run_lock", "writer"]

LOCK_NAME = ".lock"


class RunLocked(RuntimeError):
    """Another process holds the run directory's lock."""


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError) as e:
        return isinstance(e, PermissionError)
    return True


def holder(root) -> str:
    """Who holds (or last held) the lock of run directory ``root``, in words."""
    try:
        info = json.loads((Path(root) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        info = None
    if not isinstance(info, dict):
        return "another process (it has not written its name yet)"
    where = f"pid {info.get('pid')} on {info.get('host')}"
    if info.get("host") == socket.gethostname() and not _alive(info.get("pid")):
        where += " (gone; a process it started still holds the lock)"
    return f"{where}: `{info.get('command')}` since {info.get('since')}"


def writer(root) -> str | None:
    """:func:`holder` when a command holds the lock of ``root`` now, else None (reads only:
    a shared lock tried and dropped at once)."""
    try:
        fd = os.open(Path(root) / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except OSError:
        return holder(root)
    finally:
        os.close(fd)


@contextlib.contextmanager
def run_lock(root, command: str | None = None):
    """Hold the lock of run directory ``root`` (created if missing) for the block.

    Raises
    ------
    RunLocked
        When another process holds it (one line naming the holder).
    OSError
        When the run directory or its lock file cannot be created.
    """
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise OSError(f"run directory {root} cannot be written ({e.strerror}); "
                      f"`spikefab status` reads a run without writing") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise RunLocked(f"run directory {root} is in use by {holder(root)}; wait for it "
                            f"to finish or stop it") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "command": command or " ".join(["spikefab", *sys.argv[1:]]),
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        remove_stale_temps(root)  # a killed writer's temporaries: no writer is left to use them
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
