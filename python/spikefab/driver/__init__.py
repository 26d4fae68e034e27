"""Host runtime: the board protocol codec (:mod:`.protocol`) and a software model of the board."""
