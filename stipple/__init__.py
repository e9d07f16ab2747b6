"""Deep stippling (see the full docstring once the network lands)."""
