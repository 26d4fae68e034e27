"""``spikefab nir export|import``: NIR graphs of a run, and NIR graphs into spikefab.

Thin wrappers over ``spikefab.nirgraph`` (docs/nir.md): ``export_run`` writes the run's
IR (``export_quantized``) and float student (``export_student``) as ``.nir`` files;
``import_file`` reads a graph under explicit modes and saves it as an IR (a graph spikefab
wrote, bit for bit) or as a float student checkpoint (any supported graph);
``resolve_modes`` turns the command line's ``--profile``, ``--reset`` and ``--dt`` into
``ImportModes`` and refuses to guess what the graph does not tell (``nir_byo`` and
``nir_check`` use it too).
"""

from __future__ import annotations

from pathlib import Path

from ..ir import QuantizedNetwork

__all__ = ["CLI_RESETS", "export_run", "import_file", "layer_lines", "resolve_modes"]

#: ``--reset`` names (spikefab's) -> NIR import reset modes.
CLI_RESETS = {"zero": "value", "subtract": "subtract", "subtract-delayed": "subtract_next"}
_RESET_HELP = ("pass --reset subtract-delayed (snnTorch's default Leaky and Synaptic), --reset "
               "zero (snnTorch reset_mechanism='zero'; Norse) or --reset subtract (snnTorch "
               "reset_delay=False), or --profile snntorch|norse|norse-dev")


def export_run(run) -> list[Path]:
    """``<run>/nir/net.nir`` from ``ir/net`` and ``<run>/nir/student.nir`` from the student."""
    from ..nirgraph import export_quantized, export_student, write_nir

    ir = run.path("ir", "net.json")
    if not ir.is_file():
        raise ValueError(f"nir export needs step 'export' done in {run.root} (no {ir})")
    paths = [write_nir(export_quantized(QuantizedNetwork.load(ir)), run.path("nir", "net.nir"))]
    ckpt = run.path("student", "student.pt")
    if ckpt.is_file():
        from ..train import load_checkpoint

        model = load_checkpoint(ckpt)[0]
        paths.append(write_nir(export_student(model), run.path("nir", "student.nir")))
    return paths


def resolve_modes(graph, source, *, profile: str | None = None, reset: str | None = None,
                  dt: float | None = None):
    """``(ImportModes or None, notes)`` for ``graph`` read from ``source``.

    A graph spikefab wrote records its modes (None is returned; flags given are passed on
    and must agree with them). For any other graph: ``profile`` gives the preset, ``reset``
    (``"zero"``, ``"subtract"``, ``"subtract-delayed"``) and ``dt`` override it; without a
    profile the reset is required (NIR does not record it) and ``dt`` comes from the flag or
    from what the graph tells (``nirgraph.modes.told_dt``), else a one-line error says which
    flag to pass. The threshold is NIR's ``v > v_threshold`` (``"gt"``).
    """
    from ..nirgraph import PROFILES, ImportModes, spikefab_info
    from ..nirgraph.modes import told_dt

    if reset is not None and reset not in CLI_RESETS:
        raise ValueError(f"--reset must be one of {', '.join(CLI_RESETS)}, not {reset!r}")
    if dt is not None and not (isinstance(dt, float | int) and dt > 0):
        raise ValueError(f"--dt must be a positive number, not {dt!r}")
    info = spikefab_info(graph)
    base = PROFILES[profile] if profile is not None else None
    if info is not None and "modes" in info and base is None:
        base = ImportModes.from_dict(info["modes"])
        if reset is None and dt is None:
            return None, ["modes: recorded by spikefab"]
    notes = []
    if base is None:
        if reset is None:
            raise ValueError(f"{source}: a NIR graph does not record how its neurons reset; "
                             f"{_RESET_HELP}")
        if dt is None:
            dt, why = told_dt(graph)
            if dt is None:
                raise ValueError(f"{source}: the graph does not tell its time step dt ({why}); "
                                 "pass --dt (Norse 1.1.0 graphs: --profile norse, its "
                                 "development version: --profile norse-dev)")
            notes.append(f"dt {dt:g}: {why}")
        base = ImportModes(dt=float(dt), reset=CLI_RESETS[reset], threshold="gt")
    modes = ImportModes(dt=base.dt if dt is None else float(dt),
                        reset=base.reset if reset is None else CLI_RESETS[reset],
                        threshold=base.threshold, synapse=base.synapse)
    return modes, notes


def layer_lines(net) -> list[str]:
    """One line per imported layer, then the modes."""
    def shape(la):
        c = la.conv
        if c is None:
            return f"{la.n_in}->{la.n_out}"
        pool = f", OR pool {c.pool} -> {c.n_pooled}" if c.pool > 1 else ""
        return (f"conv {c.in_channels}x{c.height}x{c.width} -> "
                f"{c.out_channels}x{c.out_hw[0]}x{c.out_hw[1]} (k{c.kernel} s{c.stride} "
                f"p{c.padding}{pool})")

    lines = [f"L{i}: {la.dense} {shape(la)}"
             + (f", {la.kind} reset {la.reset}" if la.spiking else
                f", {la.kind or 'readout'}")
             for i, la in enumerate(net.layers)]
    lines.append(f"modes: dt {net.modes.dt}, reset {net.modes.reset}, "
                 f"threshold {net.modes.threshold}"
                 + (f", synapse {net.modes.synapse}" if net.modes.synapse != "euler" else ""))
    return lines


def import_file(path, profile: str | None, out=None, timesteps: int | None = None,
                drop_output_neuron: bool = False, *, reset: str | None = None,
                dt: float | None = None) -> tuple[list[str], Path | None]:
    """Import the graph at ``path``; returns (one line per layer, the file written or None).

    ``profile`` names the import modes (``"snntorch"``, ``"norse"``, ``"norse-dev"``),
    ``reset`` and ``dt`` set or override them (``resolve_modes``). With ``out`` (a path
    stem): a spikefab IR graph becomes ``<out>.{json,npz}``; any other graph a float student
    checkpoint ``<out>.pt`` with ``timesteps`` steps (required unless spikefab wrote the
    graph: NIR has no T) and, with ``drop_output_neuron``, the last layer's neuron removed
    (``to_student``).
    """
    from ..nirgraph import import_nir, read_nir, to_quantized, to_student

    if timesteps is not None and (isinstance(timesteps, bool) or not isinstance(timesteps, int)
                                  or timesteps < 1):
        raise ValueError(f"timesteps = {timesteps!r}: must be an integer >= 1")
    graph = read_nir(path)
    modes, notes = resolve_modes(graph, path, profile=profile, reset=reset, dt=dt)
    net = import_nir(graph, modes)
    lines = layer_lines(net) + notes
    written = None
    if out is not None:
        out = Path(out)
        if net.info and net.info.get("kind") == "quantized":
            written = to_quantized(net).save(out)
        else:
            from ..train import save_checkpoint

            if timesteps is None and not net.info:
                raise ValueError("timesteps is required to save a student from a graph "
                                 "spikefab did not write (NIR does not record T); "
                                 "pass --timesteps")
            written = save_checkpoint(out.with_suffix(".pt"), to_student(
                net, timesteps=timesteps, drop_output_neuron=drop_output_neuron))
    return lines, written
