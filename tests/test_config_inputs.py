"""Config inputs refused at `spikefab check` time: distill.options against the recipe's own
signature and checks, binary files; a UTF-8 BOM is accepted."""

import subprocess
import sys

import pytest
from spikefab.distill.options import option_kinds
from spikefab.distill.recipes import RECIPES
from spikefab.run import check_config, load_config


def _msg(doc) -> str:
    with pytest.raises(ValueError) as e:
        check_config(doc, default_name="x")
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.mark.parametrize("method, options, message", [
    ("hinton", {"tau": 2.0},
     "config key 'distill.options.tau' is not an option of method 'hinton'; allowed: "
     "temperature, alpha"),
    ("hinton", {"temperature": 0}, "config key 'distill.options.temperature' must be a "
                                   "positive number, not 0"),
    ("hinton", {"alpha": 1.5}, "config key 'distill.options.alpha' must be a number in "
                               "[0, 1], not 1.5"),
    ("hinton", {"alpha": "half"}, "config key 'distill.options.alpha' must be a number, "
                                  "not 'half'"),
    ("hinton", {"alpha": True}, "config key 'distill.options.alpha' must be a number, not True"),
    ("tser", {"task": "all"}, "config key 'distill.options.task' must be one of 'per_step', "
                              "'mean', not 'all'"),
    ("seal", {"beta": -0.1}, "config key 'distill.options.beta' must be a number >= 0, "
                             "not -0.1"),
    ("nld", {"weight": -1}, "config key 'distill.options.weight' must be a number >= 0, not -1"),
    ("nld", {"generator": 3},
     "config key 'distill.options.generator' is not an option of method 'nld'; allowed: "
     "weight, mode, temperature, noise_scale, mix_weight"),
    ("tet", {"mse_weight": {"a": 1}}, "config key 'distill.options.mse_weight' must be a "
                                      "number, not {'a': 1}"),
    ("ce", {"alpha": 0.5}, "config key 'distill.options.alpha' is not an option of method "
                           "'ce'; allowed: none"),
    ("tssd", {"T_teacher": 2}, "config key 'distill.options.T_teacher' must be >= T_student "
                               "(4), not 2"),
    ("tssd", {"T_teacher": 8.0}, "config key 'distill.options.T_teacher' must be an integer, "
                                 "not 8.0"),
    ("tssd", {"layer": 1}, "config key 'distill.options.layer' must be an integer in [0, 0] "
                           "(a student.hidden layer), not 1"),
    ("tssd", {"task_heads": "weak"}, "config key 'distill.options.task_heads' must be a list "
                                     "of strings, not 'weak'"),
    ("tssd", {"divergence": "js"}, "config key 'distill.options.divergence' must be one of "
                                   "'kl', 'mse', not 'js'"),
])
def test_distill_options_checked_before_training(method, options, message):
    teacher = {} if method in ("ce", "tet", "tssd") else {"kind": "mlp"}
    doc = {"distill": {"method": method, "options": options}, "teacher": teacher}
    assert _msg(doc) == message


def test_good_options_pass_and_every_method_has_a_schema():
    cfg = check_config({"distill": {"method": "tssd", "options": {
        "T_teacher": 8, "temperature": 2, "task_heads": ["student", "weak"]}}},
        default_name="x")
    assert cfg["distill"]["options"]["T_teacher"] == 8
    assert option_kinds("hinton") == {"temperature": "number", "alpha": "number"}
    assert "generator" not in option_kinds("ckdsnn") and "student" not in option_kinds("tssd")
    for method in RECIPES:
        option_kinds(method)


def test_spikefab_check_refuses_bad_options(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[distill]\nmethod = "hinton"\noptions = { tau = 3.0 }\n')
    r = subprocess.run([sys.executable, "-m", "spikefab", "check", str(p)],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        f"error: config {p}: config key 'distill.options.tau' is not an option of method "
        "'hinton'; allowed: temperature, alpha"]


def test_a_utf8_bom_is_accepted(tmp_path):
    p = tmp_path / "bom.toml"
    p.write_bytes(b"\xef\xbb\xbf[student]\nepochs = 3\n")
    assert load_config(p)["student"]["epochs"] == 3


@pytest.mark.parametrize("data, where", [
    (b"[student]\nepochs = 3\n\x89PNG\r\n\x1a\n", "line 3: byte 0x89 is not UTF-8 text "
                                                  "(a binary file?)"),
    (b"\xff\xfe[\x00s\x00", "line 1: byte 0xff is not UTF-8 text (a binary file?)"),
    (b"[student]\nepochs = 3\x00\n", "line 2: a NUL byte is not text (a binary file?)"),
])
def test_binary_configs_get_one_line_naming_the_file(tmp_path, data, where):
    p = tmp_path / "bin.toml"
    p.write_bytes(data)
    with pytest.raises(ValueError) as e:
        load_config(p)
    assert str(e.value) == f"config {p}: {where}"
