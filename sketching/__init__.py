"""MROSS multi-round region-based scene sketching (docstring completed below)."""
