"""The rising weight-decay path (:mod:`cbn.numerics.search.rising`): kept counts, settings, and
the bottleneck it finds on the shape-times-pattern autoencoder from a random start."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cbn.numerics.fourier import filters_from_multipliers
from cbn.numerics.inputs import InputError
from cbn.numerics.search import Architecture
from cbn.numerics.search.rising import RisingSettings, read_stage, rising_ridge_path
from cbn.numerics.targets import get_target


def _diagonal_filters(values: dict[int, tuple[float, float]], d: int = 8) -> np.ndarray:
    """A 2 -> 2 filter whose multiplier at ``m`` and ``-m`` is ``diag(values[m])``."""
    mult = np.zeros((d, 2, 2), dtype=np.complex128)
    for m, (a, b) in values.items():
        mult[m % d] = mult[-m % d] = np.diag([a, b])
    return filters_from_multipliers(mult)


def test_read_stage_counts_singular_values_above_rel_of_the_layer_max():
    # singular values by construction: m = 0: (1, 0.05); m = +-1: (0.5, 0.2); m = +-2: 0.09
    filters = [_diagonal_filters({0: (1.0, 0.05), 1: (0.5, 0.2), 2: (0.09, 0.0)})]
    stage = read_stage(filters, lam=1e-3, residual_rel=0.5, norm_sq=2.0, iterations=7, rel=0.1)
    # split 0.1 * 1.0: m = 0 keeps 1, m = +-1 keep 2 each, m = +-2 (0.09) and the rest 0
    np.testing.assert_array_equal(stage.counts[0], [1, 2, 0, 0, 0, 0, 0, 2])
    # values pass an inverse FFT and an SVD: round-off ~1e-16, 1e-12 is far below any split
    assert stage.smallest_kept[0] == pytest.approx(0.2, abs=1e-12)
    assert stage.largest_dropped[0] == pytest.approx(0.09, abs=1e-12)
    assert stage.top[0][0] == pytest.approx(1.0, abs=1e-12)
    # the split is relative: at rel 0.06 the m = 0 value 0.05 stays dropped, +-2 (0.09) kept
    wider = read_stage(filters, 1e-3, 0.5, 2.0, 7, rel=0.06)
    np.testing.assert_array_equal(wider.counts[0], [1, 2, 1, 0, 0, 0, 1, 2])
    assert stage.to_dict()["kept_total"] == [5]


@pytest.mark.parametrize("kw", [{"lam_min": 0.0}, {"lam_min": 1e-2, "lam_max": 1e-3},
                                {"stages": 0}, {"stage_iter": 0}, {"rel": 1.0},
                                {"lam_max": float("inf")}])
def test_settings_reject_bad_values(kw):
    with pytest.raises(InputError):
        RisingSettings(**kw)


def test_lams_rise_geometrically():
    lams = RisingSettings(lam_min=1e-4, lam_max=1e-2, stages=3).lams()
    np.testing.assert_allclose(lams, [1e-4, 1e-3, 1e-2], rtol=1e-12)


def test_head_architecture_is_rejected():
    X = np.ones((2, 1, 4))
    with pytest.raises(InputError, match="pooling head"):
        rising_ridge_path(X, np.array([0, 1]), Architecture.uniform(2, 2, head_classes=2),
                          RisingSettings(stages=1, stage_iter=1))


def test_read_stage_keeps_nothing_of_a_collapsed_layer():
    # a layer the penalty drove to ~1e-9: relative to its own max it would keep everything
    filters = [_diagonal_filters({m: (1e-9, 5e-10) for m in range(5)})]
    stage = read_stage(filters, 1e-2, 0.45, 1e-17, 3, rel=0.1)
    assert stage.counts[0].sum() == 0 and np.isnan(stage.smallest_kept[0])
    # records are strict JSON (the result store refuses NaN)
    assert json.loads(json.dumps(stage.to_dict(), allow_nan=False))["smallest_kept"] == [None]


def test_a_dead_start_is_skipped_for_the_next_seed():
    """Seed 2 of the width-4 depth-6 shape x pattern net has a hidden layer that is zero on
    every sample (measured); the path starts from seed 3 and says so."""
    X = get_target("shape_pattern_ae", spatial=(16,), K=1, T=4).sample(32, 2)
    run = rising_ridge_path(X, X, Architecture.uniform(6, 4),
                            RisingSettings(lam_min=1e-4, lam_max=1e-4, stages=1,
                                           stage_iter=50), seed=2)
    assert run.skipped_seeds == (2,) and run.seed == 3
    assert run.stages[0].residual_rel < 0.45  # seed 2's dead net stays at 0.450 (constant)


def test_path_is_deterministic():
    X = np.random.default_rng(0).uniform(0, 1, (6, 1, 8))
    settings = RisingSettings(lam_min=1e-4, lam_max=1e-3, stages=2, stage_iter=15)
    a = rising_ridge_path(X, X, Architecture.uniform(3, 2), settings, seed=3)
    b = rising_ridge_path(X, X, Architecture.uniform(3, 2), settings, seed=3)
    assert [s.to_dict() for s in a.stages] == [s.to_dict() for s in b.stages]
    assert a.seed == b.seed


def test_rising_path_keeps_only_the_shape_and_pattern_frequencies():
    """From a random start (seed 1; the tasks figure uses seed 0), a stage that fits the data
    keeps in every middle layer only frequencies of the factorisation (shape |m| <= 1,
    pattern multiples of 4) and at most R0's bound 7 singular values, while the first stage
    (lam 1e-5, the net has just fitted) carries frequencies outside that set: the rise of lam
    is what removes them."""
    target = get_target("shape_pattern_ae", spatial=(16,), K=1, T=4)
    allowed = target.factorization().projectors.real.diagonal(axis1=-2, axis2=-1).sum(-1) > 0
    X = target.sample(32, 1)
    run = rising_ridge_path(X, X, Architecture.uniform(6, 4),
                            RisingSettings(lam_min=1e-5, lam_max=1e-2, stages=7,
                                           stage_iter=300), seed=1)
    path = run.stages

    def outside(stage) -> int:
        return max(int(np.sum((stage.counts[j] > 0) & ~allowed)) for j in stage.middle_layers())

    assert outside(path[0]) > 0
    # 0.1: the figure's fit criterion (FIT_RTOL of the tasks recipe, reasons there)
    good = [s for s in path if s.residual_rel <= 0.1 and outside(s) == 0 and all(
        s.counts[j].sum() <= target.r0_upper_bound() for j in s.middle_layers())]
    assert good, [(s.lam, s.residual_rel, outside(s)) for s in path]
    # the split is clear there: kept values at least 3x the largest dropped one
    s = good[-1]
    assert all(s.smallest_kept[j] > 3 * s.largest_dropped[j] for j in s.middle_layers())
    # the same L-BFGS budget spent at the last lam from the random start ends at the zero
    # network (measured norm 0.54, all biases), where the path still fits to ~0.2
    direct = rising_ridge_path(X, X, Architecture.uniform(6, 4),
                               RisingSettings(lam_min=1e-2, lam_max=1e-2, stages=1,
                                              stage_iter=7 * 300), seed=1).stages[0]
    assert sum(c.sum() for c in direct.counts) == 0 and direct.residual_rel > 0.4
    assert path[-1].residual_rel < 0.3 and all(path[-1].counts[j].sum() > 0
                                                for j in path[-1].middle_layers())
