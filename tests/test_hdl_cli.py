"""``python -m spikefab_hdl verilog``: writes the Verilog and its JSON description."""

import json
import subprocess
import sys

from spikefab.spec import LIFSpec
from spikefab_hdl.build.cli import main
from spikefab_hdl.sim.randnet import make_spec, random_network


def _ir(tmp_path, encoding="direct"):
    spec = make_spec((5, 6, 3), encoding=encoding, in_bits=4, neurons=[LIFSpec(9, 20, 2)])
    net = random_network(spec, seed=1)
    net.save(tmp_path / "net")
    return net


def test_verilog_command_writes_verilog_and_json(tmp_path):
    net = _ir(tmp_path)
    out = tmp_path / "rtl"
    proc = subprocess.run(
        [sys.executable, "-m", "spikefab_hdl", "verilog", "--ir", str(tmp_path / "net.json"),
         "-o", str(out), "--lanes", "2"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"wrote {out / 'spikefab_core.v'}",
                                        f"wrote {out / 'spikefab_core.json'}"]
    verilog = (out / "spikefab_core.v").read_text()
    assert "module spikefab_core(" in verilog
    desc = json.loads((out / "spikefab_core.json").read_text())
    assert desc["format"] == "spikefab-core" and desc["module"] == "spikefab_core"
    assert desc["trace"] is False
    plan = desc["plan"]
    assert (plan["lanes"], plan["encoding"], plan["n_in"], plan["n_classes"]) == (2, "direct", 5, 3)
    assert [lp["cur_bits"] for lp in plan["layers"]] == [net.current_bits(0), net.current_bits(1)]
    assert plan["acc_bits"] == net.acc_bits()
    assert [lp["groups"] for lp in plan["layers"]] == [3, 2]
    ports = desc["ports"]
    for name in ("clk", "rst", "i_stream__payload", "i_stream__valid", "i_stream__ready",
                 "o_stream__payload", "o_stream__valid", "o_stream__ready"):
        assert name in ports
        assert f" {name};" in verilog or f"] {name};" in verilog  # declared in the module
    assert ports["i_stream__ready"]["dir"] == "out" and ports["i_stream__valid"]["dir"] == "in"
    assert ports["i_stream__payload"]["fields"] == {
        "data": {"offset": 0, "width": 4, "signed": False},
        "eos": {"offset": 4, "width": 1, "signed": False},
    }
    assert not any(name.startswith("trace") for name in ports)


def test_trace_option_adds_one_trace_port_per_layer(tmp_path):
    _ir(tmp_path, encoding="spikes")
    assert main(["verilog", "--ir", str(tmp_path / "net"), "-o", str(tmp_path), "--trace",
                 "--name", "core_t", "--lanes", "4"]) == 0
    desc = json.loads((tmp_path / "core_t.json").read_text())
    assert desc["trace"] is True and desc["module"] == "core_t"
    ports = desc["ports"]
    assert {n for n in ports if n.startswith("trace")} == {
        "trace__l0__valid", "trace__l0__payload", "trace__l1__valid", "trace__l1__payload"}
    values = ports["trace__l0__payload"]["fields"]["values"]
    assert (values["width"], values["count"], values["signed"]) == (9, 4, True)
    assert "module core_t(" in (tmp_path / "core_t.v").read_text()


def test_missing_ir_is_one_line_error(tmp_path, capsys):
    assert main(["verilog", "--ir", str(tmp_path / "nope.json"), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: IR {tmp_path / 'nope.json'}: file not found\n"


def test_corrupt_ir_is_one_line_error(tmp_path, capsys):
    _ir(tmp_path)
    (tmp_path / "net.npz").write_bytes(b"garbage")
    assert main(["verilog", "--ir", str(tmp_path / "net.json"), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "does not match its sha256" in err


def test_bad_lanes_and_name_are_refused(tmp_path, capsys):
    _ir(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "spikefab_hdl", "verilog", "--ir", str(tmp_path / "net"),
         "--lanes", "0"], capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert "argument --lanes: lanes must be an integer in [1, 128], not '0'" in proc.stderr
    assert main(["verilog", "--ir", str(tmp_path / "net"), "-o", str(tmp_path),
                 "--name", "9bad"]) == 2
    assert capsys.readouterr().err == "error: name must be a Verilog identifier, not '9bad'\n"
    assert not list(tmp_path.glob("*.v"))


def test_output_is_deterministic(tmp_path):
    _ir(tmp_path)
    for d in ("a", "b"):
        assert main(["verilog", "--ir", str(tmp_path / "net"), "-o", str(tmp_path / d)]) == 0
    for f in ("spikefab_core.v", "spikefab_core.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_in_pack_option_widens_the_input_beat(tmp_path, capsys):
    _ir(tmp_path)
    assert main(["verilog", "--ir", str(tmp_path / "net"), "-o", str(tmp_path),
                 "--in-pack", "3"]) == 0
    desc = json.loads((tmp_path / "spikefab_core.json").read_text())
    assert desc["plan"]["in_pack"] == 3
    assert desc["ports"]["i_stream__payload"]["fields"]["data"]["width"] == 12
    capsys.readouterr()
    _ir(tmp_path, encoding="spikes")
    assert main(["verilog", "--ir", str(tmp_path / "net"), "-o", str(tmp_path / "x"),
                 "--in-pack", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in_pack 2 packs direct input values" in err
    assert not (tmp_path / "x").exists()


def test_lanes_per_layer_and_auto(tmp_path, capsys):
    _ir(tmp_path, encoding="spikes")
    assert main(["verilog", "--ir", str(tmp_path / "net"), "-o", str(tmp_path),
                 "--lanes", "8,2x4"]) == 0
    plan = json.loads((tmp_path / "spikefab_core.json").read_text())["plan"]
    assert plan["lanes"] == "8,2x4"
    assert [(lp["lanes"], lp["mask"], lp["groups"]) for lp in plan["layers"]] == [(8, 1, 1),
                                                                                 (2, 4, 2)]
    assert main(["verilog", "--ir", str(tmp_path / "net"), "-o", str(tmp_path),
                 "--lanes", "auto", "--board", "icebreaker"]) == 0
    plan = json.loads((tmp_path / "spikefab_core.json").read_text())["plan"]
    from spikefab_hdl.build.cli import board_budget
    from spikefab_hdl.core.lanes import auto_lanes, lanes_value
    net = random_network(make_spec((5, 6, 3), encoding="spikes", in_bits=4,
                                   neurons=[LIFSpec(9, 20, 2)]), seed=1)
    assert plan["lanes"] == lanes_value(auto_lanes(net, board_budget("icebreaker")))
    capsys.readouterr()
    assert main(["verilog", "--ir", str(tmp_path / "net"), "-o", str(tmp_path),
                 "--lanes", "8,2x3"]) == 2
    assert capsys.readouterr().err == ("error: lanes entry of layer 1 (2x3): the mask width "
                                       "must divide layer 0's lanes 8 (allowed: 1, 2, 4, 8)\n")
    assert main(["verilog", "--ir", str(tmp_path / "net"), "-o", str(tmp_path),
                 "--lanes", "auto", "--board", "de10"]) == 2
    assert capsys.readouterr().err.startswith("error: --board must be one of icebreaker, ")
