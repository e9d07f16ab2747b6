"""Stippling tests run single-threaded: their tensors are small, and on a shared 2-core machine intra-op
threads cost far more than they save (measured: 80 s vs 3.5 s for test_stipplers.py under load)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every stippling test takes the suite's ``one_thread`` fixture (tests/conftest.py)."""
    yield
