"""One proof to run: what it proves, how its harness is built, mode, depth and solver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Proof"]


@dataclass(frozen=True)
class Proof:
    """One SymbiYosys run: ``harness()`` builds its top (a :class:`~.checks.Harness`).

    Attributes
    ----------
    name : str
        ``layer0.neuron`` (``layer0+2.neuron`` when layers share it).
    what : str
        What it proves, in a few words.
    harness : callable
        Builds the harness (fresh for every run).
    mode : str
        ``prove`` (unbounded: depth 1 for a combinational harness, else k-induction),
        ``bmc`` or ``cover``.
    depth : int
    solver : str, optional
        The solver measured fastest for this kind of proof (default :data:`.sby.DEFAULT_SOLVER`).
    memory_map : bool
        Memories become flip-flops before the solver sees them (no proof asks for it now;
        the queue's induction did at k = 3).
    """

    name: str
    what: str
    harness: Callable
    mode: str
    depth: int
    solver: str | None = None
    memory_map: bool = False
