"""Proof 3a (docs/verification.md): a hidden layer's spike queue drops, duplicates and
reorders no event and never deadlocks; the proof bites on planted bugs."""

from dataclasses import replace

import pytest
from mutants import mutant
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.core.spike_queue import SpikeQueue
from spikefab_hdl.formal.network import prove
from spikefab_hdl.formal.queue import QueueHarness, queue_proofs
from spikefab_hdl.sim.randnet import make_spec, random_network


def _layer(sizes=(6, 8, 3), lanes=4):
    return plan_core(random_network(make_spec(sizes), 1), lanes=lanes).layers[0]


def _queue(cls, layer):
    return lambda: cls(lanes=layer.lanes, groups=layer.groups, index_bits=layer.out_index_bits)


def _run(tmp_path, proofs):
    return prove(proofs, work=tmp_path / "work", out=tmp_path / "out", jobs=2, timeout=300)


def test_the_queue_is_proven_and_reaches_full_then_empty(tmp_path):
    layer = _layer()  # 2 groups: 7 entries, full within the bound
    proofs = queue_proofs(layer)
    assert [p.name for p in proofs] == ["layer0.queue", "layer0.queue-cover"]
    results = _run(tmp_path, proofs)
    assert [r.line() for r in results if not r.passed] == []
    assert results[0].line().startswith("PASS layer0.queue: proven (k-induction, k=1) ")
    assert results[1].line().startswith("PASS layer0.queue-cover: every cover reached ")
    assert sorted(p.name for p in (tmp_path / "out").glob("layer0.queue-cover.cover*.vcd"))


def test_a_deep_queue_is_also_proven_cut_short():
    layer = _layer((6, 80, 3), lanes=2)  # 40 groups: 45 entries
    names = [(p.name, p.mode, p.depth) for p in queue_proofs(layer)]
    assert names == [("layer0.queue", "bmc", 12), ("layer0.queue-short", "prove", 1),
                     ("layer0.queue-cover", "cover", 24)]
    assert "45 entries" in queue_proofs(layer)[0].what


# (planted change in SpikeQueue.elaborate, the property that must fail)
BUGS = {
    "drops-when-full": ("ready_next.eq(held <= depth - 4)", "ready_next.eq(held <= depth)",
                        "the queue holds at most"),
    # the last spike of an entry is not cleared once sent: it leaves again
    "duplicates": ("m.d.sync += [pend.eq(rest), any_.eq(~one),",
                   "m.d.sync += [pend.eq(Mux(one, pend, rest)), any_.eq(1),",
                   # the solver's shortest trace: the copy leaves where nothing is owed, or
                   # where the next entry's event is owed
                   ("no event leaves that no entry taken owes (none duplicated)",
                    "every event leaves in its place")),
    # the latched "any" bits miss lane 0: an entry whose only spike is there is dropped
    "drops-a-spike": ("w_any.eq(self.any_bits(self.w_mask))",
                      "w_any.eq(self.any_bits(self.w_mask[1:]))",
                      ("every event leaves in its place", "pops one within")),
    "reorders": ("bypass.eq(idle & none_held)", "bypass.eq(idle)",
                 "every event leaves in its place"),
    # w_ready sticks low once two entries were held: the writer waits forever
    "deadlocks": ("ready_next.eq(held <= depth - 4)", "ready_next.eq((held <= 1) & ready)",
                  "takes entries (w_ready: the writer never waits forever)"),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_planted_queue_bug_fails_the_proof(tmp_path, bug):
    old, new, text = BUGS[bug]
    layer = _layer()
    planted = _queue(mutant(SpikeQueue, old, new), layer)
    proof = queue_proofs(layer, queue=planted)[0]
    assert proof.mode == "prove"
    # the induction does not pass; the bounded proof of the same properties (without the
    # invariant) finds a trace from the initial state that breaks the property named
    bounded = replace(proof, name="layer0.queue-bmc", mode="bmc", depth=12,
                      harness=lambda: QueueHarness(queue=planted))
    induction, r = _run(tmp_path, [proof, bounded])
    assert not induction.passed, induction.line()
    assert not r.passed and r.status == "FAIL", r.line()
    texts = (text,) if isinstance(text, str) else text
    assert any(x in t for t in r.failed for x in texts), r.failed
    assert r.trace is not None and r.trace.is_file()


@pytest.mark.parametrize("bug", ["deadlocks", "duplicates", "reorders"])
def test_a_planted_bug_fails_the_bounded_proof_of_a_deep_queue(tmp_path, bug):
    """The bounded proof of a queue too deep for the induction (with the invariant's checks
    that need no FIFO entry as lemmas) fails on each bug a 12-cycle trace reaches, from the
    initial state."""
    old, new, _ = BUGS[bug]
    layer = _layer((6, 80, 3), lanes=2)  # 45 entries
    planted = _queue(mutant(SpikeQueue, old, new), layer)
    proof = queue_proofs(layer, queue=planted)[0]
    assert (proof.mode, proof.depth) == ("bmc", 12)
    (r,) = _run(tmp_path, [proof])
    assert not r.passed and r.status == "FAIL", r.line()
    assert r.trace is not None and r.trace.is_file()
