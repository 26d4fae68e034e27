"""``python -m spikefab_hdl <command>``: the gateware commands of :mod:`spikefab_hdl.build.cli`."""

import sys

from .build.cli import main

if __name__ == "__main__":
    sys.exit(main())
