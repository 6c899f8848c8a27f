"""Shared fixtures: a seeded generator so every test is deterministic.

Under pytest-xdist each worker gets one torch thread: two workers with two threads each on a
2-core machine oversubscribe the cores and slow the L-BFGS tests several-fold. ``numerics`` is
imported before torch so that torch's OpenMP threads sleep while they wait
(``OMP_WAIT_POLICY=PASSIVE``, see ``numerics/__init__.py``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import cbn.numerics  # noqa: F401  (imported before torch: it sets the OpenMP wait policy)

if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20241123)
