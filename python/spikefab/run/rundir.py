"""The run directory ``<run.dir>/<run.name>/`` and its step state (``state.json``).

Layout (every file written atomically)::

    config.toml          the config as given (copy of the source file)
    config.json          the effective config (defaults filled in, CLI overrides applied)
    state.json           completed steps: fingerprint, finish time, seconds, summary
    teacher/             teacher.pt (state dict), teacher.json (architecture, accuracy)
    student/             student.pt (train.checkpoint), student.json, float_pred.npy
    quant/               net.{json,npz} (QuantizedNetwork), quant.json
    ir/                  net.{json,npz}, test_inputs.npy, golden.npz, golden.json
    rtl/                 spikefab_core.{v,json}
    sim/                 results.npz, sim.json; verilator/ (the cached Verilator build)
    bitstreams/<board>/  spikefab.{bin,bit}, report.json, build.log
    report/              report.md, *.png, report.json

    logs/                the output of the gateware commands the steps run
    .lock                who writes the run now (``lock.py``)

A step is *done* when ``state.json`` holds it with the fingerprint the current config gives
it (a hash of the config keys it reads and of the fingerprints of the steps it reads from),
the steps it reads from have not run again since (each record carries a token, and the
tokens of the inputs it read), and the output files it recorded are there with the
SHA-256 they had when it finished. Changing a key, or re-running a step with ``--force``,
therefore re-runs the steps downstream of it, and nothing else; a deleted or altered
output re-runs the step that wrote it.

Reading never writes: ``state``, ``step``, ``load_config`` and :meth:`RunDir.not_done` work
on a read-only run directory. A ``state.json`` or ``config.json`` that is not what it should
be is a one-line ``ValueError`` naming the file and the run directory.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from ..atomic import atomic_write_files, atomic_write_text

__all__ = ["RunDir", "config_differences", "fingerprint", "write_json"]

#: ``(path, size, mtime_ns) -> sha256`` of the files hashed in this process.
_HASHES: dict = {}


def write_json(path, data) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    path = Path(path)
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def fingerprint(cfg: dict, keys, upstream=()) -> str:
    """sha256 (16 hex digits) of the config values at ``keys`` (``"section"`` or
    ``"section.key"``) and the ``upstream`` fingerprints."""
    picked = {}
    for key in keys:
        if key in cfg:
            picked[key] = cfg[key]
        else:
            section, name = key.rsplit(".", 1)
            picked[key] = cfg[section][name]
    doc = json.dumps({"keys": picked, "upstream": list(upstream)}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str | None:
    """SHA-256 of a file (memoised on its size and mtime), None when it is not there."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def _flat(doc, prefix=""):
    if isinstance(doc, dict):
        out = {}
        for k, v in doc.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: doc}


def config_differences(new: dict, old: dict) -> list[str]:
    """``key (new value vs old value)`` for every config key whose value differs."""
    a, b = _flat(new), _flat(old)
    missing = object()
    return [f"{k} ({json.dumps(a.get(k))} vs {json.dumps(b.get(k))})"
            for k in sorted(a.keys() | b.keys()) if a.get(k, missing) != b.get(k, missing)]


def _load_json(path: Path, what: str, root: Path):
    try:
        return json.loads(path.read_text())
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"run directory {root}: {path.name} is not valid JSON ({e}); "
                         f"{what}") from None


class RunDir:
    """One run directory: paths, the effective config and the step state.

    Parameters
    ----------
    root : path
        The run directory itself (``<run.dir>/<run.name>``).
    """

    def __init__(self, root):
        self.root = Path(root)

    @classmethod
    def for_config(cls, cfg: dict) -> RunDir:
        return cls(Path(cfg["run"]["dir"]) / cfg["run"]["name"])

    def path(self, *parts) -> Path:
        return self.root.joinpath(*parts)

    # -- config -------------------------------------------------------------------------
    def save_config(self, cfg: dict, source_text: str | None = None) -> None:
        """Store the effective config (and, when given, the TOML it came from)."""
        files = {} if source_text is None else {self.path("config.toml"): source_text.encode()}
        files[self.path("config.json")] = (json.dumps(cfg, indent=2) + "\n").encode()
        atomic_write_files(files)  # the pair is replaced whole or not at all

    def load_config(self) -> dict:
        """The effective config stored by :meth:`save_config`, validated again."""
        from .config import check_config

        p = self.path("config.json")
        if not p.is_file():
            raise ValueError(f"run directory {self.root}: no config.json (not a run directory)")
        doc = _load_json(p, "give the config file (.toml) instead of the run directory",
                         self.root)
        try:
            return check_config(doc)
        except (ValueError, TypeError) as e:
            raise ValueError(f"run directory {self.root}: config.json: {e}") from None

    def stored_config(self) -> dict | None:
        """The stored effective config, or None when the run has none yet."""
        return self.load_config() if self.path("config.json").is_file() else None

    # -- state --------------------------------------------------------------------------
    def state(self) -> dict:
        p = self.path("state.json")
        if not p.is_file():
            return {"steps": {}}
        fix = "restore it, or delete it to run every step again"
        doc = _load_json(p, fix, self.root)
        if not isinstance(doc, dict) or not isinstance(doc.get("steps"), dict):
            raise ValueError(f"run directory {self.root}: state.json is not a step state; {fix}")
        for name, rec in doc["steps"].items():
            if not (isinstance(rec, dict) and isinstance(rec.get("fingerprint"), str)
                    and isinstance(rec.get("finished"), str)
                    and isinstance(rec.get("seconds"), int | float)
                    and isinstance(rec.get("outputs", {}), dict)):
                raise ValueError(f"run directory {self.root}: state.json: the record of step "
                                 f"{name!r} is malformed; {fix}")
        return doc

    def step(self, name: str) -> dict | None:
        """The stored record of step ``name`` or None."""
        return self.state()["steps"].get(name)

    def not_done(self, name: str, fp: str, upstream=(), outputs=()) -> str | None:
        """Why step ``name`` is not done, or None when it is: recorded with fingerprint
        ``fp``, run on the outputs the ``upstream`` steps hold now (none ran again since), and
        its output files there as recorded (``outputs``: the files to check for a record
        that names none, written before records held them)."""
        steps = self.state()["steps"]
        rec = steps.get(name)
        if rec is None:
            return "not run"
        if rec["fingerprint"] != fp:
            return "out of date (the config changed)"
        inputs = rec.get("inputs", {})
        for u in upstream:
            if u not in steps or inputs.get(u) != steps[u].get("token"):
                return f"out of date (step {u!r} ran again or is not done)"
        recorded = rec.get("outputs") or dict.fromkeys(outputs)
        for rel, digest in recorded.items():
            now = file_sha256(self.path(rel))
            if now is None:
                return f"output {rel} is missing"
            if digest is not None and now != digest:
                return f"output {rel} changed since the step ran"
        return None

    def is_done(self, name: str, fp: str, upstream=(), outputs=()) -> bool:
        """:meth:`not_done` is None."""
        return self.not_done(name, fp, upstream, outputs) is None

    def mark_done(self, name: str, fp: str, seconds: float, summary: dict,
                  upstream=(), outputs=()) -> None:
        """Record step ``name`` as done; ``upstream`` steps' tokens say which outputs it read,
        and the SHA-256 of each of its ``outputs`` (paths in the run directory) is kept."""
        digests = {}
        for rel in outputs:
            digest = file_sha256(self.path(rel))
            if digest is None:
                raise RuntimeError(f"step {name!r} did not write its output {rel}")
            digests[rel] = digest
        state = self.state()
        steps = state["steps"]
        steps[name] = {
            "fingerprint": fp,
            "token": f"{time.time_ns():x}",
            "inputs": {u: steps[u].get("token") for u in upstream if u in steps},
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(seconds, 3),
            "outputs": digests,
            "summary": summary,
        }
        write_json(self.path("state.json"), state)

    def forget(self, name: str) -> None:
        """Drop step ``name`` from the state (it will run again)."""
        state = self.state()
        if state["steps"].pop(name, None) is not None:
            write_json(self.path("state.json"), state)

    def read_json(self, *parts) -> dict | None:
        """A JSON file of the run, or None when it is not there."""
        p = self.path(*parts)
        if not p.is_file():
            return None
        return _load_json(p, f"run the step that writes {'/'.join(parts)} again", self.root)
