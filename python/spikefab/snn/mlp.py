"""SpikingMLP: dense LIF layers and a readout, in floats (DESIGN §2 and its extensions).

For t = 0 ... T-1, hidden layer l computes ``I = W_l h + b_l`` from the previous layer's
spikes of the same step and runs its neuron step (``snn.lif``); the last layer is a readout
whose per-step logits are its current ``I`` (``readout="current"``, v1) or, with
``readout="spikes"``, the spikes of its own LIF neurons (spike-count vote). The prediction
is ``argmax(logits.sum(0))``, ties to the lowest index. The neuron modes (any ``beta``,
``threshold="gt"``, ``reset="subtract-delayed"``, a cuba synapse ``alpha``) are the same for
every layer.
Input is ``[B, n_in]`` (direct encoding: the same x every step) or ``[T, B, n_in]``
(spikes). ``engine`` picks the time loop (``snn.fused``): ``"fused"`` (default) runs the
network layer by layer with one autograd node per LIF layer, ``"compiled"`` the same through
``torch.compile``, ``"loop"`` the plain per-step Python loop below. The fused kernels
implement threshold ``ge`` and resets subtract / zero without a synapse (any ``beta``, either
readout); a model with another mode runs the loop whatever its engine. For the same currents,
spikes, membranes and logits are the same bit for bit; the layer-major engines call each
``nn.Linear`` once over ``T * B`` rows, which BLAS may sum in another order than ``T`` calls
(``docs/speed.md``, "Exactness"); parameter gradients differ in summation order.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..spec import READOUTS
from .fused import check_engine, mlp_forward
from .lif import LIF, _f32, check_neuron_args, check_timesteps
from .qargs import _check_sizes
from .surrogate import SLOPE

__all__ = ["SpikingMLP"]


class SpikingMLP(nn.Module):
    """Float spiking MLP ``sizes[0] -> ... -> sizes[-1]``.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, classes last (e.g. ``(64, 128, 10)``).
    timesteps : int
        Steps ``T`` per sample. In [1, 1024].
    leak_shift : int or None
        Integer leak ``k``; the float decay is ``beta = 1 - 2**-k`` (None: no leak).
    theta : float
        Positive firing threshold shared by all hidden layers.
    reset : str
        ``"subtract"``, ``"zero"`` or ``"subtract-delayed"`` (snnTorch's default).
    slope : float
        Surrogate gradient slope (``snn.surrogate``).
    engine : str
        ``"fused"``, ``"compiled"`` or ``"loop"`` (see the module docstring); may be changed
        after construction.
    beta : float, optional
        Any membrane decay in [0, 1] instead of ``leak_shift`` (which must then be None).
    threshold : str
        ``"ge"`` (fire at ``v >= theta``) or ``"gt"`` (``v > theta``: snnTorch, Norse, NIR).
    alpha : float, optional
        Decay of a current-based synapse (cuba: snnTorch ``Synaptic``, Norse ``LIFCell``).
    readout : str
        ``"current"`` or ``"spikes"`` (see ``READOUTS``).

    Attributes
    ----------
    fcs : nn.ModuleList of nn.Linear
        The dense layers, hidden ones first, readout last (export reads these).
    lifs : nn.ModuleList of LIF
        One neuron stage per hidden layer.
    readout_lif : LIF or None
        The readout's neurons with ``readout="spikes"``.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        timesteps: int = 4,
        leak_shift: int | None = 3,
        theta: float = 1.0,
        reset: str = "subtract",
        slope: float = SLOPE,
        engine: str = "fused",
        beta: float | None = None,
        threshold: str = "ge",
        alpha: float | None = None,
        readout: str = "current",
    ):
        super().__init__()
        self.sizes = _check_sizes("SpikingMLP", sizes)
        self.engine = check_engine("SpikingMLP", engine)
        timesteps = check_timesteps("SpikingMLP", timesteps)
        leak_shift = check_neuron_args("SpikingMLP", theta=theta, reset=reset,
                                       leak_shift=leak_shift, beta=beta, threshold=threshold,
                                       alpha=alpha)
        if readout not in READOUTS:
            allowed = ", ".join(repr(r) for r in READOUTS)
            raise ValueError(f"SpikingMLP readout must be one of {allowed}, not {readout!r}")
        self.timesteps = timesteps
        self.leak_shift = leak_shift
        self.theta = float(theta)
        self.reset = reset
        self.beta = None if beta is None else _f32(beta)
        self.threshold = threshold
        self.alpha = None if alpha is None else _f32(alpha)
        self.readout = readout
        self.fcs = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=True)
        )

        def lif():
            return LIF(leak_shift=leak_shift, theta=theta, reset=reset, slope=slope, beta=beta,
                       threshold=threshold, alpha=alpha)

        self.lifs = nn.ModuleList(lif() for _ in self.sizes[1:-1])
        self.readout_lif = lif() if readout == "spikes" else None

    def neuron_args(self) -> dict:
        """The constructor's neuron arguments that differ from semantics v1's defaults
        (``beta``, ``threshold``, ``alpha``, ``readout``): what a checkpoint records."""
        out = {}
        if self.beta is not None:
            out["beta"] = self.beta
        if self.threshold != "ge":
            out["threshold"] = self.threshold
        if self.alpha is not None:
            out["alpha"] = self.alpha
        if self.readout != "current":
            out["readout"] = self.readout
        return out

    @property
    def spiking_lifs(self) -> list:
        """Every neuron stage: the hidden ones, then the readout's with ``readout="spikes"``."""
        return [*self.lifs, *([self.readout_lif] if self.readout_lif is not None else [])]

    @property
    def n_in(self) -> int:
        return self.sizes[0]

    @property
    def n_classes(self) -> int:
        return self.sizes[-1]

    def _check_input(self, x) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SpikingMLP input must be a torch.Tensor, not {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"SpikingMLP input must be floating point, not {x.dtype}")
        direct = x.ndim == 2 and x.shape[1] == self.n_in
        spikes = x.ndim == 3 and x.shape[0] == self.timesteps and x.shape[2] == self.n_in
        if not (direct or spikes):
            raise ValueError(
                f"SpikingMLP input must have shape [B, {self.n_in}] or "
                f"[{self.timesteps}, B, {self.n_in}], not {list(x.shape)}"
            )
        return x

    def forward(self, x: torch.Tensor, return_hidden: bool = False):
        """Run ``T`` steps.

        Returns
        -------
        logits : torch.Tensor ``[T, B, C]``
            Readout current at every step (its spikes with ``readout="spikes"``).
        hidden : list of torch.Tensor ``[T, B, n]`` (only with ``return_hidden=True``)
            Spikes of each hidden layer.
        """
        x = self._check_input(x)
        engine = check_engine("SpikingMLP", self.engine)
        if engine != "loop" and all(lif.v1 for lif in self.spiking_lifs):
            return mlp_forward(self, x, return_hidden)
        batch = x.shape[0] if x.ndim == 2 else x.shape[1]
        states = [lif.init_state(x.new_zeros(batch, n))
                  for lif, n in zip(self.spiking_lifs, self.sizes[1:], strict=False)]
        logits, hidden = [], [[] for _ in self.lifs]
        # direct input: the first layer's current is the same at every step
        first = self.fcs[0](x) if x.ndim == 2 else None
        for t in range(self.timesteps):
            cur = first if first is not None else self.fcs[0](x[t])
            for i, lif in enumerate(self.lifs):
                h, states[i] = lif.step(cur, states[i])
                hidden[i].append(h)
                cur = self.fcs[i + 1](h)
            if self.readout_lif is not None:
                cur, states[-1] = self.readout_lif.step(cur, states[-1])
            logits.append(cur)
        out = torch.stack(logits)
        if return_hidden:
            return out, [torch.stack(s) for s in hidden]
        return out

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """``argmax`` over classes of the logits summed over time, ``[B]`` int64."""
        with torch.no_grad():
            return self(x).sum(0).argmax(1)
