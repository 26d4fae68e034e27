"""cocotb side of every core bench: clock, reset, a stream driver, a stream sink, trace monitors.

All of them run in one clocked loop (:meth:`CoreBench.run`): at each falling edge the
driver and the sink drive ``valid``/``payload`` and ``ready`` (with seeded random idle
and backpressure cycles), then in the ``ReadOnly`` phase every monitor samples the
handshakes that will happen at the next rising edge and hands the beats to callbacks
(the model and the recorder/checker). One loop per cycle keeps cocotb's per-cycle cost
low; the pieces stay separate classes. Ports are found from the core's JSON description.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

__all__ = ["StreamDriver", "StreamSink", "TraceMonitor", "CoreBench"]


class StreamDriver:
    """Drives ``<name>__valid``/``__payload`` from a queue; calls ``on_beat(cycle, raw)``."""

    def __init__(self, dut, name: str, *, rng: random.Random, idle: float, on_beat: Callable):
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")
        self.rng, self.idle, self.on_beat = rng, idle, on_beat
        self.queue: list[int] = []
        self.pos = 0
        self.offered = False

    def send(self, beats) -> None:
        self.queue.extend(int(b) for b in beats)

    @property
    def empty(self) -> bool:
        return self.pos >= len(self.queue)

    def drive(self) -> None:
        self.offered = not self.empty and self.rng.random() >= self.idle
        self.valid.value = int(self.offered)
        if self.offered:
            self.payload.value = self.queue[self.pos]

    def sample(self, cycle: int) -> None:
        if self.offered and int(self.ready.value):
            self.on_beat(cycle, self.queue[self.pos])
            self.pos += 1


class StreamSink:
    """Drives ``<name>__ready`` (low with probability ``stall``); reports accepted beats."""

    def __init__(self, dut, name: str, *, rng: random.Random, stall: float, on_beat: Callable):
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")
        self.rng, self.stall, self.on_beat = rng, stall, on_beat
        self.on_valid: Callable | None = None
        self.taking = False

    def drive(self) -> None:
        self.taking = self.rng.random() >= self.stall
        self.ready.value = int(self.taking)

    def sample(self, cycle: int) -> None:
        if int(self.valid.value):
            if self.on_valid is not None:
                self.on_valid(cycle)
            if self.taking:
                self.on_beat(cycle, self.payload.value.to_unsigned())


class TraceMonitor:
    """Reports every cycle with ``<name>__valid`` high: ``on_beat(layer, raw)``."""

    def __init__(self, dut, name: str, layer: int, on_beat: Callable):
        self.valid = getattr(dut, f"{name}__valid")
        self.payload = getattr(dut, f"{name}__payload")
        self.layer, self.on_beat = layer, on_beat

    def drive(self) -> None:
        pass

    def sample(self, cycle: int) -> None:
        if int(self.valid.value):
            self.on_beat(self.layer, self.payload.value.to_unsigned())


class CoreBench:
    """Clock, reset and the per-cycle loop around a network core.

    Parameters
    ----------
    dut : cocotb handle
        The core's toplevel.
    desc : dict
        The core's JSON description (``spikefab_hdl.build.verilog.describe_core``).
    """

    def __init__(self, dut, desc: dict, *, period_ns: int = 10):
        self.dut, self.desc = dut, desc
        self.cycle = 0
        self.parts: list = []
        Clock(dut.clk, period_ns, unit="ns").start()

    def add(self, part):
        self.parts.append(part)
        return part

    async def reset(self, cycles: int = 3) -> None:
        self.dut.rst.value = 1
        self.dut.i_stream__valid.value = 0
        self.dut.o_stream__ready.value = 0
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def run(self, until: Callable[[], bool], *, max_cycles: int) -> int:
        """Run cycles until ``until()`` is true; return the number of cycles run."""
        start = self.cycle
        clk = self.dut.clk
        while not until():
            if self.cycle - start >= max_cycles:
                raise AssertionError(f"timeout: not done after {max_cycles} cycles")
            await FallingEdge(clk)
            for part in self.parts:
                part.drive()
            await ReadOnly()
            for part in self.parts:
                part.sample(self.cycle)
            self.cycle += 1
        return self.cycle - start
