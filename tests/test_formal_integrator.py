"""Proof 3 (docs/verification.md): a dense layer's read-modify-write pipeline loses and
doubles no update; the proof bites on a dropped bypass."""

import pytest
from amaranth.lib import memory
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.formal.integrator import integrator_proofs
from spikefab_hdl.formal.network import prove
from spikefab_hdl.sim.randnet import make_spec, random_network

# (sizes, lanes, encoding): G = 1 (each event's only row back to back: the bypass), G = 2
# and 3 (neighbouring rows), a direct layer (one stage more: the product)
LAYERS = {
    "spikes-g1": ((6, 4, 3), 4, "spikes"),
    "spikes-g3": ((5, 5, 3), 2, "spikes"),
    "direct-g1": ((5, 2, 3), 2, "direct"),
    "direct-g2": ((4, 3, 3), 2, "direct"),
}


def _layer(name):
    sizes, lanes, encoding = LAYERS[name]
    spec = make_spec(sizes, encoding=encoding, in_bits=3 if encoding == "direct" else 1)
    return plan_core(random_network(spec, 3), lanes=lanes).layers[0]


def _prove(tmp_path, layer):
    proofs = integrator_proofs(layer)
    assert [p.name for p in proofs] == ["layer0.integrator"]
    return prove(proofs, work=tmp_path / "work", out=tmp_path / "out", jobs=1, timeout=300)[0]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_the_integrator_loses_and_doubles_no_update(tmp_path, name):
    r = _prove(tmp_path, _layer(name))
    assert r.passed, r.line()
    assert r.line().startswith(f"PASS layer0.integrator: holds to depth {r.depth} ")


class _NoBypass(memory.Memory):
    """A memory whose read ports ignore ``transparent_for``: a dropped bypass."""

    def read_port(self, *, domain="sync", transparent_for=(), src_loc_at=0):
        return super().read_port(domain=domain, src_loc_at=src_loc_at + 1)


def test_a_dropped_bypass_fails_the_proof(tmp_path, monkeypatch):
    import spikefab_hdl.core.integrator as integrator

    class _Memory:  # the module the integrator takes its Memory from, planted
        Memory = _NoBypass

    monkeypatch.setattr(integrator, "memory", _Memory)
    r = _prove(tmp_path, _layer("spikes-g1"))
    assert not r.passed and r.status == "FAIL"
    assert any("the watched row holds b + every accepted event's W * x, each once" in t
               for t in r.failed), r.failed
    assert r.trace is not None and r.trace.is_file()


def test_large_and_conv_layers_get_no_integrator_proof():
    spec = make_spec((6, 20, 3))
    assert integrator_proofs(plan_core(random_network(spec, 1), lanes=2).layers[0]) == []
