"""Run directories, TOML configs and the resumable pipeline behind the ``spikefab`` command.

``load_config(path)`` validates a config; ``RunDir`` is ``<run.dir>/<run.name>/``;
``run_pipeline`` / ``run_one`` run the steps (``pipeline.STEP_NAMES``) and resume from the
last completed one. Reference: ``docs/cli.md``.
"""

from .config import BOARDS, DISTILL_METHODS, SCHEMA, check_config, load_config
from .pipeline import STEP_NAMES, Context, StepFailed, run_one, run_pipeline
from .rundir import RunDir

__all__ = [
    "BOARDS",
    "DISTILL_METHODS",
    "SCHEMA",
    "STEP_NAMES",
    "Context",
    "RunDir",
    "StepFailed",
    "check_config",
    "load_config",
    "run_one",
    "run_pipeline",
]
