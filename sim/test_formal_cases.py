"""The formal proofs of every network the simulations use (docs/verification.md): the random
networks of ``core_cases.py`` (every neuron mode, conv layers, the spiking readout) and the
demo's digits model (``configs/digits.toml``'s network), each at its own widths and lanes.
"""

from core_cases import CASES, random_case
from spikefab import trained
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.formal.network import network_proofs, prove


def _prove(net, lanes, tmp_path):
    proofs = network_proofs(plan_core(net, lanes=lanes))  # digits: no integrator is small
    assert proofs
    results = prove(proofs, work=tmp_path / "work", out=tmp_path, jobs=2, timeout=300)
    assert [r.line() for r in results if not r.passed] == []
    return proofs


def test_every_random_case_is_proven(tmp_path):
    """One run over the union of the cases' neuron proofs (identical neurons proven once;
    the integrator's proofs are tests/test_formal_integrator.py's)."""
    proofs, seen = [], set()
    for name in sorted(CASES):
        net, _, lanes, _ = random_case(name)
        for p in network_proofs(plan_core(net, lanes=lanes), integrator=False):
            key = (p.what, p.name.split(".")[1])
            if key not in seen:
                seen.add(key)
                proofs.append(type(p)(f"{name}.{p.name}", p.what, p.harness, p.mode, p.depth))
    results = prove(proofs, work=tmp_path / "work", out=tmp_path, jobs=2, timeout=300)
    assert [r.line() for r in results if not r.passed] == []
    modes = " ".join(p.what for p in proofs)
    for word in ("decay", "cuba", "subtract-delayed", "zero", "gt", "no leak", "shift"):
        assert word in modes


def test_the_digits_model_is_proven(tmp_path):
    net, _, _ = trained.load("digits", 0)
    names = [p.name for p in _prove(net, 4, tmp_path)]
    assert names == ["layer0.neuron"]
