"""The LIF time loop in C: ``lif_native.c``, built with the system C compiler on first use.

The eager kernel of ``snn.fused`` issues about five PyTorch operations per step forward and
eight backward; on a hidden layer of a few thousand neurons each costs more in dispatch than
in arithmetic (the MNIST MLP's 64 x 128 layer at ``T = 4``: 380 us per forward + backward,
against 95 us here). The C kernel runs the same recurrence in one call per direction with the
very same floating-point operations in the same order (``-ffp-contract=off``: no fused
multiply-add), so it equals the eager kernel, and the per-step loop, bit for bit.

Build: ``cc -O3 -march=native -ffp-contract=off -shared -fPIC`` (``$CC`` if set), once per
machine and source version, into ``$SPIKEFAB_CACHE`` (default
``~/.cache/spikefab``), written to a temporary file and renamed. ``lif_sequence`` uses it
for float32 CPU tensors; set ``SPIKEFAB_NATIVE=0`` to use the eager kernel. Without a C
compiler, or when it fails (its output goes to ``lif_native_<key>.log`` beside the
library), ``available()`` is False, ``lif_sequence`` warns once (one line naming the
compiler, its exit status and the log) and runs the eager kernel, and ``require()`` raises
that line.

Threads: the neurons are split into ``torch.get_num_threads()`` contiguous ranges when a call
has at least ``PARALLEL_MIN`` neuron-steps; ``ctypes`` releases the GIL, so the ranges run
in parallel.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from ..toolchain import ToolchainError, ToolError, cache_dir

__all__ = ["PARALLEL_MIN", "available", "backward", "forward", "require", "usable"]

SOURCE = Path(__file__).with_name("lif_native.c")
FLAGS = ("-O3", "-ffp-contract=off", "-fno-fast-math", "-fPIC", "-shared")
#: Neuron-steps from which a call is split across torch's intra-op threads.
PARALLEL_MIN = 1 << 18
_state: dict = {}


def _cache_dir() -> Path:
    return cache_dir() / "native"


def _cpu_id() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return platform.processor()


def _build() -> Path:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise ToolchainError("no C compiler: neither $CC nor cc/gcc is on PATH")
    src = SOURCE.read_bytes()
    key = hashlib.sha256(src + " ".join((cc, *FLAGS, platform.machine(), _cpu_id()))
                         .encode()).hexdigest()[:16]
    out = _cache_dir() / f"lif_native_{key}.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".lif_native.", suffix=".so", dir=out.parent)
    os.close(fd)
    log = out.with_suffix(".log")
    text = []
    try:
        for march in (["-march=native"], []):  # some compilers lack -march=native
            cmd = [cc, *FLAGS, *march, "-o", tmp, str(SOURCE), "-lm"]
            try:
                run = subprocess.run(cmd, capture_output=True, text=True)
            except OSError as e:
                raise ToolchainError(f"C compiler {cc!r} cannot be run ({e.strerror})") from None
            if run.returncode == 0:
                os.replace(tmp, out)
                log.unlink(missing_ok=True)
                return out
            text.append(f"$ {' '.join(cmd)}\n{run.stdout}{run.stderr}[exit {run.returncode}]\n")
        log.write_text("".join(text))
        raise ToolError(Path(cc).name, f"build of {SOURCE.name}", exit_code=run.returncode,
                        log=log)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load():
    if "lib" not in _state:
        _state["lib"], _state["error"] = None, None
        try:
            lib = ctypes.CDLL(str(_build()))
            P, L, F, Int = ctypes.c_void_p, ctypes.c_long, ctypes.c_float, ctypes.c_int
            lib.sf_lif_forward.argtypes = (P, Int, L, L, L, F, F, Int, P, P, P, P)
            lib.sf_lif_backward.argtypes = (P, P, P, L, L, L, F, F, F, Int, P, P, P)
            lib.sf_lif_forward.restype = lib.sf_lif_backward.restype = None
            _state["lib"] = lib
        except (OSError, RuntimeError) as e:  # ToolError, ToolchainError, a bad library
            _state["error"] = str(e)
    return _state["lib"]


def available() -> bool:
    """Whether the C kernel is built and loaded (builds it on the first call)."""
    return _load() is not None


def require() -> None:
    """Raise a one-line ``RuntimeError`` if the C kernel cannot be built or loaded."""
    if not available():
        raise RuntimeError(f"spikefab's native LIF kernel is unavailable: {_state['error']}")


def usable(current: torch.Tensor) -> bool:
    """True when ``lif_sequence`` runs ``current`` on the C kernel: a float32 CPU tensor, the
    kernel built, and ``SPIKEFAB_NATIVE`` not ``0``."""
    if current.dtype != torch.float32 or current.device.type != "cpu":
        return False
    if os.environ.get("SPIKEFAB_NATIVE", "1") == "0":
        return False
    if available():
        return True
    if not _state.get("warned"):
        _state["warned"] = True
        warnings.warn(f"spikefab: using the eager LIF kernel (same results, slower): "
                      f"{_state['error']}", RuntimeWarning, stacklevel=3)
    return False


def _ranges(n: int, steps: int):
    threads = torch.get_num_threads()
    if threads <= 1 or n * steps < PARALLEL_MIN:
        return [(0, n)]
    size = -(-n // threads)
    size = -(-size // 16) * 16  # whole 64-byte lines per range
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def _run(fn, ranges):
    if len(ranges) == 1:
        fn(*ranges[0])
        return
    pool, size = _state.get("pool"), _state.get("pool_size", 0)
    if pool is None or size < len(ranges):
        if pool is not None:
            pool.shutdown()
        pool = _state["pool"] = ThreadPoolExecutor(len(ranges), "spikefab-lif")
        _state["pool_size"] = len(ranges)
    for f in [pool.submit(fn, a, b) for a, b in ranges]:
        f.result()


def forward(cur: torch.Tensor, steps: int, beta: float, theta: float, zero: bool, const: bool):
    """``(spikes, v - theta, v before the reset or None)``, each ``[steps, ...]``."""
    lib = _load()
    cur = cur.contiguous()
    shape = cur.shape if const else cur.shape[1:]
    n = cur[0].numel() if not const else cur.numel()
    spk = cur.new_empty((steps, *shape))
    xs = cur.new_empty((steps, *shape))
    vs = cur.new_empty((steps, *shape)) if zero else None
    v = cur.new_empty(n)
    fp = 4  # bytes per float32

    def part(a, b):
        lib.sf_lif_forward(cur.data_ptr() + a * fp, int(const), steps, b - a, n, beta, theta,
                           int(zero), spk.data_ptr() + a * fp, xs.data_ptr() + a * fp,
                           vs.data_ptr() + a * fp if zero else None, v.data_ptr() + a * fp)

    _run(part, _ranges(n, steps))
    return spk, xs, vs


def backward(grad_s: torch.Tensor, xs: torch.Tensor, vs, beta: float, theta: float,
             slope: float, const: bool) -> torch.Tensor:
    """Gradient with respect to the current (``[...]`` summed over steps when ``const``)."""
    lib = _load()
    grad_s = grad_s.contiguous()
    steps = xs.shape[0]
    n = xs[0].numel()
    grad = xs.new_empty(xs.shape[1:] if const else xs.shape)
    gv, gvp = xs.new_empty(n), xs.new_empty(n)
    fp = 4

    def part(a, b):
        lib.sf_lif_backward(grad_s.data_ptr() + a * fp, xs.data_ptr() + a * fp,
                            vs.data_ptr() + a * fp if vs is not None else None, steps, b - a, n,
                            beta, theta, slope, int(const), grad.data_ptr() + a * fp,
                            gv.data_ptr() + a * fp, gvp.data_ptr() + a * fp)

    _run(part, _ranges(n, steps))
    return grad
