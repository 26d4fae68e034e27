"""One check that a core run (amaranth.sim ``run_core``'s result) equals golden exactly:
every layer's spikes, membranes and synaptic currents, the logits, accumulators and
prediction."""

from numpy.testing import assert_array_equal


def assert_core_equals_golden(res, gold) -> None:
    assert len(res["spikes"]) == len(gold.spikes)
    for i, (s, v, syn) in enumerate(zip(res["spikes"], res["membranes"], res["synapses"],
                                        strict=True)):
        assert_array_equal(s, gold.spikes[i], err_msg=f"spikes L{i}")
        assert_array_equal(v, gold.membranes[i], err_msg=f"membranes L{i}")
        assert (syn is None) == (gold.synapses[i] is None)
        if syn is not None:
            assert_array_equal(syn, gold.synapses[i], err_msg=f"synapses L{i}")
    for key in ("logits", "acc", "prediction"):
        assert_array_equal(res[key], getattr(gold, key), err_msg=key)
