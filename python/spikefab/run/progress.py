"""Progress bars (tqdm, on stderr) for the long steps.

``epoch_bar(total, desc)`` is a context manager giving a ``log(line)`` callable for the
training loops (one call per epoch or round: the bar advances and shows the line's last
figures). ``spinner(desc)`` shows the elapsed time of work with no known length (Verilator,
a bitstream build). Bars are drawn only on a terminal (tqdm's ``disable=None``) unless
``SPIKEFAB_PROGRESS=1`` forces them (``=0`` turns them off).
"""

from __future__ import annotations

import contextlib
import os
import threading

from tqdm import tqdm

__all__ = ["epoch_bar", "spinner"]


def _disable():
    flag = os.environ.get("SPIKEFAB_PROGRESS")
    if flag == "1":
        return False
    if flag == "0":
        return True
    return None  # tqdm: off when stderr is not a terminal


@contextlib.contextmanager
def epoch_bar(total: int, desc: str):
    """A bar of ``total`` units; yields ``log(line)`` that advances it by one."""
    bar = tqdm(total=total, desc=desc, unit="ep", leave=False, disable=_disable(),
               dynamic_ncols=True)
    last = {"line": ""}

    def log(line: str) -> None:
        last["line"] = line
        bar.update(1)
        bar.set_postfix_str(" ".join(str(line).split()[-2:]), refresh=False)

    try:
        yield log
    finally:
        bar.close()


@contextlib.contextmanager
def spinner(desc: str, interval: float = 0.5):
    """Elapsed seconds of a block of work of unknown length."""
    bar = tqdm(total=None, desc=desc, unit="s", leave=False, disable=_disable(),
               bar_format="{desc}: {elapsed}", dynamic_ncols=True)
    stop = threading.Event()

    def tick():
        while not stop.wait(interval):
            bar.refresh()

    thread = threading.Thread(target=tick, daemon=True)
    if not bar.disable:
        thread.start()
    try:
        yield bar
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
        bar.close()
