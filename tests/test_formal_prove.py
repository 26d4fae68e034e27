"""formal/network.py's ``prove``: a proof identical to an earlier one runs once and says so;
the results keep the order of the proofs; the reports name every proof."""

from dataclasses import replace

from spikefab.spec import LIFSpec
from spikefab_hdl.formal.network import neuron_proofs, prove


def test_an_identical_proof_runs_once(tmp_path):
    (a,) = neuron_proofs("layer0", neuron=LIFSpec(8, 20, 2), lanes=1, cur_bits=6)
    (c,) = neuron_proofs("layer2", neuron=LIFSpec(8, 21, 2), lanes=1, cur_bits=6)
    b = replace(a, name="other.layer0.neuron")
    seen = []
    results = prove([a, c, b], work=tmp_path / "work", out=tmp_path, jobs=2,
                    report=lambda r: seen.append(r.name))
    assert [r.name for r in results] == ["layer0.neuron", "layer2.neuron",
                                         "other.layer0.neuron"]
    assert all(r.passed for r in results)
    assert [r.same_as for r in results] == [None, None, "layer0.neuron"]
    assert "the same proof as layer0.neuron" in results[2].line()
    assert sorted(seen) == sorted(r.name for r in results)
    ran = sorted(p.name for p in (tmp_path / "work").iterdir())
    assert ran == ["layer0.neuron", "layer2.neuron"]
