"""Where the adder tree of a layer taking ``K``-wide chunks (spike masks or pixel chunks,
:mod:`.lanes`) is registered.

Each lane sums its ``K`` terms pairwise in ``ceil(log2 K)`` levels. The tree is registered
in the fewest stages of at most ``tree_levels`` levels each
(:attr:`.plan.LayerPlan.tree_levels`), the levels spread evenly over them (later stages,
whose inputs are not behind the mask's multiplexers, take the odd one): ``K = 64`` at 3
levels a stage is 3 + 3, at 2 levels 2 + 2 + 2. Every stage costs one cycle per step in
the layer's pipeline (:func:`spikefab_hdl.sim.bound.step_latency`). :data:`TREE_LEVELS` by
default; :data:`FAST_TREE_LEVELS` on ECP5 builds (``plan_core(bram_outreg=...)``), where
a 64 x 16 tree of three levels limited the MNIST build to 82 MHz (docs/hardware.md).
"""

from __future__ import annotations

__all__ = ["TREE_LEVELS", "FAST_TREE_LEVELS", "tree_schedule", "tree_stages", "tree_levels_for"]

#: Adder-tree levels between two registers by default.
TREE_LEVELS = 3
#: Adder-tree levels between two registers on ECP5 builds.
FAST_TREE_LEVELS = 2


def tree_schedule(k: int, per: int) -> list[int]:
    """The levels each registered stage of a ``k``-input tree adds, at most ``per`` a stage
    (module docstring); one stage of no level for ``k = 1``."""
    levels = (k - 1).bit_length()
    stages = max(1, -(-levels // per))
    return [levels // stages + (i >= stages - levels % stages) for i in range(stages)]


def tree_stages(lp) -> int:
    """Registered tree stages of layer ``lp`` (a LayerPlan): cycles its tree adds to its
    pipeline; 0 without a tree (``mask = 1``)."""
    return len(tree_schedule(lp.mask, lp.tree_levels)) if lp.mask > 1 else 0


def tree_levels_for(value, bram_outreg) -> int:
    """The levels a tree stage may add: ``value``, or for None :data:`FAST_TREE_LEVELS` on an
    ECP5 build (``bram_outreg`` set) and :data:`TREE_LEVELS` otherwise; a one-line
    ValueError unless an integer >= 1."""
    if value is None:
        return FAST_TREE_LEVELS if bram_outreg else TREE_LEVELS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"tree_levels must be an integer >= 1, not {value!r}")
    return value
