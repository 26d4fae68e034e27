"""Proof 2 with abstracted memories (formal/rmw.py): a dense integrator loses and doubles no
update for any weights and any event sequence (k-induction), at a cost that does not grow
with the rows; planted bugs fail it (a dropped bypass, an off-by-one weight address)."""

import numpy as np
import pytest
from rmwcheck import assert_planted_fails, drop_bypass
from spikefab_hdl.core import integrator
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.formal.network import prove
from spikefab_hdl.formal.rmw import rmw_proofs
from spikefab_hdl.sim.randnet import make_spec, random_network


def _dense(sizes, lanes, encoding="spikes", layer=0):
    spec = make_spec(sizes, encoding=encoding, in_bits=3 if encoding == "direct" else 1)
    return plan_core(random_network(spec, 3), lanes=lanes).layers[layer]


#: G = 1 (an event's only row back to back: the bypass), G = 2 (neighbouring rows), a
#: direct layer (the product stage), 200 weight rows (past the concrete proof's 24), the
#: summing readout. Banked weight memories (one stage more): sim/test_formal_cases.py.
LAYERS = {
    "spikes-g1": lambda: _dense((6, 4, 3), 4),
    "spikes-g2-200rows": lambda: _dense((100, 4, 3), 2),
    "direct-g2": lambda: _dense((5, 3, 3), 2, "direct"),
    "readout-g2": lambda: _dense((5, 4, 3), 2, layer=1),
}


def _prove(tmp_path, layer):
    proofs = rmw_proofs(layer)
    assert [p.name for p in proofs] == [f"layer{layer.index}.integrator"]
    return prove(proofs, work=tmp_path / "work", out=tmp_path / "out", jobs=1, timeout=300)[0]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_the_integrator_loses_and_doubles_no_update(tmp_path, name):
    r = _prove(tmp_path, LAYERS[name]())
    assert r.passed, r.line()


def _fails(tmp_path, layer, text):
    assert_planted_fails(tmp_path, layer, text, depth=2 * (layer.groups + 3) + 3)


def test_a_dropped_bypass_fails_the_proof(tmp_path, monkeypatch):
    drop_bypass(monkeypatch)  # the row read for the add misses the write just before it
    _fails(tmp_path, LAYERS["spikes-g1"](), "the current row read for the add stage is the "
           "tracked row")


def test_an_off_by_one_weight_address_fails_the_proof(tmp_path, monkeypatch):
    real = integrator.times
    monkeypatch.setattr(integrator, "times", lambda a, n: real(a, n) + 1)  # the base row
    _fails(tmp_path, LAYERS["spikes-g2-200rows"](),
           "the walk reads row index * G + group of its event")


def test_a_weight_layout_other_than_the_proofs_is_refused(monkeypatch):
    lp = LAYERS["spikes-g2-200rows"]()
    rows = np.roll(lp.weight_rows, 1, axis=0)  # the plan's rows one place further down
    monkeypatch.setattr(type(lp), "weight_rows", property(lambda self: rows))
    with pytest.raises(ValueError, match="^layer 0: the weight memory's layout is not the one "
                                         "the integrator proof states$"):
        rmw_proofs(lp)
