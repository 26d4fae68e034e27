"""Files: atomic writes (write beside the target, then rename, so no half-written file
remains), and text reads that refuse a binary file naming the line.

* A temporary is created with mode ``0o666``, so the kernel applies the process's umask
  (and any default ACL) exactly as for an ordinary new file: with umask 022 an output is
  ``rw-r--r--``. (``tempfile.mkstemp`` would make every output ``0600``.)
* ``atomic_write_files`` replaces a set of related files whole or not at all: if any rename
  fails, the files already replaced get their previous content back; if the process dies
  between two renames, a journal written before the first one lets the next writer finish
  the set (:func:`finish_cut_writes`, run when a run directory's lock is taken). While the set is
  being replaced, each previous file also stays reachable under :func:`previous_path`
  (a hard link named by its SHA-256), so a reader whose committing file records that hash
  (the IR's JSON does) still finds the old content after a crash between two renames.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from pathlib import Path

__all__ = [
    "TEMP_NAME",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_files",
    "atomic_write_text",
    "finish_cut_writes",
    "previous_path",
    "read_text",
    "remove_stale_temps",
    "TextFileError",
]

_BINARY = getattr(os, "O_BINARY", 0)


#: The name of a temporary beside its target: ``.<name>.<8 hex digits>.tmp``.
TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")


def remove_stale_temps(folder) -> list[Path]:
    """Remove the temporaries left in ``folder`` (and below) by writers that were killed
    before they could clean up (``kill -9``, a power cut), after completing the sets whose
    renames had begun (:func:`finish_cut_writes`); return what was removed. Call it only
    while no writer can be at work there (e.g. holding the run directory's lock)."""
    finish_cut_writes(folder)
    removed = []
    for path in sorted(Path(folder).rglob(".*.tmp")):
        if TEMP_NAME.match(path.name) and path.is_file():
            _unlink(path)
            removed.append(path)
    return removed


def _open_temp(path: Path) -> tuple[int, Path]:
    """A new, empty temporary ``.<name>.<random>.tmp`` beside ``path``, opened for writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def _fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink(path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    fd, tmp = _open_temp(path)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_write(path, "wb") as f:
        f.write(data)


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


class TextFileError(ValueError):
    """A file that is not text; ``line`` (1-based) is where, None when it cannot be read."""

    def __init__(self, line: int | None, problem: str):
        super().__init__(problem if line is None else f"line {line}: {problem}")
        self.line, self.problem = line, problem


def read_text(path) -> str:
    """The UTF-8 text of ``path``; raises :class:`TextFileError` for an unreadable file or one
    that is not UTF-8 or holds a NUL byte (a binary file)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise TextFileError(None, f"cannot be read ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TextFileError(data[:e.start].count(b"\n") + 1, f"byte 0x{data[e.start]:02x} is "
                            "not UTF-8 text (a binary file?)") from None
    if "\x00" in text:
        raise TextFileError(text[:text.index("\x00")].count("\n") + 1,
                            "a NUL byte is not text (a binary file?)")
    return text


def previous_path(path, sha256: str) -> Path:
    """Where ``atomic_write_files`` keeps the previous ``path`` of that SHA-256 while replacing."""
    path = Path(path)
    return path.with_name(f".{path.name}.{sha256[:16]}.prev")


def _keep(path: Path) -> Path | None:
    """Keep ``path``'s current content under :func:`previous_path`; None if there is none."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    kept = previous_path(path, hashlib.sha256(data).hexdigest())
    _unlink(kept)
    try:
        os.link(path, kept)
    except OSError:  # no hard links here: a copy does the same
        atomic_write_bytes(kept, data)
    return kept


def _drop_stale(path: Path) -> None:
    """Remove copies kept for ``path`` by a write that was cut off (e.g. by a crash)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{16}}\.prev")
    for p in path.parent.iterdir():
        if pattern.fullmatch(p.name):
            _unlink(p)


def atomic_write_files(contents: dict) -> None:
    """Write several files as one step: all of them are replaced, or none is.

    ``contents`` maps paths to bytes. Every temporary is complete before the first rename,
    and the files are renamed in ``contents``' order, so put last the file that commits the
    set (the one naming or hashing the others). Should a rename fail, the files already
    renamed get their previous content back (or are removed if they did not exist) and the
    error propagates; no temporary remains.
    """
    items = [(Path(p), data) for p, data in contents.items()]
    temps: list[tuple[Path, Path]] = []
    journal = None
    kept: dict[Path, Path | None] = {}
    done: list[Path] = []
    restored = True
    try:
        for path, data in items:
            fd, tmp = _open_temp(path)
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for _, path in temps[:-1]:
            kept[path] = _keep(path)
        journal = _write_journal(temps) if len(temps) > 1 else None
        for folder in {path.parent for _, path in temps}:
            _fsync_dir(folder)
        try:
            for tmp, path in temps:
                os.replace(tmp, path)
                done.append(path)
        except BaseException:
            restored = _restore(done, kept)
            raise
        for folder in {path.parent for _, path in temps}:
            _fsync_dir(folder)
    finally:
        for tmp, _ in temps:
            _unlink(tmp)
        if journal is not None:
            _unlink(journal)
        if restored:
            for k in kept.values():
                if k is not None:
                    _unlink(k)
    if restored:
        for _, path in temps[:-1]:
            _drop_stale(path)
        _drop_stale_journals(temps[-1][1])


#: The journal of a set being renamed: ``.<name of its last file>.<8 hex digits>.set``.
JOURNAL_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.set$")


def _write_journal(temps: list[tuple[Path, Path]]) -> Path:
    """Record, durably and before the first rename, which temporary becomes which file, so
    that :func:`finish_cut_writes` can complete a set whose renames a crash cut off."""
    last = temps[-1][1]
    journal = last.with_name(f".{last.name}.{secrets.token_hex(4)}.set")
    atomic_write_bytes(journal, json.dumps([[str(tmp), str(path)] for tmp, path in temps])
                       .encode())
    return journal


def _drop_stale_journals(last: Path) -> None:
    """Remove journals (and their leftover temporaries) of earlier sets committed by ``last``
    that a crash cut off: the set just written supersedes them."""
    for journal in last.parent.glob(f".{last.name}.*.set"):
        if JOURNAL_NAME.match(journal.name):
            try:
                entries = json.loads(journal.read_text())
            except (OSError, ValueError):
                entries = []
            for tmp, _ in entries:
                _unlink(Path(tmp))
            _unlink(journal)


def finish_cut_writes(folder) -> list[Path]:
    """Complete the sets of :func:`atomic_write_files` in ``folder`` (and below) whose renames
    a crash cut off: every temporary a journal names and that is still there is renamed to
    its file (all of them were complete before the first rename), then the journal goes.
    Returns the files completed. Call it only while no writer can be at work there."""
    done = []
    for journal in sorted(Path(folder).rglob(".*.set")):
        if not JOURNAL_NAME.match(journal.name):
            continue
        try:
            entries = json.loads(journal.read_text())
        except (OSError, ValueError):
            entries = []  # a journal cut off while written: no rename had started
        for tmp, path in entries:
            if Path(tmp).is_file():
                os.replace(tmp, path)
                done.append(Path(path))
        _unlink(journal)
    return done


def _restore(done: list[Path], kept: dict) -> bool:
    """Undo the renames in ``done`` (newest first); False if one could not be undone."""
    for path in reversed(done):
        try:
            if kept.get(path) is None:
                _unlink(path)
            else:
                os.replace(kept[path], path)
                kept[path] = None
        except OSError:
            return False
    return True
