"""Config validation: unknown keys, wrong types, impossible combinations -> one-line errors."""

from pathlib import Path

import pytest
from spikefab.run import BOARDS, DISTILL_METHODS, check_config, load_config
from spikefab.run.config import MAX_IN_PACK, MAX_LANES, SCHEMA, student_train_config


def test_defaults_fill_every_key():
    cfg = check_config({}, default_name="x")
    assert set(cfg) == set(SCHEMA)
    assert cfg["run"] == {"name": "x", "seed": 0, "dir": "build/runs"}
    assert cfg["student"]["timesteps"] == 4
    assert cfg["quantize"]["v_bits"] == "auto"
    assert cfg["distill.stars"]["rounds"] == 4


@pytest.mark.parametrize("doc, message", [
    ({"foo": {}}, "config has no section [foo]; allowed: run, data, teacher, student, "
                  "distill, quantize, hardware, report"),
    ({"student": {"bar": 1}}, "config has no key 'student.bar'; allowed in [student]: kind, "
                              "hidden, channels, timesteps, leak_shift, theta, reset, encoding, "
                              "in_bits, epochs, batch_size, lr, weight_decay, augment_shift, "
                              "beta, threshold, alpha, readout"),
    ({"distill": {"stars": {"round": 3}}}, "config has no key 'distill.stars.round'; allowed "
                                           "in [distill.stars]: rounds, batch_size, "
                                           "steps_per_round, iterations, distill_batch, lr, "
                                           "synth_lr, jitter, r_feature, first_bn_multiplier, "
                                           "bn_relative, scales, adi, rca_weight, "
                                           "tar_weight, augment_shift, final_epochs, "
                                           "final_average, augment_mix, mix_mode, mix_alpha"),
    ({"distill": {"stars": {"bn_relative": 1}}},
     "config key 'distill.stars.bn_relative' must be true or false, not 1"),
    ({"distill": {"stars": {"iterations": 0}}},
     "config key 'distill.stars.iterations' must be an integer in [1, 20000], not 0"),
    ({"distill": {"stars": {"scales": 2}}},
     "config key 'distill.stars.scales' must be a list of >= 1 items, not 2"),
    ({"distill": {"stars": {"scales": [0]}}},
     "config key 'distill.stars.scales[0]' must be an integer in [1, 64], not 0"),
    ({"data": {"dataset": "mnist5k"}, "distill": {"method": "stars", "stars": {"scales": [3]}}},
     "config key 'distill.stars.scales' must be distinct integers dividing the image size "
     "28x28 of mnist5k, not [3]"),
    ({"data": {"dataset": "digits"}, "distill": {"method": "stars", "stars": {"scales": [2, 2]}}},
     "config key 'distill.stars.scales' must be distinct integers dividing the image size "
     "8x8 of digits, not [2, 2]"),
    ({"distill": {"method": "stars", "stars": {"final_epochs": 10, "final_average": 11}}},
     "config key 'distill.stars.final_average' must be <= distill.stars.final_epochs (10), "
     "not 11"),
    ({"distill": {"stars": {"final_average": -1}}},
     "config key 'distill.stars.final_average' must be an integer in [0, 100000], not -1"),
    ({"distill": {"stars": {"augment_mix": 1.5}}},
     "config key 'distill.stars.augment_mix' must be a number in [0, 1], not 1.5"),
    ({"distill": {"stars": {"mix_mode": "blend"}}},
     "config key 'distill.stars.mix_mode' must be one of 'mixup', 'cutmix', not 'blend'"),
    ({"distill": {"stars": {"mix_alpha": 0.0}}},
     "config key 'distill.stars.mix_alpha' must be a number in (0, 10000.0], not 0.0"),
    ({"distill": {"stars": {"batch_size": 5000}}},
     "config key 'distill.stars.batch_size' must be an integer in [1, 4096], not 5000"),
    ({"student": {"timesteps": "four"}},
     "config key 'student.timesteps' must be an integer in [1, 1024], not 'four'"),
    ({"student": {"timesteps": True}},
     "config key 'student.timesteps' must be an integer in [1, 1024], not True"),
    ({"student": {"lr": 0}}, "config key 'student.lr' must be a number in (0, 10], not 0"),
    ({"student": {"hidden": 128}},
     "config key 'student.hidden' must be a list of >= 1 items, not 128"),
    ({"student": {"hidden": [128, 0]}},
     "config key 'student.hidden[1]' must be an integer in [1, 1048576], not 0"),
    ({"student": {"leak_shift": 40}},
     "config key 'student.leak_shift' must be an integer in [0, 31] or 'none', not 40"),
    ({"student": {"reset": "hard"}},
     "config key 'student.reset' must be one of 'subtract', 'zero', 'subtract-delayed', "
     "not 'hard'"),
    ({"teacher": {"batch_norm": "yes"}},
     "config key 'teacher.batch_norm' must be true or false, not 'yes'"),
    ({"data": {"dataset": "cifar10"}},
     "config key 'data.dataset' must be one of 'digits', 'mnist5k', not 'cifar10'"),
    ({"run": {"name": "../up"}}, "config key 'run.name' must be letters, digits, '.', '_' "
                                 "or '-' (not starting with '.', '_' or '-'), not '../up'"),
    ({"student": 3}, "config key 'student' must be a table [student], not 3"),
    ({"distill": {"stars": 3}}, "config key 'distill.stars' must be a table [distill.stars], "
                                "not 3"),
    ({"distill": {"method": "kd"}},
     "config key 'distill.method' must be one of " + ", ".join(repr(m) for m in DISTILL_METHODS)
     + ", not 'kd'"),
    ({"hardware": {"lanes": 129}}, "config key 'hardware.lanes' must be an integer in [1, 128], "
                                   "'auto' or a list of one L or 'LxK' per layer (L in [1, "
                                   "128], K in [1, 128]), not 129"),
    ({"hardware": {"lanes": [64, "16y64"]}}, "config key 'hardware.lanes[1]' must be an "
                                             "integer in [1, 128] or 'LxK' (L, K in [1, 128]), "
                                             "not '16y64'"),
    ({"hardware": {"lanes": [64, "16x0"]}}, "config key 'hardware.lanes[1]' must be an "
                                            "integer in [1, 128] or 'LxK' (L, K in [1, 128]), "
                                            "not '16x0'"),
    ({"hardware": {"lanes": []}}, "config key 'hardware.lanes' must be an integer in [1, 128], "
                                  "'auto' or a list of one L or 'LxK' per layer (L in [1, "
                                  "128], K in [1, 128]), not []"),
    ({"hardware": {"baud": 4_000_000}}, "config key 'hardware.baud' must be an integer in "
                                        "[9600, 3000000], not 4000000"),
    ({"hardware": {"in_pack": 0}}, "config key 'hardware.in_pack' must be an integer in "
                                   "[1, 64], not 0"),
    ({"hardware": {"in_pack": 65}}, "config key 'hardware.in_pack' must be an integer in "
                                    "[1, 64], not 65"),
    ({"hardware": {"in_pack": "4"}}, "config key 'hardware.in_pack' must be an integer in "
                                     "[1, 64], not '4'"),
    ({"hardware": {"in_pack": 4}, "student": {"encoding": "spikes", "in_bits": 1}},
     "config key 'hardware.in_pack' must be 1 when student.encoding is 'spikes' (a spike beat "
     "carries one address), not 4"),
    ({"hardware": {"in_pack": 3}, "student": {"kind": "cnn"}, "data": {"dataset": "mnist5k"}},
     "config key 'hardware.in_pack' must divide the image width 28 when student.kind is "
     "'cnn' (a beat holds values of one image row), not 3"),
    ({"hardware": {"boards": ["de10"]}},
     "config key 'hardware.boards[0]' must be one of 'icebreaker', 'orangecrab-25f', "
     "'ulx3s-25f', 'ulx3s-45f', 'ulx3s-85f', not 'de10'"),
    ({"quantize": {"w_bits": 1}}, "config key 'quantize.w_bits' must be an integer in [2, 16], "
                                  "not 1"),
])
def test_bad_keys_and_types(doc, message):
    with pytest.raises(ValueError) as e:
        check_config(doc, default_name="x")
    assert str(e.value) == message


@pytest.mark.parametrize("doc, message", [
    ({"teacher": {"kind": "none"}, "distill": {"method": "hinton"}},
     "config key 'teacher.kind' must not be 'none' when distill.method is 'hinton' "
     "(it distils from a teacher)"),
    ({"teacher": {"batch_norm": False}, "distill": {"method": "stars"}},
     "config key 'teacher.batch_norm' must be true when distill.method is 'stars' "
     "(synthesis matches the teacher's BatchNorm statistics)"),
    ({"distill": {"method": "stars", "stars": {"rounds": 1000, "batch_size": 128}}},
     "config key 'distill.stars.rounds' times distill.stars.batch_size (the synthetic pool) "
     "must be <= 100000, not 1000 x 128"),
    ({"student": {"encoding": "spikes", "in_bits": 1}, "distill": {"method": "tser"}},
     "config key 'distill.method' must be 'none' when student.encoding is 'spikes' "
     "(the distillation trainer takes static inputs), not 'tser'"),
    ({"student": {"encoding": "spikes"}},
     "config key 'student.in_bits' must be 1 when student.encoding is 'spikes', not 4"),
    ({"distill": {"options": {"alpha": 0.3}}},
     "config key 'distill.options' must be empty when distill.method is 'none', "
     "not {'alpha': 0.3}"),
    ({"quantize": {"method": "qat"}},
     "config key 'quantize.v_bits' must be an integer when quantize.method is 'qat', "
     "not 'auto'"),
    ({"quantize": {"method": "qat", "v_bits": 16, "epochs": 0}},
     "config key 'quantize.epochs' must be >= 1 when quantize.method is 'qat', not 0"),
])
def test_impossible_combinations(doc, message):
    with pytest.raises(ValueError) as e:
        check_config(doc, default_name="x")
    assert str(e.value) == message


def test_load_config_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"^config .*nope.toml: file not found$"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[student\nhidden = 3\n")
    with pytest.raises(ValueError, match=r"^config .*bad.toml: invalid TOML: "):
        load_config(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text("[student]\nepoch = 3\n")
    with pytest.raises(ValueError) as e:
        load_config(typo)
    assert str(e.value).startswith(f"config {typo}: config has no key 'student.epoch'")
    assert "\n" not in str(e.value)


def test_name_defaults_to_the_file_stem(tmp_path):
    p = tmp_path / "my-run.toml"
    p.write_text("[student]\nepochs = 3\n")
    cfg = load_config(p)
    assert cfg["run"]["name"] == "my-run"
    assert cfg["student"]["epochs"] == 3


def test_student_train_config_maps_every_field():
    cfg = check_config({"run": {"seed": 7}, "student": {"leak_shift": "none", "hidden": [32, 16],
                                                        "epochs": 3}}, default_name="x")
    tc = student_train_config(cfg)
    assert tc.leak_shift is None and tc.hidden == (32, 16) and tc.epochs == 3 and tc.seed == 7


@pytest.mark.parametrize("name", ["digits", "mnist5k", "stars", "mnist5k_stars"])
def test_example_configs_are_valid(name):
    cfg = load_config(Path(__file__).parent.parent / "configs" / f"{name}.toml")
    assert cfg["run"]["name"] == name
    assert cfg["hardware"]["boards"]


def test_board_names_and_lanes_match_the_gateware():
    from spikefab_hdl.board.definitions import BOARDS as HDL_BOARDS
    from spikefab_hdl.core.input_pack import MAX_IN_PACK as HDL_MAX_IN_PACK
    from spikefab_hdl.core.plan import MAX_LANES as HDL_MAX_LANES

    assert BOARDS == tuple(sorted(HDL_BOARDS))
    assert MAX_LANES == HDL_MAX_LANES
    assert MAX_IN_PACK == HDL_MAX_IN_PACK


def test_docs_cli_md_documents_every_key():
    doc = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()
    for section, keys in SCHEMA.items():
        assert f"`[{section}]`" in doc, section
        for key in keys:
            assert f"`{key}`" in doc, f"{section}.{key}"
    for method in DISTILL_METHODS:
        assert f'`"{method}"`' in doc, method


def test_lanes_per_layer_and_auto_are_accepted():
    for lanes, want in ((8, 8), ("auto", "auto"), ([64, "16x64"], [64, "16x64"]),
                        ([4, 2, "1x2"], [4, 2, "1x2"])):
        assert check_config({"hardware": {"lanes": lanes}}, default_name="x")[
            "hardware"]["lanes"] == want
    from spikefab.run.config import lanes_arg
    assert (lanes_arg([64, "16x64"]), lanes_arg("auto"), lanes_arg(4)) == ("64,16x64", "auto",
                                                                          "4")
