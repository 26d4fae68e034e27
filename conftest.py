"""Loaded first by ``pytest tests sim``: under pytest-xdist (``make test`` runs two workers)
each worker builds its simulation models in its own ``build/sim/<worker>/``, so two workers
never compile into one folder. Set before any test module imports the testbench."""

import os
from pathlib import Path

_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER and "SPIKEFAB_SIM_BUILD" not in os.environ:
    os.environ["SPIKEFAB_SIM_BUILD"] = str(Path(__file__).parent / "build" / "sim" / _WORKER)
