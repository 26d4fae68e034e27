"""Proof 2 for a direct first layer taking pixel chunks (formal/rmw_chunk.py): no update lost
or doubled for any weights and any event sequence (k-induction); planted bugs fail it (a
value of the chunk dropped, the wrong value multiplied, the chunk's weight row off by one)
with a real counterexample."""

import inspect
import textwrap

import pytest
from rmwcheck import assert_planted_fails
from spikefab_hdl.core import integrator
from spikefab_hdl.core.integrator import Integrator
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.formal.network import prove
from spikefab_hdl.formal.rmw import rmw_proofs
from spikefab_hdl.sim.randnet import make_spec, random_network


def _chunks():
    """10 direct 3-bit inputs in chunks of 4 (the last one straddles n_in) into 4 neurons at
    2 lanes (G = 2): ``2x4`` on layer 0, in beats of 4."""
    spec = make_spec((10, 4, 3), encoding="direct", in_bits=3)
    return plan_core(random_network(spec, 3), lanes=["2x4", 2], in_pack=4).layers[0]


def test_the_chunk_integrator_loses_and_doubles_no_update(tmp_path):
    lp = _chunks()
    assert (lp.mask, lp.value_bits, lp.groups) == (4, 3, 2)
    (proof,) = rmw_proofs(lp)
    assert proof.mode == "prove" and proof.depth == 1 and proof.solver == "boolector"
    assert "direct, pixel chunks 4 wide" in proof.what
    r = prove([proof], work=tmp_path / "work", out=tmp_path / "out", jobs=1, timeout=600)[0]
    assert r.passed, r.line()


def _mutant(old, new):
    """The integrator with one line of ``elaborate`` changed (a planted bug)."""
    src = textwrap.dedent(inspect.getsource(Integrator.elaborate))
    assert src.count(old) == 1, old
    scope = dict(vars(integrator))
    exec(compile(src.replace(old, new), integrator.__file__, "exec"), scope)
    return type("PlantedIntegrator", (Integrator,), {"elaborate": scope["elaborate"]})


XS = "xs = [reg_value[(p // lanes) * vb:(p // lanes + 1) * vb] for p in range(lanes * k)]"


@pytest.mark.parametrize("new, text", [
    # value K - 1 of every chunk dropped (multiplied as 0)
    ("xs = [reg_value[(p // lanes) * vb:(p // lanes + 1) * vb] if p // lanes < k - 1 else "
     "Const(0, vb) for p in range(lanes * k)]", "a product register holds C * X"),
    # each weight multiplied by the next value of the chunk
    ("xs = [reg_value[((p // lanes + 1) % k) * vb:((p // lanes + 1) % k + 1) * vb] "
     "for p in range(lanes * k)]", "a product register holds C * X"),
], ids=["value-dropped", "wrong-value"])
def test_a_planted_product_bug_fails_the_chunk_proof(tmp_path, new, text):
    assert_planted_fails(tmp_path, _chunks(), text, dut=_mutant(XS, new))


def test_an_off_by_one_chunk_row_fails_the_chunk_proof(tmp_path, monkeypatch):
    real = integrator.times
    monkeypatch.setattr(integrator, "times", lambda a, n: real(a, n) + 1)  # the base row
    assert_planted_fails(tmp_path, _chunks(), "the walk reads row index * G + group")
