"""The ``spikefab`` command: exit codes, one-line errors, overrides, run-directory targets."""

import json
import subprocess
import sys
from importlib.metadata import entry_points

import pytest
from runlib import tiny_config
from spikefab.cli import main
from spikefab.run import DISTILL_METHODS, RunDir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny config run up to ``export`` through the CLI."""
    root = tmp_path_factory.mktemp("cli")
    path = tiny_config(root, method="none")
    assert main(["run", str(path), "--until", "export"]) == 0
    return path, RunDir(root / "runs" / "tiny")


def _err_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


def test_the_script_is_installed():
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "spikefab"]
    assert ep.value == "spikefab.cli:main"
    proc = subprocess.run([sys.executable, "-m", "spikefab", "--help"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0
    for cmd in ("train-teacher", "distill", "quantize", "export", "verilog", "sim",
                "bitstream", "report", "run", "status", "check"):
        assert cmd in proc.stdout


def test_cli_run_and_report_do_not_import_amaranth():
    program = ('import sys; sys.modules["amaranth"] = None; '
               "import spikefab.cli, spikefab.run, spikefab.report, "
               "spikefab.run.steps_hw; print('ok')")
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"


def test_run_writes_the_run_directory_and_status_lists_steps(tiny, capsys):
    path, run = tiny
    assert [*run.state()["steps"]] == ["train-teacher", "distill", "quantize", "export"]
    capsys.readouterr()
    assert main(["status", str(run.root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in out] == ["train-teacher", "distill", "quantize", "export",
                                              "verilog", "sim"]
    assert all(" done " in ln for ln in out[:4])
    assert all(ln.endswith("not run") for ln in out[4:])


def test_check_prints_the_config_with_defaults(tiny, capsys):
    path, _ = tiny
    assert main(["check", str(path)]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["student"]["hidden"] == [8] and cfg["quantize"]["method"] == "ptq"


def test_bad_config_is_one_line_exit_2(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text("[student]\ntimesteps = 0\n")
    assert main(["run", str(p)]) == 2
    assert _err_line(capsys) == (f"error: config {p}: config key 'student.timesteps' must be "
                                 f"an integer in [1, 1024], not 0")


def test_method_override_is_validated_and_stored(tiny, capsys):
    path, run = tiny
    assert main(["distill", str(path), "--method", "kd9"]) == 2
    allowed = ", ".join(repr(m) for m in DISTILL_METHODS)
    assert _err_line(capsys) == (f"error: config key 'distill.method' must be one of "
                                 f"{allowed}, not 'kd9'")
    # a method that needs a conv student names the student's kind
    assert main(["distill", str(path), "--method", "ckdsnn"]) == 2
    assert _err_line(capsys) == ("error: config key 'student.kind' must be 'cnn' when "
                                 "distill.method is 'ckdsnn' (SAMD matches a conv student's "
                                 "feature maps), not 'mlp'")
    assert main(["distill", str(run.root), "--method", "tet"]) == 0
    assert run.load_config()["distill"]["method"] == "tet"
    assert json.loads(run.path("student", "student.json").read_text())["method"] == "tet"
    # later steps given the run directory use the stored (overridden) config
    assert main(["quantize", str(run.root)]) == 0
    assert main(["export", str(run.root)]) == 0
    capsys.readouterr()
    assert main(["export", str(run.root)]) == 0
    assert "already done with this config" in capsys.readouterr().out
    # the config file itself still says "none": distill is out of date for it
    assert main(["quantize", str(path)]) == 2
    assert "needs step 'distill', which is out of date" in _err_line(capsys)
    assert main(["distill", str(path)]) == 0


def test_a_step_before_its_inputs_is_refused(tmp_path, capsys):
    p = tiny_config(tmp_path, "fresh")
    assert main(["sim", str(p)]) == 2
    assert _err_line(capsys).startswith("error: step 'sim' needs step 'export', which is not "
                                        "done in ")


def test_bitstream_needs_a_known_board(tiny, capsys):
    path, _ = tiny
    assert main(["bitstream", str(path)]) == 2
    assert _err_line(capsys) == ("error: bitstream needs a board: --board <board> or "
                                 "hardware.boards")
    assert main(["bitstream", str(path), "--board", "de10"]) == 2
    assert _err_line(capsys) == ("error: board must be one of icebreaker, orangecrab-25f, "
                                 "ulx3s-25f, ulx3s-45f, ulx3s-85f, not 'de10'")


def test_a_directory_without_a_run_is_refused(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert _err_line(capsys) == f"error: run directory {tmp_path}: no config.json " \
                                f"(not a run directory)"


def test_runs_option_moves_the_run(tmp_path, capsys):
    p = tiny_config(tmp_path, "moved")
    other = tmp_path / "elsewhere"
    assert main(["--runs", str(other), "status", str(p)]) == 0
    assert f"note: no run at {other / 'moved'} yet" in capsys.readouterr().out
    assert not other.exists()  # status writes nothing
    assert main(["--runs", str(other), "train-teacher", str(p)]) == 0
    assert (other / "moved" / "config.json").is_file()
