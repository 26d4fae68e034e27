"""The proofs of the shipped configs' networks (configs/*.toml) at their widths and lanes,
without training: their stand-ins (``spikefab_hdl.sim.shipped``: the student's layers,
neuron, encoding, widths and lanes, random weights). The neuron, framing and queue proofs
run in make test (bench/results/formal_time.md: seconds each); the integrators' are in
sim/test_formal_cases.py's terms. A queue deeper than ``INDUCTION_MAX`` (the 256-entry conv
queues of mnist5k_conv) is proven bounded at its own depth and by induction with 8 entries."""

from dataclasses import replace
from pathlib import Path

from spikefab.run.config import load_config
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.formal.network import board_proofs, network_proofs, prove
from spikefab_hdl.sim.shipped import stand_in

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))


def _proofs(keep) -> list:
    """Each distinct proof of the shipped configs that ``keep(proof)`` accepts."""
    proofs, seen = [], set()
    for path in CONFIGS:
        net, lanes = stand_in(load_config(path))
        for p in network_proofs(plan_core(net, lanes=lanes), integrator=False) + \
                board_proofs(net):
            if keep(p) and (p.what, p.mode) not in seen:
                seen.add((p.what, p.mode))
                proofs.append(replace(p, name=f"{path.stem}.{p.name}"))
    return proofs


def _prove(proofs, tmp_path):
    results = prove(proofs, work=tmp_path / "work", out=tmp_path, jobs=2, timeout=600)
    assert [r.line() for r in results if not r.passed] == []


def test_the_shipped_configs_neurons_and_framing_are_proven(tmp_path):
    assert len(CONFIGS) >= 6
    proofs = _proofs(lambda p: ".queue" not in p.name)
    assert {p.name.split(".", 1)[1] for p in proofs} >= {"board.parser", "board.builder"}
    assert any(p.name.endswith(".neuron") for p in proofs)
    _prove(proofs, tmp_path)


def test_the_shipped_configs_queues_are_proven(tmp_path):
    proofs = _proofs(lambda p: ".queue" in p.name)
    assert {p.mode for p in proofs} == {"prove", "bmc", "cover"}
    _prove(proofs, tmp_path)
