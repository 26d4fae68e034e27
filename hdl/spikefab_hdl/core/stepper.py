"""What every layer kind shares: its integrator, its biases, the step counter and the group pass.

:class:`LayerStepper` is the control a hidden layer and the readout have in common
(not a Component: it adds its state and submodules to the layer's module):

* the :class:`~.integrator.Integrator` (:class:`~.conv_integrator.ConvIntegrator` for a
  conv layer) fed from the layer's ``i_events`` while no pass runs, and the bias memory
  (one row per channel group of a conv layer, read at ``p_cg``, the channel group of
  ``p_group``);
* ``in_pass``: a pass over the groups is running; it starts when a step's ``eos`` beat
  is taken (and right after reset, as the silent *clear pass*, ``clearing``);
* the two-stage group walk: while ``advance`` is high, stage 0 issues the reads of group
  ``p_group`` (currents, biases, and whatever the layer adds) and stage 1
  (``s1_valid``, ``s1_group``) sees their data one cycle later; ``advance`` low holds
  both stages (the memories' read enables, ``read_en``, follow it; on an ECP5 build the
  reads run every cycle and re-read the held row instead, ``free_read``). A layer with a state
  memory in one single-port bank (:mod:`.spram`) issues a group every other ``advance``
  (``gap``: a bubble goes down the pipeline), so reads and writes alternate;
* ``step``: the step within the sample, ``last_step``, and ``keep_currents`` (a repeat
  layer keeps its currents until its last pass).
"""

from __future__ import annotations

from amaranth import Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory

from .conv_integrator import ConvIntegrator
from .integrator import Integrator, route_events
from .plan import LayerPlan

__all__ = ["LayerStepper"]


class LayerStepper:
    """Shared control of one layer (see the module docstring).

    Parameters
    ----------
    m : Module
        The layer's module; the integrator and the bias memory become its submodules.
    layer : LayerPlan
    timesteps : int
    source : stream interface
        The layer's ``i_events``.
    accepting : Value
        Extra condition for taking input events (besides "no pass running").
    """

    def __init__(self, m: Module, *, layer: LayerPlan, timesteps: int, source, accepting=1):
        groups, cgroups = layer.groups, layer.channel_groups
        self.layer, self.timesteps = layer, timesteps
        integrator = Integrator if layer.conv is None else ConvIntegrator
        m.submodules.integrator = self.integrator = integrator(layer=layer)
        m.submodules.biases = bmem = memory.Memory(
            shape=data.ArrayLayout(signed(layer.b_bits), layer.lanes),
            depth=cgroups,
            init=[list(map(int, row)) for row in layer.bias_rows],
        )
        self.bias = bmem.read_port()
        self.in_pass = Signal(init=1)  # the clear pass runs right after reset
        self.clearing = Signal(init=1)
        self.step = Signal(range(timesteps))
        self.last_step = self.step == timesteps - 1
        self.keep_currents = Const(layer.repeat) & ~self.last_step & ~self.clearing
        self.advance = Signal()
        self.p_group = Signal(range(groups))
        # the channel group of p_group (a conv layer's rows are pos * G + g)
        self.p_cg = self.p_group if layer.conv is None else Signal(range(cgroups))
        self.p_more = Signal(init=1)
        self.s1_valid = Signal()
        self.s1_group = Signal(range(groups))
        self.pass_end = self.in_pass & ~self.s1_valid & ~self.p_more
        # gap: no group issued at this advance (one single-port bank: every other one)
        self.gap = Signal() if layer.pass_half_rate else Const(0)
        issue = self.p_more & ~self.gap
        # read enable and row of the pass's memories (single-port RAM: only for a group
        # issued). A dense layer built for ECP5 (``bram_outreg``, no SPRAM) reads every cycle
        # (``free_read``): while ``advance`` is low it reads again the row stage 1 holds
        # (``s1_group``), which no write changes in a cycle without ``advance``, so the data
        # holds without a clock enable on the read registers (layer 0's ``rd_data``, over
        # 1,000 flip-flops across the 85F: the router2 build's critical path, docs/hardware.md)
        self.free_read = bool(layer.bram_outreg) and not layer.spram and layer.conv is None
        if self.free_read:
            self.read_en = Const(1)
            self.read_addr = Mux(self.advance, self.p_group, self.s1_group)
        else:
            self.read_en = self.advance & issue if layer.spram else self.advance
            self.read_addr = self.p_group

        taken = route_events(
            m, source=source, integrator=self.integrator, accepting=~self.in_pass & accepting
        )
        with m.If(taken):
            m.d.sync += self.in_pass.eq(1)
            self.restart(m)

        integ = self.integrator
        m.d.comb += [
            integ.rd_addr.eq(self.read_addr),
            integ.rd_en.eq(self.read_en),
            self.bias.addr.eq(self.read_addr if self.free_read else self.p_cg),
            self.bias.en.eq(self.read_en),
        ]
        with m.If(self.advance):
            m.d.sync += [self.s1_valid.eq(issue), self.s1_group.eq(self.p_group)]
            if layer.pass_half_rate:
                m.d.sync += self.gap.eq(issue)
            with m.If(issue):
                m.d.sync += [
                    self.p_group.eq(self.p_group + 1),
                    self.p_more.eq(self.p_group != groups - 1),
                ]
                if layer.conv is not None:
                    m.d.sync += self.p_cg.eq(Mux(self.p_cg == cgroups - 1, 0, self.p_cg + 1))

    def restart(self, m: Module) -> None:
        """Start a pass at group 0 (from the next cycle)."""
        m.d.sync += [self.p_group.eq(0), self.p_more.eq(1)]
        if self.layer.conv is not None:
            m.d.sync += self.p_cg.eq(0)

    def rewrite_currents(self, m: Module) -> None:
        """In the current cycle, write group ``s1_group``'s biases back as its currents
        (unless ``keep_currents``)."""
        integ = self.integrator
        m.d.comb += [integ.wr_en.eq(~self.keep_currents), integ.wr_addr.eq(self.s1_group)]
        for j in range(self.layer.lanes):
            m.d.comb += integ.wr_data[j].eq(self.bias.data[j])

    def rewrite_currents_late(self, m: Module, when) -> None:
        """As :meth:`rewrite_currents` for the group ``s1_group`` of a cycle where ``when``
        holds, one cycle later, from registers (a ``free_read`` layer): the write enable
        and row registered, the biases read at ``s1_group`` (a ROM, read every cycle), so the
        current memory's write enable is no function of ``advance`` (on a one-group layer
        its clock enable across the die, docs/hardware.md). No read needs the row before:
        stage 0 reads other groups (groups in flight are distinct), and the next read of it
        comes after the pass, whose pipeline is still draining."""
        integ = self.integrator
        en, row = Signal(name="rewrite_en"), Signal.like(self.s1_group, name="rewrite_row")
        m.d.sync += [en.eq(when & ~self.keep_currents), row.eq(self.s1_group)]
        # (overrides the bias row __init__ set: the row of the write, a cycle ahead)
        m.d.comb += [self.bias.addr.eq(self.s1_group), integ.wr_en.eq(en),
                     integ.wr_addr.eq(row)]
        for j in range(self.layer.lanes):
            m.d.comb += integ.wr_data[j].eq(self.bias.data[j])

    def end_pass(self, m: Module, *, done, spike_q) -> None:
        """After the pass's last group (``done``): the end-of-step entry into ``spike_q``
        (none after the clear pass); once it is taken the step is counted (``next_step``),
        and the clear pass simply ends. Call it after the layer's own ``spike_q`` writes:
        in the ``done`` cycle this entry is the one written."""
        with m.If(done & ~self.clearing):
            m.d.comb += [spike_q.w_valid.eq(1), spike_q.w_eos.eq(1)]

        def sample_done():
            m.d.sync += [self.step.eq(0), self.in_pass.eq(0)]

        with m.If(done):
            with m.If(self.clearing):
                m.d.sync += [self.clearing.eq(0), self.in_pass.eq(0)]
            with m.Elif(spike_q.w_ready):
                self.next_step(m, on_last=sample_done)

    def next_step(self, m: Module, *, on_last) -> None:
        """End of a (non-clear) pass. After the last step of the sample run ``on_last()``;
        otherwise count the step, and a repeat layer starts its next pass at once while
        any other layer goes back to taking input events."""
        with m.If(self.last_step):
            on_last()
        with m.Else():
            m.d.sync += self.step.eq(self.step + 1)
            if self.layer.repeat:
                self.restart(m)
            else:
                m.d.sync += self.in_pass.eq(0)
