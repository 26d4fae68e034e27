"""Integrator (event-driven ``I = W x + b``, ``lanes`` weights per cycle) against NumPy, exactly."""

import dataclasses
import re

import numpy as np
import pytest
from amaranth.back import rtlil
from integrator_drive import integrate
from spikefab_hdl.core.integrator import Integrator
from spikefab_hdl.core.plan import plan_core
from spikefab_hdl.sim.randnet import make_spec, random_network


def _layer(encoding, lanes, n_in=7, n_out=10, seed=0, bank_rows=0):
    spec = make_spec((n_in, n_out, 3), encoding=encoding, in_bits=3, w_bits=8, b_bits=10)
    net = random_network(spec, seed)
    lp = plan_core(net, lanes=lanes).layers[0]
    return dataclasses.replace(lp, bank_rows=bank_rows) if bank_rows else lp


def _run(lp, events, *, idle=0.0, seed=0):
    """Feed ``events`` [(index, value)], wait until idle, read back every current row.

    Returns the currents [n_out] and the cycle at which ``idle`` rose after the last event
    (counted from the first accepted event) when ``idle`` is 0.
    """
    out = integrate(Integrator(layer=lp), lp, events, idle=idle, seed=seed)
    out["currents"] = out.pop("rows")[: lp.n_out]
    return out


@pytest.mark.parametrize("lanes", [1, 3, 4, 16])
def test_spike_events_accumulate_exactly(lanes):
    lp = _layer("spikes", lanes)
    rng = np.random.default_rng(lanes)
    active = rng.permutation(lp.n_in)[:5]
    events = [(int(i), 1) for i in active]
    x = np.zeros(lp.n_in, np.int64)
    x[active] = 1
    got = _run(lp, events, idle=0.3, seed=lanes)
    np.testing.assert_array_equal(got["currents"], lp.weights @ x + lp.biases)


@pytest.mark.parametrize("lanes", [2, 4])
def test_direct_events_multiply_by_value(lanes):
    lp = _layer("direct", lanes)
    assert lp.value_bits == 3
    x = np.array([0, 7, 3, 0, 1, 5, 7], np.int64)
    events = [(i, int(v)) for i, v in enumerate(x)]
    got = _run(lp, events, idle=0.2, seed=1)
    np.testing.assert_array_equal(got["currents"], lp.weights @ x + lp.biases)


def test_each_nonzero_event_costs_groups_cycles_and_zero_events_one():
    """Event-driven timing: G = ceil(n_out / lanes) cycles per nonzero event, 1 per zero."""
    lp = _layer("direct", 4)  # n_out 10 -> G = 3
    assert lp.groups == 3
    x = [5, 0, 0, 2, 7, 0, 1]
    events = [(i, v) for i, v in enumerate(x)]
    got = _run(lp, events)
    accept_spacing = sum(lp.groups if v else 1 for v in x[:-1])
    # the last (nonzero) event: G issue cycles, one weight-register cycle, one multiply
    # cycle, one write-back cycle, then idle
    assert got["idle_at"] == accept_spacing + lp.groups + 4
    np.testing.assert_array_equal(got["currents"], lp.weights @ np.array(x) + lp.biases)


def test_same_row_back_to_back_is_exact():
    """G = 1: every event rewrites the same row on consecutive cycles (transparent read)."""
    lp = _layer("spikes", 16)
    assert lp.groups == 1
    events = [(i, 1) for i in range(lp.n_in)]
    got = _run(lp, events)
    np.testing.assert_array_equal(got["currents"], lp.weights.sum(axis=1) + lp.biases)


@pytest.mark.parametrize(("encoding", "lanes", "bank_rows"), [
    ("spikes", 1, 4), ("spikes", 3, 2), ("direct", 2, 8), ("direct", 4, 1),
])
def test_banked_weight_memory_is_exact(encoding, lanes, bank_rows):
    """Weights split over several banks (registered outputs, one more stage): same sums."""
    lp = _layer(encoding, lanes, n_in=9, bank_rows=bank_rows)
    assert lp.weight_banks == -(-lp.n_in * lp.groups // bank_rows) > 1
    rng = np.random.default_rng(lanes)
    if encoding == "spikes":
        x = (rng.random(lp.n_in) < 0.6).astype(np.int64)
        events = [(int(i), 1) for i in np.flatnonzero(x)]
    else:
        x = rng.integers(0, 8, lp.n_in)
        events = [(i, int(v)) for i, v in enumerate(x)]
    got = _run(lp, events, idle=0.25, seed=bank_rows)
    np.testing.assert_array_equal(got["currents"], lp.weights @ x + lp.biases)


def test_banked_memory_costs_one_cycle_of_latency_only():
    x = [5, 0, 0, 2, 7, 0, 1]
    events = [(i, v) for i, v in enumerate(x)]
    plain = _run(_layer("direct", 4), events)
    banked = _run(_layer("direct", 4, bank_rows=4), events)
    assert banked["idle_at"] == plain["idle_at"] + 1
    np.testing.assert_array_equal(banked["currents"], plain["currents"])


def _address_is_a_register(lp) -> bool:
    """The wire on the integrator's weight-memory address is a flip-flop's output (RTLIL)."""
    text = rtlil.convert(Integrator(layer=lp), name="top").split("\nmodule \\top.")[0]
    cell = re.search(r"cell \\top\.weights \\weights\n(.*?)\n  end", text, re.S).group(1)
    wire = re.search(r"connect \\\w*addr (\\\w+)", cell).group(1)
    dff = r"cell \$dff \$\d+\n(?:    .*\n)*?    connect \\Q " + re.escape(wire) + "\n"
    return re.search(dff, text) is not None


def test_the_walk_address_is_a_register_on_ecp5_builds():
    """A layer built for ECP5 (``bram_outreg``) reads its weights at ``walk_addr``, a
    register set one cycle ahead (no LUT between it and the blocks' address pins); other
    builds gate ``base`` with ``busy``. Same sums, same cycles."""
    lp = _layer("spikes", 3, n_in=9)
    ecp5 = dataclasses.replace(lp, bram_outreg=True)
    assert _address_is_a_register(ecp5) and not _address_is_a_register(lp)
    events = [(i, 1) for i in (0, 2, 3, 7, 8)]
    plain, got = _run(lp, events), _run(ecp5, events)
    np.testing.assert_array_equal(got["currents"], plain["currents"])
    assert got["idle_at"] == plain["idle_at"]
