"""``write_report`` on a real tiny run: sections, figures, and numbers that agree with the
run's own files (the sweeps at the run's own T and w_bits reproduce golden exactly)."""

import json

import pytest
from runlib import tiny_config
from spikefab.cli import main
from spikefab.report import write_report
from spikefab.run import RunDir

PNG = b"\x89PNG\r\n\x1a\n"

#: A bitstream report.json as hdl/spikefab_hdl/build/bitstream.py writes it (hand-made, for layout).
BOARD_REPORT = {
    "board": "icebreaker", "family": "ice40", "device": "iCE40UP5K-SG48",
    "clock": {"board_mhz": 12.0, "fmax_mhz": 21.71, "met": True},
    "resources": {"lut": {"used": 3315, "available": 5280, "percent": 62.8},
                  "ff": {"used": 1175, "available": 5280, "percent": 22.3},
                  "bram": {"used": 30, "available": 30, "percent": 100.0},
                  "dsp": {"used": 0, "available": 8, "percent": 0.0}},
}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    path = tiny_config(root)
    assert main(["run", str(path), "--until", "export"]) == 0
    run = RunDir(root / "runs" / "tiny")
    md = write_report(run, run.load_config())
    return run, md


def test_sections_and_figures(report):
    run, md = report
    text = md.read_text()
    for heading in ("# spikefab run `tiny`", "## Accuracy", "## Accuracy against T and bits",
                    "## Spikes", "## Synaptic operations and energy per inference",
                    "## Hardware", "## Not run yet"):
        assert heading in text
    assert "teacher (mlp ANN)" in text and "float student" in text and "golden" in text
    assert "`verilog`, `sim`" in text
    assert "Horowitz" in text and "ISSCC 2014" in text
    assert "No bitstream report in this run yet" in text
    for name in ("accuracy", "sweeps", "firing", "raster", "ops"):
        png = run.path("report", f"{name}.png")
        assert png.read_bytes()[:8] == PNG, name
        assert f"({name}.png)" in text
    assert not run.path("report", "resources.png").exists()


def test_numbers_agree_with_the_run(report):
    run, _ = report
    data = json.loads(run.path("report", "report.json").read_text())
    golden = json.loads(run.path("ir", "golden.json").read_text())
    student = json.loads(run.path("student", "student.json").read_text())
    trained_t = run.load_config()["student"]["timesteps"]
    (row,) = [r for r in data["sweep_T"] if r["T"] == trained_t]
    assert row["golden_acc"] == golden["golden_acc"]
    assert row["float_acc"] == student["float_acc"]
    (row,) = [r for r in data["sweep_bits"] if r["w_bits"] == 8]  # the run's own PTQ export
    assert row["golden_acc"] == golden["golden_acc"]
    assert len(data["firing"]) == 1 and len(data["firing"][0]) == 8
    assert all(0 <= r <= 1 for r in data["firing"][0])
    assert data["ops"]["layers"][0]["kind"] == "mac"
    assert data["raster"]["prediction"] in range(10)


def test_board_reports_become_a_resource_table(report):
    run, _ = report
    p = run.path("bitstreams", "icebreaker", "report.json")
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(BOARD_REPORT))
    try:
        text = write_report(run, run.load_config()).read_text()
        assert "| icebreaker | iCE40UP5K-SG48 | 30/30 | 0/8 | 1175/5280 | 3315/5280 | 21.71 " \
               "| 12.0 | yes |" in text
        assert run.path("report", "resources.png").read_bytes()[:8] == PNG
    finally:
        p.unlink()
