"""``spikefab nir export|import``: NIR graphs of a run, and NIR graphs into spikefab.

Thin wrappers over ``spikefab.nirgraph`` (docs/nir.md): ``export_run`` writes the run's
IR (``export_quantized``) and float student (``export_student``) as ``.nir`` files;
``import_file`` reads a graph under explicit modes and saves it as an IR (a graph spikefab
wrote, bit for bit) or as a float student checkpoint (any supported graph).
"""

from __future__ import annotations

from pathlib import Path

from ..ir import QuantizedNetwork

__all__ = ["export_run", "import_file"]


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


def import_file(path, profile: str | None, out=None, timesteps: int | None = None,
                drop_output_neuron: bool = False) -> tuple[list[str], Path | None]:
    """Import the graph at ``path``; returns (one line per layer, the file written or None).

    ``profile`` names the import modes (``"snntorch"``, ``"norse"``, ``"norse-dev"``); None
    only for graphs spikefab wrote. With ``out`` (a path stem): a spikefab IR graph
    becomes ``<out>.{json,npz}``; any other graph a float student checkpoint ``<out>.pt``
    with ``timesteps`` steps (required unless spikefab wrote the graph: NIR has no T) and,
    with ``drop_output_neuron``, the last layer's neuron removed (``to_student``).
    """
    from ..nirgraph import import_nir, to_quantized, to_student

    if timesteps is not None and (isinstance(timesteps, bool) or not isinstance(timesteps, int)
                                  or timesteps < 1):
        raise ValueError(f"timesteps = {timesteps!r}: must be an integer >= 1")
    net = import_nir(path, profile)
    lines = [f"L{i}: {la.dense} {la.n_in}->{la.n_out}"
             + (f", {la.kind} reset {la.reset}" if la.spiking else
                f", {la.kind or 'readout'}")
             for i, la in enumerate(net.layers)]
    lines.append(f"modes: dt {net.modes.dt}, reset {net.modes.reset}, "
                 f"threshold {net.modes.threshold}")
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
