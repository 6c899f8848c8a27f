"""Shared fixtures: a seeded generator so every test is deterministic."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20241123)
