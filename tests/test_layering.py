"""Dependencies point one way (DESIGN §1, docs/architecture.md), and there is no import circle.

Every ``import`` in ``python/spikefab`` and ``hdl/spikefab_hdl`` is read from the source
(those inside functions too: a lazy import is still a dependency) and mapped to its unit:
a top-level module or sub-package such as ``spikefab.golden`` or ``spikefab_hdl.core``.
An import may only point to a unit of a lower layer in :data:`SOFTWARE` or :data:`GATEWARE`;
the gateware may import only the software units listed in :data:`GATEWARE_USES`.
"""

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"spikefab": ROOT / "python" / "spikefab", "spikefab_hdl": ROOT / "hdl" / "spikefab_hdl"}

#: Software layers, lowest first; a unit imports only units of lower layers.
SOFTWARE = [
    {"fixed", "atomic", "toolchain"},
    {"neuron"},
    {"conv"},
    {"spec"},
    {"ir"},
    {"golden", "protocol", "data"},
    {"snn", "driver"},
    {"train", "nirgraph"},
    {"distill", "quant"},
    {"trained", "report", "snntorch_models"},
    {"run"},
    {"cli", "demo", "__init__"},
    {"__main__"},
]
#: Gateware layers: core <- board <- build <- sim, formal; the package root and __main__ on
#: top.
GATEWARE = [{"core"}, {"board"}, {"build"}, {"sim", "formal"}, {"__main__", "__init__"}]
#: The software units each gateware unit may import (never torch-side ones).
GATEWARE_USES = {
    "core": {"fixed", "neuron", "conv", "spec", "ir"},
    "board": {"fixed", "neuron", "spec", "ir", "protocol"},
    "build": {"fixed", "neuron", "spec", "ir", "protocol", "atomic", "toolchain"},
    "sim": {"fixed", "neuron", "spec", "ir", "protocol", "atomic", "toolchain", "golden",
            "driver"},
    "formal": {"fixed", "neuron", "spec", "ir", "protocol", "atomic", "toolchain"},
    "__main__": set(),
    "__init__": set(),
}
#: Software units that may import the gateware (the pipeline's hardware steps, the demo).
SOFTWARE_USES_GATEWARE = {"run", "demo"}


def modules() -> dict[str, Path]:
    out = {}
    for name, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = [name, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__" and len(parts) > 2:
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports(mod: str, path: Path, known) -> set[str]:
    """Modules of our packages that ``mod`` imports anywhere in its source."""
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n in known and n != mod}
    return found


def unit(mod: str) -> tuple[str, str]:
    parts = mod.split(".")
    return parts[0], parts[1] if len(parts) > 1 else "__init__"


def layer_of(root: str, name: str) -> int:
    layers = SOFTWARE if root == "spikefab" else GATEWARE
    for i, units in enumerate(layers):
        if name in units:
            return i
    raise AssertionError(f"{root}.{name} is in no layer of tests/test_layering.py: add it")


def violations(edges) -> list[str]:
    """Every ``(importer, imported)`` module pair that runs against the layers."""
    bad = []
    for a, b in sorted(edges):
        (ra, ua), (rb, ub) = unit(a), unit(b)
        if (ra, ua) == (rb, ub):
            continue
        if ra == rb and layer_of(ra, ua) <= layer_of(rb, ub):
            bad.append(f"{a} imports {b}: {ra}.{ua} may only import lower layers")
        elif ra == "spikefab_hdl" and rb == "spikefab" and ub not in GATEWARE_USES[ua]:
            bad.append(f"{a} imports {b}: spikefab_hdl.{ua} may not use spikefab.{ub}")
        elif ra == "spikefab" and rb == "spikefab_hdl" and ua not in SOFTWARE_USES_GATEWARE:
            bad.append(f"{a} imports {b}: only {sorted(SOFTWARE_USES_GATEWARE)} use the gateware")
    return bad


def all_edges() -> set[tuple[str, str]]:
    mods = modules()
    return {(m, t) for m, p in mods.items() for t in imports(m, p, mods)}


def test_every_unit_is_in_a_layer():
    for mod in modules():
        layer_of(*unit(mod))


def test_imports_point_down_the_layers():
    assert violations(all_edges()) == []


def test_the_check_catches_wrong_directions():
    """The check bites: core importing sim or build, golden pulling torch-side code, the
    software reaching into the gateware, and a same-layer import are all reported."""
    planted = {
        ("spikefab_hdl.core.lif", "spikefab_hdl.sim.pysim"),
        ("spikefab_hdl.core.layer", "spikefab_hdl.build.verilog"),
        ("spikefab_hdl.board.top", "spikefab_hdl.sim.verilator"),
        ("spikefab.golden.network", "spikefab.snn.mlp"),
        ("spikefab.golden.network", "spikefab.data.encode"),
        ("spikefab.quant.ptq", "spikefab_hdl.build.verilog"),
        ("spikefab_hdl.core.plan", "spikefab.train.loop"),
        ("spikefab.snn.mlp", "spikefab.demo"),
    }
    assert len(violations(planted)) == len(planted)
    assert violations({("spikefab_hdl.sim.rtlsim", "spikefab_hdl.core.plan")}) == []


def test_no_import_circle():
    """No module reaches itself through imports (lazy ones included)."""
    graph = defaultdict(set)
    for a, b in all_edges():
        if not a.startswith(b + "."):  # a submodule may name its own package
            graph[a].add(b)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    state: dict[str, int] = {}
    cycles = []

    def visit(v, path):
        state[v] = 1
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                cycles.append(path[path.index(w):] + [w])
            elif w not in state:
                visit(w, path + [w])
        state[v] = 2

    for v in sorted(modules()):
        if v not in state:
            visit(v, [v])
    assert cycles == []
