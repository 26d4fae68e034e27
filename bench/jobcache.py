"""What the long benchmarks share: a cache of finished runs, its flags, result writing and
the gateware version a page names.

A run is a JSON-able ``job`` dict; its result is a dict that repeats the job's fields. Runs
are appended to a JSON-lines file (``build/<bench>/runs.jsonl``) under a key made of a hash
of the code they ran and the job (fields in :data:`LABELS` only name a job in a report, so
two jobs that differ only there share a run). A torn last line (an interrupted write) is
skipped.

The flags (:func:`add_flags`), as :func:`gather` applies them:

* none: run every job whose key is not cached (the code changed, or it never ran);
* ``--report-only``: no run at all; the newest cached run of each job whatever code it ran,
  an error when a job has none, unless ``--partial`` (then it is listed as missing);
* ``--reuse``: the newest cached run of each job whatever code it ran; run the rest.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from spikefab.atomic import atomic_write_files

__all__ = ["LABELS", "RunCache", "add_flags", "code_hash", "gateware_note", "gateware_version",
           "gather", "markdown_table", "write_results"]

_ROOT = Path(__file__).resolve().parent.parent

#: Job fields that label a run in a report but do not change what it computes.
LABELS = ("section", "label")


def code_hash(files) -> str:
    """A short hash of the contents of ``files`` (the code a run depends on)."""
    h = hashlib.sha1()
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:12]


def _what(job: dict) -> str:
    """What a job computes, as canonical JSON: its labels do not count."""
    return json.dumps({k: v for k, v in job.items() if k not in LABELS}, sort_keys=True)


def _labelled(res: dict, job: dict) -> dict:
    return {**res, **{f: job[f] for f in LABELS if f in job}}


class RunCache:
    """The finished runs of one benchmark under ``code`` (see the module docstring)."""

    def __init__(self, path, code: str):
        self.path, self.code = Path(path), code
        self.results = {rec["key"]: rec["result"] for rec in self.records()}

    def records(self) -> list[dict]:
        """Every cached run, oldest first."""
        out = []
        if self.path.is_file():
            for line in self.path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and "key" in rec and "result" in rec:
                    out.append(rec)
        return out

    def key(self, job: dict) -> str:
        return hashlib.sha1((self.code + _what(job)).encode()).hexdigest()

    def run(self, jobs: list[dict], fn, workers: int, log, *, done=None) -> list[dict]:
        """Run the jobs not cached under this code (``fn(job) -> result``, in ``workers``
        spawned processes when there is more than one run to do); return every result.

        ``done(job, result, i, n)`` reports each finished run (default: a line every 10).
        """
        todo = list({self.key(j): j for j in jobs if self.key(j) not in self.results}.values())
        log(f"{len(jobs)} jobs, {len(todo)} distinct runs to do (code {self.code}; the rest "
            "cached or shared)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        done = done or _every_tenth(log)
        with self.path.open("a") as fh:
            if workers > 1 and len(todo) > 1:
                with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                    finished = zip(todo, pool.map(fn, todo), strict=True)
                    self._record(finished, fh, done, len(todo))
            else:
                self._record(((j, fn(j)) for j in todo), fh, done, len(todo))
        return [_labelled(self.results[self.key(j)], j) for j in jobs]

    def _record(self, finished, fh, done, n: int) -> None:
        for i, (job, res) in enumerate(finished, 1):
            key, res = self.key(job), {**res, "code": self.code}
            self.results[key] = res
            fh.write(json.dumps({"key": key, "result": res}) + "\n")
            fh.flush()
            done(job, res, i, n)

    def newest(self, jobs: list[dict]) -> list[dict | None]:
        """The newest cached run of each job whatever code it ran (``None`` where none)."""
        fields = {tuple(sorted(k for k in j if k not in LABELS)) for j in jobs}
        latest = {}
        for rec in self.records():
            res = rec["result"]
            for keys in fields:
                if all(k in res for k in keys):
                    latest[_what({k: res[k] for k in keys})] = res
        return [None if (r := latest.get(_what(j))) is None else _labelled(r, j) for j in jobs]


def _every_tenth(log):
    def done(_job, _res, i, n):
        if i % 10 == 0 or i == n:
            log(f"  {i}/{n} done")
    return done


def add_flags(parser) -> None:
    """``--report-only``, ``--partial`` and ``--reuse`` (see the module docstring)."""
    parser.add_argument("--report-only", action="store_true",
                        help="rebuild the report from the newest cached run of each job")
    parser.add_argument("--partial", action="store_true",
                        help="with --report-only: report the cached jobs, list the missing ones")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the newest cached run of each job whatever code it ran "
                             "(the shared checkout changes under long runs); run the rest")


def gather(cache: RunCache, jobs: list[dict], fn, workers: int, log, args, *, describe,
           done=None, always_run_missing: bool = False) -> tuple[list[dict], list[dict]]:
    """``(results, missing jobs)`` for ``jobs`` under the flags in ``args``.

    ``describe(job)`` names a job in the error for a missing run; ``always_run_missing``
    runs missing jobs even under ``--report-only`` (e.g. cheap teachers a report needs).
    """
    if not (args.report_only or args.reuse):
        return cache.run(jobs, fn, workers, log, done=done), []
    found = cache.newest(jobs)
    missing = [j for j, r in zip(jobs, found, strict=True) if r is None]
    codes = sorted({r.get("code", "unrecorded") for r in found if r is not None})
    log(f"{len(jobs) - len(missing)} jobs cached (code {', '.join(codes) or '-'}), "
        f"{len(missing)} missing")
    run_missing = always_run_missing or (args.reuse and not args.report_only)
    if missing and not run_missing:
        if args.partial:
            return [r for r in found if r is not None], missing
        raise SystemExit(f"no cached run for {len(missing)} jobs, e.g. {describe(missing[0])}; "
                         "run without --report-only")
    new = iter(cache.run(missing, fn, workers, log, done=done) if missing else [])
    return [r if r is not None else next(new) for r in found], []


def write_results(stem, payload: dict, markdown: str, png: bytes | None = None) -> None:
    """``<stem>.json``, ``<stem>.md`` (and ``<stem>.png``), each written atomically."""
    stem = Path(stem)
    files = {stem.with_suffix(".json"): (json.dumps(payload, indent=1, default=str)
                                         + "\n").encode(),
             stem.with_suffix(".md"): (markdown.rstrip("\n") + "\n").encode()}
    if png is not None:
        files[stem.with_suffix(".png")] = png
    atomic_write_files(files)  # one result, replaced whole or not at all


def markdown_table(rows: list[dict], cols) -> list[str]:
    """The lines of a markdown table of ``rows``, one column per ``(key, header)`` of
    ``cols``; floats >= 100 with thousands separators and no decimals, others to 2 places."""

    def fmt(v):
        return f"{v:,.0f}" if isinstance(v, float) and abs(v) >= 100 else (
            f"{v:.2f}" if isinstance(v, float) else str(v))

    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    return lines + ["| " + " | ".join(fmt(r[k]) for k, _ in cols) + " |" for r in rows]


def gateware_version() -> dict:
    """The gateware measured: the last commit that changed hdl/ (``commit``), the checkout's
    ``head`` and any uncommitted gateware edits in the working tree."""
    def git(*a):
        r = subprocess.run(["git", *a], capture_output=True, text=True, cwd=_ROOT)
        return r.stdout.strip() if r.returncode == 0 else None

    dirty = git("status", "--porcelain", "--", "hdl")
    return {"commit": git("log", "-1", "--format=%h", "--", "hdl"),
            "head": git("rev-parse", "--short", "HEAD"),
            "uncommitted_hdl": dirty.splitlines() if dirty else []}


def gateware_note(gw: dict) -> str:
    """``gateware <commit>`` for a page's header, naming uncommitted gateware edits."""
    dirty = gw.get("uncommitted_hdl") or []
    return f"gateware {gw.get('commit')}" + (f" + {len(dirty)} uncommitted hdl/ edits"
                                            if dirty else "")
