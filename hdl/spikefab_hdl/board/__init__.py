"""Around the core on a board: UART, protocol framing, stream adapters, board tops and the
board definitions. Imports ``core`` and ``spikefab.protocol``; never ``build`` or ``sim``."""
