"""``python -m spikefab`` is the ``spikefab`` command (``spikefab.cli``)."""

import sys

from .cli import main

sys.exit(main())
