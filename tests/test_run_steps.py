"""Small parts of the run package: recipe options, image shapes, progress bars, fingerprints."""

import pytest
from spikefab.run import check_config
from spikefab.run.progress import epoch_bar, spinner
from spikefab.run.rundir import RunDir, fingerprint
from spikefab.run.steps_train import _recipe, chw


def test_recipe_options_reach_the_recipe_and_bad_ones_name_the_key():
    cfg = check_config({"distill": {"method": "hinton",
                                    "options": {"temperature": 2.0, "alpha": 0.25}}},
                       default_name="x")
    recipe = _recipe(cfg, "hinton", None, 10)
    assert recipe.fn.temperature == 2.0 and recipe.alpha == 0.25
    cfg["distill"]["options"] = {"bogus": 1}
    with pytest.raises(ValueError, match=r"^config key 'distill.options' holds an option "
                                         r"method 'hinton' does not take \(.*bogus.*\)$"):
        _recipe(cfg, "hinton", None, 10)


def test_image_shapes_get_a_channel():
    assert chw([8, 8]) == (1, 8, 8)
    assert chw((3, 32, 32)) == (3, 32, 32)
    assert chw(None) is None


def test_progress_bars_draw_when_forced(monkeypatch, capsys):
    monkeypatch.setenv("SPIKEFAB_PROGRESS", "1")
    with epoch_bar(3, "train") as log:
        for e in range(3):
            log(f"epoch {e + 1}/3 loss 0.{e}")
    with spinner("build", interval=0.01):
        pass
    err = capsys.readouterr().err
    assert "train: " in err and "/3 " in err and "build: 00:0" in err
    monkeypatch.setenv("SPIKEFAB_PROGRESS", "0")
    with epoch_bar(2, "quiet") as log:
        log("epoch 1/2")
    assert capsys.readouterr().err == ""


def test_fingerprint_reads_sections_and_keys():
    cfg = check_config({}, default_name="x")
    a = fingerprint(cfg, ["student", "hardware.lanes"], ["up"])
    cfg["hardware"]["lanes"] = 8
    assert fingerprint(cfg, ["student", "hardware.lanes"], ["up"]) != a
    cfg["hardware"]["lanes"] = 4
    assert fingerprint(cfg, ["student", "hardware.lanes"], ["up"]) == a
    assert fingerprint(cfg, ["student", "hardware.lanes"], ["other"]) != a


def test_state_records_and_forgets(tmp_path):
    run = RunDir(tmp_path / "r")
    assert run.state() == {"steps": {}}
    run.mark_done("distill", "abc", 1.23456, {"float_acc": 0.5})
    rec = run.step("distill")
    assert rec["fingerprint"] == "abc" and rec["seconds"] == 1.235
    assert run.is_done("distill", "abc") and not run.is_done("distill", "abd")
    run.forget("distill")
    assert run.step("distill") is None
    run.path("state.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="state.json is not a step state"):
        run.state()


def test_tssd_aux_head_reads_the_width_of_its_own_layer():
    """TSSD's ``layer`` picks hidden[layer]: the auxiliary head is as wide as that layer."""
    from spikefab.snn.mlp import SpikingMLP

    cfg = check_config({"student": {"hidden": [32, 16]},
                        "distill": {"method": "tssd", "options": {"layer": 1}}},
                       default_name="x")
    student = SpikingMLP((64, 32, 16, 10), timesteps=2)
    recipe = _recipe(cfg, "tssd", student, 10)
    assert recipe.module.aux.fc.in_features == 16


def test_bitstream_step_builds_at_the_configured_baud(tmp_path, monkeypatch):
    """``[hardware] baud`` and ``in_pack`` reach ``python -m spikefab_hdl build``, and
    ``in_pack`` reaches ``verilog``; changing either redoes the steps that use it."""
    from spikefab.run import steps_hw

    calls = []
    monkeypatch.setattr(steps_hw, "_hdl", lambda ctx, args, desc, log: calls.append(args) or
                        "built")

    class Ctx:
        cfg = check_config({"hardware": {"baud": 3_000_000, "lanes": 2, "in_pack": 4}},
                           default_name="x")
        run = RunDir(tmp_path / "r")

        def say(self, line):
            pass

    steps_hw.run_bitstream_board(Ctx(), "ulx3s-25f")
    args = calls[0]
    assert args[args.index("--baud") + 1] == "3000000" and args[args.index("--lanes") + 1] == "2"
    assert args[args.index("--in-pack") + 1] == "4"
    assert check_config({}, default_name="x")["hardware"]["baud"] == 115_200
    steps_hw.run_verilog(Ctx())
    assert calls[1][calls[1].index("--in-pack") + 1] == "4"
    from spikefab.run.pipeline import step_fingerprint

    base = check_config({}, default_name="x")
    other = check_config({"hardware": {"in_pack": 4}}, default_name="x")
    for step in ("verilog", "sim", "bitstream:ulx3s-25f"):
        assert step_fingerprint(base, step) != step_fingerprint(other, step), step
    assert step_fingerprint(base, "export") == step_fingerprint(other, "export")
