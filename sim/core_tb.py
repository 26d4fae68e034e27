"""cocotb testbench of the network core: driver -> monitor -> model -> checker, exact.

* **Driver** (:class:`~spikefab_hdl.sim.cocotb_bench.StreamDriver`): streams every
  sample's input beats with seeded random idle cycles.
* **Input monitor**: every accepted input beat goes to the model, which rebuilds the
  sample from what the core actually took.
* **Model** (:class:`GoldenModel`): once a sample is complete, ``spikefab.golden``
  computes everything the core must output for it.
* **Output and trace monitors**: the sink (random backpressure) and one monitor per
  trace port hand their beats to the checker.
* **Checker** (:class:`Checker`): when a sample's last output beat arrives, compares the
  accumulators, the prediction, every spike and exposed membrane of every spiking layer
  (hidden, and the output layer with ``readout="spikes"``) at every step, the synaptic
  current of every ``cuba`` layer, and every per-step logit (the summing readout's
  currents or the spiking readout's spikes) with the model, exactly; checks the core's
  cycle count against the cycles the bench measured.

At the end, a drain check: no input left, nothing expected left, and 32 more cycles
with ``ready`` high produce no output and no trace beat. Configuration: the JSON file
named by ``SPIKEFAB_SIM_CONFIG`` (``description``, ``ir``, ``inputs``, ``idle``,
``stall``, ``seed``, ``max_cycles``, ``summary``).
"""

from __future__ import annotations

import json
import os
import random
from collections import deque
from pathlib import Path

import cocotb
import numpy as np
from spikefab.atomic import atomic_write_text
from spikefab.golden import run_network
from spikefab.ir import QuantizedNetwork
from spikefab_hdl.sim.beats import Recorder, field, input_beats, spike_index
from spikefab_hdl.sim.cocotb_bench import CoreBench, StreamDriver, StreamSink, TraceMonitor
from spikefab_hdl.sim.testbench import CONFIG_ENV


class GoldenModel:
    """Rebuilds each sample from the accepted input beats and predicts the core's outputs."""

    def __init__(self, net: QuantizedNetwork, desc: dict):
        self.net, self.spec, self.desc = net, net.spec, desc
        self.fields = desc["ports"]["i_stream__payload"]["fields"]
        self.expected: deque = deque()
        self._values: list[int] = []
        self._steps: list[np.ndarray] = []
        self._row = np.zeros(self.spec.n_in, np.int64)

    def input_beat(self, raw: int) -> None:
        data, eos = field(raw, self.fields["data"]), field(raw, self.fields["eos"])
        if self.spec.encoding == "direct":  # in_pack values a beat, the last one padded
            pack, bits = self.desc["plan"].get("in_pack", 1), self.spec.in_bits
            self._values += [(data >> (j * bits)) & ((1 << bits) - 1) for j in range(pack)]
            if len(self._values) >= self.spec.n_in:
                self._predict(np.asarray([self._values[: self.spec.n_in]], np.int64))
                self._values = []
            return
        if not eos:
            self._row[spike_index(self.desc, data)] = 1
            return
        self._steps.append(self._row)
        self._row = np.zeros(self.spec.n_in, np.int64)
        if len(self._steps) == self.spec.timesteps:
            self._predict(np.stack(self._steps)[:, None, :])
            self._steps = []

    def _predict(self, x: np.ndarray) -> None:
        self.expected.append(run_network(self.net, x))


class Checker:
    """Compares each sample's output and trace beats with the model's prediction."""

    def __init__(self, desc: dict, model: GoldenModel):
        self.desc, self.model = desc, model
        self.rec = Recorder(desc, 1)
        self.per_result = self.rec.beats_per_result
        self.checked = 0
        self.cycles: list[int] = []
        self.accepted_first: list[int] = []
        self.output_first: list[int] = []

    def input_accepted(self, cycle: int, index: int) -> None:
        if index == 0:
            self.accepted_first.append(cycle)

    def output_valid(self, cycle: int) -> None:
        if len(self.output_first) == self.checked and not self.rec.outputs:
            self.output_first.append(cycle)

    def trace(self, layer: int, raw: int) -> None:
        self.rec.trace(layer, raw)

    def output(self, raw: int) -> None:
        self.rec.output(raw)
        if len(self.rec.outputs) == self.per_result:
            self._check()

    def _check(self) -> None:
        b = self.checked
        assert self.model.expected, f"sample {b}: output before the model saw its whole input"
        want = self.model.expected.popleft()
        got = self.rec.results()
        np.testing.assert_array_equal(got["acc"][0], want.acc[0], err_msg=f"sample {b}: acc")
        assert got["prediction"][0] == want.prediction[0], f"sample {b}: prediction"
        if self.desc["trace"]:
            tr = self.rec.trace_arrays()
            np.testing.assert_array_equal(tr["logits"], want.logits, err_msg=f"sample {b}: logits")
            assert len(tr["spikes"]) == len(want.spikes), f"sample {b}: spiking layers"
            for i, (s, v, syn) in enumerate(
                    zip(tr["spikes"], tr["membranes"], tr["synapses"], strict=True)):
                np.testing.assert_array_equal(s, want.spikes[i], err_msg=f"sample {b}: spikes L{i}")
                np.testing.assert_array_equal(
                    v, want.membranes[i], err_msg=f"sample {b}: membranes L{i}"
                )
                assert (syn is None) == (want.synapses[i] is None), f"sample {b}: synapses L{i}"
                if syn is not None:
                    np.testing.assert_array_equal(
                        syn, want.synapses[i], err_msg=f"sample {b}: synaptic currents L{i}"
                    )
        measured = self.output_first[b] - self.accepted_first[b]
        assert got["cycles"][0] == measured, f"sample {b}: core counted {got['cycles'][0]} cycles"
        self.cycles.append(int(got["cycles"][0]))
        self.checked += 1
        self.rec = Recorder(self.desc, 1)


@cocotb.test()
async def core_golden_test(dut):
    """Every sample: outputs, spikes, membranes and logits equal golden's, exactly."""
    cfg = json.loads(Path(os.environ[CONFIG_ENV]).read_text())
    desc = json.loads(Path(cfg["description"]).read_text())
    net = QuantizedNetwork.load(cfg["ir"])
    with np.load(cfg["inputs"]) as z:
        x = z["x"]
    samples = [x[b] for b in range(x.shape[0])] if net.spec.encoding == "direct" else [
        x[:, b] for b in range(x.shape[1])
    ]
    rng = random.Random(cfg["seed"])
    model = GoldenModel(net, desc)
    checker = Checker(desc, model)
    starts = np.cumsum([0] + [len(input_beats(desc, s)) for s in samples[:-1]]).tolist()
    sent = [0]

    def on_input(cycle, raw):
        if sent[0] in starts:
            checker.input_accepted(cycle, 0)
        sent[0] += 1
        model.input_beat(raw)

    bench = CoreBench(dut, desc)
    driver = bench.add(StreamDriver(dut, "i_stream", rng=rng, idle=cfg["idle"], on_beat=on_input))
    sink = bench.add(StreamSink(dut, "o_stream", rng=rng, stall=cfg["stall"],
                                on_beat=lambda c, raw: checker.output(raw)))
    sink.on_valid = checker.output_valid
    if desc["trace"]:
        for lp in desc["plan"]["layers"]:
            bench.add(TraceMonitor(dut, f"trace__l{lp['index']}", lp["index"], checker.trace))
    await bench.reset()
    for s in samples:
        driver.send(input_beats(desc, s))
    cycles = await bench.run(lambda: checker.checked == len(samples), max_cycles=cfg["max_cycles"])

    # drain: nothing more may come out
    sink.stall = 0.0
    end = bench.cycle + 32
    await bench.run(lambda: bench.cycle >= end, max_cycles=64)
    assert driver.empty, "input beats left unsent"
    assert not model.expected, f"{len(model.expected)} predicted results never came out"
    assert not checker.rec.outputs, f"{len(checker.rec.outputs)} output beats after the last result"
    assert not any(checker.rec.traces.values()), "trace beats after the last result"
    dut._log.info(f"{len(samples)} samples checked exactly in {cycles} cycles")
    if cfg.get("summary"):
        summary = {"samples": len(samples), "sim_cycles": cycles, "cycles": checker.cycles}
        atomic_write_text(cfg["summary"], json.dumps(summary) + "\n")
