"""Shared fixtures: a seeded generator so every test is deterministic.

Under pytest-xdist each worker gets one torch thread: two workers with two threads each on a
2-core machine oversubscribe the cores and slow the L-BFGS tests several-fold.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20241123)
