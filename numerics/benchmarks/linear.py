"""Closed-form linear cost against the singular values of the dense convolution operator."""

from __future__ import annotations

import numpy as np

from cbn.numerics.benchmarks.result import BenchResult, best_time, machine_note
from cbn.numerics.fourier import dense_operator
from cbn.numerics.linear import analyze_linear_filter

DEPTH = 4


def dense_cost(filters: np.ndarray, depth: int) -> float:
    """``R(A; L)`` from the singular values of the dense operator (scaled convention: the DFT
    is unitary, so those are the union of the per-frequency blocks' singular values)."""
    s = np.linalg.svd(dense_operator(filters), compute_uv=False)
    s = s[s > 1e-8 * s.max()]
    return depth * float(np.sum(s ** (2.0 / depth)))


def run(quick: bool) -> BenchResult:
    """Grid 8x8 with 4 -> 4 channels (quick) or 12x12 with 8 -> 8 (full), depth 4."""
    side, channels = (8, 4) if quick else (12, 8)
    filters = np.random.default_rng(0).standard_normal((channels, channels, side, side))
    t_ours, ours = best_time(lambda: analyze_linear_filter(filters, [DEPTH]).cost[0], 5)
    t_dense, dense = best_time(lambda: dense_cost(filters, DEPTH), 2)
    rel = abs(ours - dense) / dense
    return BenchResult(
        name="linear_closed_form",
        job=f"R(A; L={DEPTH}), {side}x{side} grid, {channels}->{channels} channels",
        baseline="singular values of the dense operator", seconds=t_ours,
        baseline_seconds=t_dense, agreement=f"same cost to {rel:.1e} relative",
        detail={"cost": ours, "dense_cost": dense, "relative_difference": rel,
                "repeats": {"ours": 5, "baseline": 2}},
        machine=machine_note())
