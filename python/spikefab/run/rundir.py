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

A step is *done* when ``state.json`` holds it with the fingerprint the current config gives
it (a hash of the config keys it reads and of the fingerprints of the steps it reads from)
and the steps it reads from have not run again since (each record carries a token, and the
tokens of the inputs it read). Changing a key, or re-running a step with ``--force``,
therefore re-runs the steps downstream of it, and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from ..atomic import atomic_write_text

__all__ = ["RunDir", "fingerprint", "write_json"]


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
        if source_text is not None:
            atomic_write_text(self.path("config.toml"), source_text)
        write_json(self.path("config.json"), cfg)

    def load_config(self) -> dict:
        """The effective config stored by :meth:`save_config`, validated again."""
        from .config import check_config

        p = self.path("config.json")
        if not p.is_file():
            raise ValueError(f"run directory {self.root}: no config.json (not a run directory)")
        try:
            return check_config(json.loads(p.read_text()))
        except (ValueError, TypeError) as e:
            raise ValueError(f"run directory {self.root}: {e}") from None

    # -- state --------------------------------------------------------------------------
    def state(self) -> dict:
        p = self.path("state.json")
        if not p.is_file():
            return {"steps": {}}
        doc = json.loads(p.read_text())
        if not isinstance(doc, dict) or not isinstance(doc.get("steps"), dict):
            raise ValueError(f"run directory {self.root}: state.json is not a step state")
        return doc

    def step(self, name: str) -> dict | None:
        """The stored record of step ``name`` or None."""
        return self.state()["steps"].get(name)

    def is_done(self, name: str, fp: str, upstream=()) -> bool:
        """Step ``name`` is recorded with fingerprint ``fp`` and was run on the outputs the
        ``upstream`` steps hold now (none of them ran again since)."""
        steps = self.state()["steps"]
        rec = steps.get(name)
        if rec is None or rec.get("fingerprint") != fp:
            return False
        inputs = rec.get("inputs", {})
        return all(u in steps and inputs.get(u) == steps[u].get("token") for u in upstream)

    def mark_done(self, name: str, fp: str, seconds: float, summary: dict,
                  upstream=()) -> None:
        """Record step ``name`` as done; ``upstream`` steps' tokens say which outputs it read."""
        state = self.state()
        steps = state["steps"]
        steps[name] = {
            "fingerprint": fp,
            "token": f"{time.time_ns():x}",
            "inputs": {u: steps[u].get("token") for u in upstream if u in steps},
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(seconds, 3),
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
        return json.loads(p.read_text()) if p.is_file() else None
