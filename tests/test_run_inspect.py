"""Reading a run never writes it; what is wrong with a run is named, not passed on.

``status`` given a config file that differs from the run's says so and writes nothing; a
read-only run directory can be inspected; a corrupt ``state.json`` or ``config.json`` is one
line naming the file and the run; a step recorded done whose output is gone or altered is
run again (``run``) or named (a later step that needs it)."""

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from runlib import tiny_config
from spikefab.cli import main

STEPS = ["train-teacher", "distill", "quantize", "export", "verilog", "sim"]


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """A tiny config run up to ``export``."""
    root = tmp_path_factory.mktemp("inspect")
    path = tiny_config(root, method="none")
    assert main(["run", str(path), "--until", "export"]) == 0
    return path, root / "runs" / "tiny"


@pytest.fixture
def run(done, tmp_path):
    """A copy of the done run (its own directory, free to spoil)."""
    return Path(shutil.copytree(done[1], tmp_path / "tiny"))


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def _lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_status_of_a_differing_config_reports_it_and_writes_nothing(done, tmp_path, capsys):
    path, root = done
    before = _snapshot(root)
    other = tmp_path / "tiny.toml"  # the same run directory, another width
    other.write_text(path.read_text().replace("w_bits = 8", "w_bits = 4"))
    assert main(["status", str(other)]) == 0
    out = _lines(capsys)
    assert [ln.split()[0] for ln in out[:6]] == STEPS
    assert out[2] == f"{'quantize':24s} out of date (the config or an earlier step changed)"
    assert out[-1] == (f"note: {other} differs from {root / 'config.json'} in quantize.w_bits "
                       f"(4 vs 8); the steps above are for {other} (status writes nothing)")
    assert _snapshot(root) == before
    assert main(["status", str(root)]) == 0  # the run itself is as it was: done
    assert all(" done " in ln for ln in _lines(capsys)[:4])
    assert main(["status", str(path)]) == 0
    assert _snapshot(root) == before


#: Runs ``spikefab`` with its run directory read-only: the permissions say so (which root
#: ignores), and an audit hook refuses every write Python makes under it, as a read-only
#: mount would.
READ_ONLY = """
import errno, os, sys
ROOT = os.path.realpath(sys.argv[1])
WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

def inside(path):
    return isinstance(path, (str, bytes, os.PathLike)) and os.path.realpath(
        os.fsdecode(path)).startswith(ROOT)

def guard(event, args):
    if event == "open":
        path, mode, flags = args
        write = any(c in mode for c in "wax+") if isinstance(mode, str) else flags & WRITES
        hit = [path] if write else []
    elif event in ("os.rename", "os.replace", "os.link", "os.symlink"):
        hit = args[:2]
    elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.chmod", "os.truncate", "os.utime"):
        hit = args[:1]
    else:
        return
    for path in hit:
        if inside(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

sys.addaudithook(guard)
try:
    open(os.path.join(ROOT, "probe"), "w")
    sys.exit(99)
except PermissionError:
    pass
from spikefab.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_a_read_only_run_can_be_inspected(run):
    for p in [*run.rglob("*"), run]:
        p.chmod(0o555 if p.is_dir() else 0o444)

    def cli(*args):
        return subprocess.run([sys.executable, "-c", READ_ONLY, str(run), *args],
                              capture_output=True, text=True)

    try:
        r = cli("status", str(run))
        assert (r.returncode, r.stderr) == (0, "")
        assert [ln.split()[1] for ln in r.stdout.splitlines()[:4]] == ["done"] * 4
        r = cli("export", str(run), "--force")
        assert r.returncode == 2
        assert r.stderr == (f"error: run directory {run} cannot be written (Permission "
                            f"denied); `spikefab status` reads a run without writing\n")
    finally:
        for p in [run, *run.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


@pytest.mark.parametrize("name, text, says", [
    ("state.json", "{\"steps\": {\"distill\": ", "state.json is not valid JSON (Expecting "
     "value: line 1 column 23 (char 22)); restore it, or delete it to run every step again"),
    ("state.json", "[]", "state.json is not a step state; restore it, or delete it to run "
     "every step again"),
    ("state.json", "{\"steps\": {\"distill\": {\"fingerprint\": 3}}}", "state.json: the record "
     "of step 'distill' is malformed; restore it, or delete it to run every step again"),
    ("config.json", "\x89PNG", "config.json is not valid JSON (Expecting value: line 1 column 1 "
     "(char 0)); give the config file (.toml) instead of the run directory"),
])
def test_a_corrupt_run_file_is_named(run, capsys, name, text, says):
    (run / name).write_text(text)
    for argv in (["status", str(run)], ["run", str(run)], ["sim", str(run)]):
        assert main(argv) == 2
        assert capsys.readouterr().err == f"error: run directory {run}: {says}\n"


def test_a_deleted_output_is_named_and_its_step_runs_again(run, capsys):
    (run / "ir" / "golden.npz").unlink()
    assert main(["status", str(run)]) == 0
    assert _lines(capsys)[3] == (f"{'export':24s} not done: output ir/golden.npz is missing "
                                 f"(it runs again)")
    assert main(["sim", str(run)]) == 2
    assert capsys.readouterr().err == (
        f"error: step 'sim' needs step 'export', which is not done (output ir/golden.npz is "
        f"missing) in {run}: run `spikefab export ...` or `spikefab run ...`\n")
    assert main(["run", str(run), "--until", "export"]) == 0
    out = _lines(capsys)
    assert out[3:5] == ["[4/4] export: export the IR and run the golden model ...",
                        "      output ir/golden.npz is missing: running the step again"]
    assert (run / "ir" / "golden.npz").is_file()
    assert main(["status", str(run)]) == 0
    assert all(" done " in ln for ln in _lines(capsys)[:4])


def test_an_altered_output_runs_its_step_again(run, capsys):
    net = run / "quant" / "net.npz"
    net.write_bytes(net.read_bytes()[:100])  # a truncated copy, say
    assert main(["run", str(run), "--until", "export"]) == 0
    out = _lines(capsys)
    assert out[2:4] == ["[3/4] quantize: quantize (integer widths) ...",
                        "      output quant/net.npz changed since the step ran: running the "
                        "step again"]
    assert any(ln.startswith("[4/4] export: export") for ln in out)  # it read the new one
