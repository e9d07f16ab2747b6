"""LineRelifer in PyTorch (docstring filled in below)."""
