"""Stippling tests run single-threaded: their tensors are small, and on a shared 2-core machine intra-op
threads cost far more than they save (measured: 80 s vs 3.5 s for test_stipplers.py under load)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
