"""CNP compositor."""
