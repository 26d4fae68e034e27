"""The planted-bug check of the integrator proofs (tests/test_formal_rmw*.py)."""

from spikefab_hdl.formal import rmw
from spikefab_hdl.formal.network import prove
from spikefab_hdl.formal.proof import Proof
from spikefab_hdl.formal.rmw import RMWHarness, rmw_depth, rmw_proofs


def assert_planted_fails(tmp_path, layer, text, *, dut=None, depth=None):
    """The planted bug (``dut``: a changed integrator class; else what the test patched):
    the proof does not pass, and the same harness run from reset (BMC over two events that
    walk their most rows and the drain, ``depth`` cycles) gives a real counterexample whose
    failed property says ``text``, with its VCD."""
    (proof,) = rmw_proofs(layer)
    harness = proof.harness if dut is None else (lambda: RMWHarness(layer=layer, dut=dut))
    planted = Proof(proof.name, proof.what, harness, "prove", proof.depth, proof.solver)
    r = prove([planted], work=tmp_path / "work", out=tmp_path / "out", jobs=1, timeout=600)[0]
    assert not r.passed, r.line()
    bmc = Proof(proof.name, proof.what, harness, "bmc", depth or rmw_depth(layer),
                proof.solver)
    r = prove([bmc], work=tmp_path / "bmc", out=tmp_path / "bmc-out", jobs=1, timeout=600)[0]
    assert r.status == "FAIL", r.line()
    assert any(text in t for t in r.failed), r.failed
    assert r.trace is not None and r.trace.is_file()


def drop_bypass(monkeypatch) -> None:
    """The current memory's read port no longer transparent to its write port."""
    real = rmw.ShadowMemory.read_port

    def no_bypass(self, *, domain="sync", transparent_for=()):  # ignores transparent_for
        return real(self, domain=domain)

    monkeypatch.setattr(rmw.ShadowMemory, "read_port", no_bypass)
