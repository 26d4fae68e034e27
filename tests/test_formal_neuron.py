"""Proof 1 (docs/verification.md): the neuron datapath equals docs/semantics.md's update for
every input, in every neuron mode, and the proof bites on planted bugs."""

import pytest
from spikefab.spec import LIFSpec, SynapseSpec
from spikefab_hdl.formal.network import neuron_proofs, prove
from spikefab_hdl.formal.vcd import final_values

# every neuron mode of core/plan.py's EXTENSIONS (decay, gt, delayed-reset, cuba; the
# spiking readout's neurons are these) and v1's choices: both resets, leak and no leak
MODES = {
    "v1-shift-subtract": LIFSpec(10, 24, 2),
    "v1-noleak-zero": LIFSpec(9, 100, None, "zero"),
    "v1-fullleak-subtract": LIFSpec(8, 5, 0),
    "gt-shift-zero": LIFSpec(8, 20, 3, "zero", threshold="gt"),
    "decay-subtract": LIFSpec(9, 60, None, "subtract", decay=205, decay_bits=8),
    "decay-delayed-gt": LIFSpec(8, 6, None, "subtract-delayed", decay=3, decay_bits=2,
                                threshold="gt"),
    "delayed-shift": LIFSpec(8, 20, 2, "subtract-delayed"),
    "cuba-decay-delayed": LIFSpec(9, 60, None, "subtract-delayed", decay=205, decay_bits=12,
                                  synapse=SynapseSpec(8, 1638, 12)),
    "cuba-noleak-zero": LIFSpec(7, 15, None, "zero", synapse=SynapseSpec(6, 1, 2)),
    "cuba-full-decay": LIFSpec(8, 9, None, "zero", decay=4, decay_bits=2,
                               synapse=SynapseSpec(9, 0, 3)),
}


def _run(tmp_path, neuron, gateware=None, lanes=2, cur_bits=9):
    proofs = neuron_proofs("n", neuron=neuron, lanes=lanes, cur_bits=cur_bits,
                           gateware=gateware)
    return prove(proofs, work=tmp_path / "work", out=tmp_path / "out", jobs=2)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_the_neuron_datapath_is_proven_in_every_mode(tmp_path, mode):
    results = _run(tmp_path, MODES[mode])
    assert [r.line() for r in results if not r.passed] == []
    prep = MODES[mode].decay is not None or MODES[mode].synapse is not None or \
        MODES[mode].reset == "subtract-delayed"
    assert [r.name for r in results] == ["n.neuron-prep", "n.neuron"][1 - prep:]
    assert all(r.line().startswith(f"PASS {r.name}: proven for every input") for r in results)


# planted bugs: the gateware built from a neuron that differs from the reference's in one
# place; the proof must fail, name the property and leave a counterexample
PLANTED = {
    "leak shift off by one": (LIFSpec(10, 24, 2), LIFSpec(10, 24, 3), "n.neuron",
                              "the next membrane"),
    ">= turned into >": (LIFSpec(10, 24, 2), LIFSpec(10, 24, 2, threshold="gt"), "n.neuron",
                         "the spike"),
    "decay constant off by one": (MODES["decay-subtract"],
                                  LIFSpec(9, 60, None, "subtract", decay=206, decay_bits=8),
                                  "n.neuron-prep", "leak = (v * 205) >> 8"),
    "zero reset as subtract": (LIFSpec(9, 100, None, "zero"), LIFSpec(9, 100, None),
                               "n.neuron", "the next membrane"),
    "cuba synapse decay off by one": (
        MODES["cuba-decay-delayed"],
        LIFSpec(9, 60, None, "subtract-delayed", decay=205, decay_bits=12,
                synapse=SynapseSpec(8, 1638, 11)),
        "n.neuron-prep", "syn_leak = (i * 1638) >> 12"),
}


@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_a_planted_bug_fails_the_proof(tmp_path, bug):
    reference, gateware, name, says = PLANTED[bug]
    results = {r.name: r for r in _run(tmp_path, reference, gateware)}
    r = results[name]
    assert not r.passed and r.status == "FAIL"
    assert any(says in text for text in r.failed), r.failed
    line = r.line()
    assert line.startswith(f"FAIL {name} (comb, FAIL): lane ")
    assert r.trace == tmp_path / "out" / f"{name}.vcd"
    assert f"counterexample: {r.trace}" in line
    values = final_values(r.trace)
    assert any(k.endswith(".v") or k.endswith("v_any") for k in values), sorted(values)[:20]
