"""``python -m spikeforge`` is the ``spikeforge`` command (``spikeforge.cli``)."""

import sys

from .cli import main

sys.exit(main())
