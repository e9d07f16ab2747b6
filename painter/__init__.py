"""CNP painter (docstring completed below)."""
