"""Fixtures of losskit's Python tests; the shared helpers are in ``helpers.py``."""

from __future__ import annotations

import losskit
import numpy as np
import pytest
import torch


@pytest.fixture
def restore_threads():
    """Restores losskit's thread count after a test that changes it."""
    before = losskit.get_num_threads()
    yield before
    losskit.set_num_threads(before)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same NumPy and torch seeds."""
    np.random.seed(0)
    torch.manual_seed(0)
    yield
